"""Values read from the checkpoint itself, for the source interpreter: hyper-parameters kept
beside the weights (`GPTConfig(**ckpt["model_args"])`), tensor shapes (`sd["proj.weight"].shape[0]`)
and a saved `argparse.Namespace` (`ckpt["args"].hidden`, one object per place in the file, as
unpickling makes it). Read by the checkpoint reader: no pickle code runs, no tensor bytes are read."""

from __future__ import annotations

from typing import Any

from weightmatch import config_data, recipe_literals
from weightmatch.types import SavedNamespace
from weightmatch.values import At, Const, LoadedFile, ObjVal, SourceVal, Unknown, loaded_files


class CheckpointValuesMixin:
    """Needs `read_value` and `saved_namespaces` (calls.setup_program)."""

    def concrete(self, value: Any, raw: bool = False) -> Any:
        """The checkpoint's own value at `value` (a SourceVal): plain data as a Const (Unknown when it
        is not plain data), or with `raw` the reader's object (a StateDict, a TensorInfo, ...)."""
        if self.read_value is None:
            return Unknown("the checkpoint's contents are not read here")
        try:
            obj = self.read_value(value)
        except Exception as exc:  # noqa: BLE001 - a checkpoint we cannot read is just not known
            return Unknown(_unread(exc))
        if raw:
            return obj
        # (a dict literal the script made is read the same way: its values come from no checkpoint)
        lit = Const(config_data.plain_data(obj), "values read from the checkpoint" if loaded_files(value) else "")
        return lit if recipe_literals.literal(lit) is not None else Unknown("the checkpoint holds more than plain values here")

    def tensor_fact(self, value: Any, what: str, args: list[Any]) -> Any:
        """`sd["proj.weight"].shape[0]`, `.size(1)`: a tensor's shape, read from the checkpoint."""
        info = self.concrete(value, raw=True)
        shape = getattr(info, "shape", None)
        if shape is None:
            return Unknown("a tensor whose shape is not known statically")
        origin = "sizes read from the checkpoint"
        if what == "ndim" or what == "dim":
            return Const(len(shape), origin)
        if what == "size" and args:
            if isinstance(args[0], Const) and isinstance(args[0].value, int) and -len(shape) <= args[0].value < len(shape):
                return Const(shape[args[0].value], origin)
            return Unknown("a dimension not known statically")
        return Const(tuple(shape), origin)

    def saved_namespace(self, value: Any) -> ObjVal | None:
        """The namespace a checkpoint holds at `value` (`torch.save({"args": args, ...})`), as an
        object of known attributes; None when it holds something else or cannot be read."""
        root = value
        while isinstance(root, At):
            root = root.value
        if not isinstance(root, SourceVal) or root.loaded_file() is None:
            return None  # (not read from a checkpoint: a dict the program made, a state dict of a model)
        # one object per place in the checkpoint, as unpickling gives one: `args = ckpt["args"];
        # args.n = 10` is seen by a later `ckpt["args"].n`
        key = _place(value)
        memo = self.saved_namespaces
        if key is not None and key in memo:
            return memo[key][1]
        obj = self.concrete(value, raw=True)
        if not isinstance(obj, SavedNamespace):
            return None
        attrs = {k: Const(config_data.plain_data(v), "values read from the checkpoint") for k, v in obj.attrs.items()
                 if isinstance(k, str)}
        ns = ObjVal({k: v if recipe_literals.literal(v) is not None else Unknown(f"`{k}` of the saved namespace is not plain data")
                     for k, v in attrs.items()}, "the namespace saved in the checkpoint")
        if key is not None:
            memo[key] = (value, ns)  # (the value kept alive: its id is in the key)
        return ns


def _unread(exc: Exception) -> str:
    """Why a value in a checkpoint is not known, in the user's words (the file is not there,
    cannot be read; analyze._CheckpointFailure and keyexpr.Unresolvable say which)."""
    text = str(exc.args[0]) if exc.args and isinstance(exc.args[0], str) else ""
    return text or "the value read from the checkpoint is not known statically"


def _place(value: Any) -> tuple | None:
    """Where in a loaded checkpoint a value is: (the loaded value, its item keys); None when it is
    reached by anything but known items (a copy, a comprehension, a change)."""
    keys: list[Any] = []
    while True:
        if isinstance(value, At):
            value = value.value
        elif isinstance(value, SourceVal) and isinstance(value.base, LoadedFile):
            return id(value), tuple(reversed(keys))
        elif isinstance(value, SourceVal) and len(value.ops) == 1 and value.ops[0].kind == "subscript" and \
                isinstance(value.ops[0].arg, Const) and isinstance(value.ops[0].arg.value, (str, int)):
            keys.append(value.ops[0].arg.value)
            value = value.base
        else:
            return None
