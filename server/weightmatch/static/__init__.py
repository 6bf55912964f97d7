"""The static fallback: a model's expected state inferred from source without running
it (and without importing torch). Exact or nothing: `build_static` either returns an
ExpectedState(how="static") or raises StaticUnsupported with a reason for the user.

Imports go one way, down this list (a module imports only modules below it):

    builder       Recipe -> ExpectedState: runs the recipe's constructor and steps
    interp        Interp: the state of one run, assembled from the mixins below it
      names         name resolution, builtins' names, imports
      statements    assignment, if/for/return/del/with/assert, truth
      expressions   literals, operators (../operators.py), attributes, subscripts, comprehensions
      calling       calls: dispatch, a function's frame, argument binding
    modules       ModuleOps: torch references, instantiating a class, nn.Module.__init__ and
                  __setattr__, assembled from the mixins below it
      pybuiltins    Python's builtins and math
      containers    Sequential / ModuleList / ModuleDict / ParameterList / ParameterDict
      methods       methods called on modules, tensors, lists, dicts and strings
    tensors       tensors without data: factories, attributes, methods, arithmetic
    instances     objects of the workspace's plain classes: attribute lookup (properties,
                  class methods), `__init__` or the one `@dataclass` writes, abstract methods
    copying       `copy.deepcopy` / `copy.copy` of modules, containers and objects
    userdefs      frames, the user's classes (their method order, C3) and functions, limits, the
                  guard around unknown calls;
                  it calls the interpreter back only through the `Evaluator` protocol
    layers        torch layer signatures and what each one holds
    sources       workspace files: reading, parsing, finding modules
    values        abstract values (Module, Tensor, Unknown, Ref, ...)
    cache         StaticCache, used by models.py (not by the modules above)

The mixins call each other through `self` (an Interp, a ModuleOps), never by import.
"""

from .builder import build_static
from .values import StaticUnsupported

__all__ = ["build_static", "StaticUnsupported"]
