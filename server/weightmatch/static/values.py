"""Abstract values the static evaluator computes with.

Plain Python values (int, float, str, bool, None, tuple, list, dict) stand for
themselves. The classes here stand for what would exist at run time without creating
it: a module under construction, a tensor's shape and dtype, a reference to a torch
layer class, a user class or function, or something unknown.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class StaticUnsupported(Exception):
    """The model cannot be inferred exactly without running code; `reason` says why, for the user."""

    def __init__(self, reason: str, line: int | None = None) -> None:
        self.reason = reason
        self.line = line  # 0-based line in the file where evaluation stopped, when known
        super().__init__(reason)


class MissingAttribute(StaticUnsupported):
    """Python would raise AttributeError: what `getattr(obj, name, default)` and `hasattr`
    catch. Every other StaticUnsupported means "not known", which they must not catch."""


@dataclass(frozen=True)
class Unknown:
    """A value the evaluator could not compute. `plain` means it surely is not a module
    or tensor (a comparison, a number from unknown operands), so storing it is harmless."""

    reason: str
    plain: bool = False


@dataclass
class Tensor:
    shape: tuple[int, ...] | None  # None: uninitialized (lazy)
    dtype: str = "float32"
    param: bool = False  # an nn.Parameter
    origin: Any = None  # (path, call node) of the `nn.Parameter(...)` that made it, in a workspace file
    # the elements of a small 1-D tensor whose values are known (`torch.linspace(0, rate, depth)`,
    # the stochastic-depth rates of timm/ViT blocks), else None; 0-d: one value
    values: tuple | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Dtype:
    name: str  # "float16"


FLOAT_DTYPES = {"float64", "float32", "float16", "bfloat16"}


@dataclass
class Module:
    """One nn.Module instance: mirrors `_parameters`, `_buffers`, `_modules` and the
    instance attributes, with PyTorch's __setattr__ rules applied by the evaluator."""

    type: str  # qualified: "torch.nn.modules.linear.Linear", "__main__.Net"
    name: str  # class name: "Linear"
    params: dict[str, Tensor | None] = field(default_factory=dict)
    buffers: dict[str, Tensor | None] = field(default_factory=dict)
    non_persistent: set[str] = field(default_factory=set)
    modules: dict[str, "Module | None"] = field(default_factory=dict)
    attrs: dict[str, Any] = field(default_factory=dict)
    version: int = 1
    norm_fixup: bool = False
    extra_state: bool = False
    custom_load: bool = False
    drops: tuple[str, ...] = ()  # names its known `_load_from_state_dict` deletes first (ModuleSpec.drops)
    overrides_load: bool = False  # the class defines its own load_state_dict
    kind: str = ""  # "sequential" | "modulelist" | "moduledict" | "parameterlist" | "parameterdict" | ""
    cls: Any = None  # the UserClass for user modules
    initialized: bool = True  # False until nn.Module.__init__ ran (user classes)
    origin: Any = None  # (path, call node) of the call that made it, in a workspace file

    def has_attr(self, name: str) -> bool:
        if name in self.params or name in self.buffers or name in self.modules or name in self.attrs:
            return True
        if name in MODULE_ATTRS:
            return True
        return self.cls is not None and self.cls.lookup(name) is not None


# dir(torch.nn.Module) minus dunders: names every module has as class attributes.
MODULE_ATTRS = frozenset(
    "T_destination _apply _call_impl _compiled_call_impl _get_backward_hooks _get_backward_pre_hooks "
    "_get_name _load_from_state_dict _maybe_warn_non_full_backward_hook _named_members "
    "_register_load_state_dict_pre_hook _register_state_dict_hook _replicate_for_data_parallel "
    "_save_to_state_dict _slow_forward _version _wrapped_call_impl add_module apply bfloat16 buffers "
    "call_super_init children compile cpu cuda double dump_patches eval extra_repr float forward "
    "get_buffer get_extra_state get_parameter get_submodule half ipu load_state_dict modules mtia "
    "named_buffers named_children named_modules named_parameters parameters register_backward_hook "
    "register_buffer register_forward_hook register_forward_pre_hook register_full_backward_hook "
    "register_full_backward_pre_hook register_load_state_dict_post_hook register_load_state_dict_pre_hook "
    "register_module register_parameter register_state_dict_post_hook register_state_dict_pre_hook "
    "requires_grad_ set_extra_state set_submodule share_memory state_dict to to_empty train type xpu "
    "zero_grad training".split()
)


@dataclass
class Namespace:
    """A `types.SimpleNamespace` / `argparse.Namespace`: a config object of known attributes
    (the recipe writes a config the source walk read into one of these)."""

    attrs: dict[str, Any]
    unknown: dict[str, str] = field(default_factory=dict)  # attributes the recipe left out, and why
    argparse: bool = False  # an `argparse.Namespace` (`"dropout" in args` asks for an attribute)
    mapping: bool = False  # a yacs CfgNode (a dict): `cfg["KEY"]`, `"KEY" in cfg` read its attributes


@dataclass(eq=False)
class Instance:
    """An object of a workspace class that is not a module (a config class, a dataclass, a
    Trainer): its class and the attributes its methods set, in the order they set them."""

    cls: Any  # the UserClass
    attrs: dict[str, Any] = field(default_factory=dict)
    frozen: bool = False  # a frozen dataclass once its __init__ has run
    partial: bool = False  # made by a recipe from the attributes the analysis knew (recipe_objects.made)
    unknown: dict[str, str] = field(default_factory=dict)  # of those it left out, why


@dataclass(frozen=True)
class Ref:
    """A name the evaluator knows how to call or look into: "torch", "torch.nn",
    "torch.nn.Linear", "torch.zeros", "builtins.range", "math.sqrt", "torchvision", ..."""

    name: str


@dataclass
class Partial:
    """`functools.partial(nn.LayerNorm, eps=1e-6)`: a callable with arguments bound in front."""

    func: Any
    args: tuple
    kwargs: dict


@dataclass
class BoundMethod:
    """A built-in method of a known value: `self.register_buffer`, `layers.append`."""

    obj: Any
    name: str


def is_plain(value: Any) -> bool:
    """A value made of Python primitives only: safe to compute with directly."""
    if value is None or isinstance(value, (bool, int, float, str, Dtype)):
        return True
    if isinstance(value, (tuple, list)):
        return all(is_plain(v) for v in value)
    return False


def int_like(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def describe(value: Any) -> str:
    """A value in a message: `a `Linear` module`, `a value not known statically`."""
    if isinstance(value, Module):
        return f"a `{value.name}` module"
    if isinstance(value, Unknown):
        return "a value not known statically"
    if isinstance(value, Ref):
        return f"`{value.name}`"
    return f"a `{type(value).__name__}` value"
