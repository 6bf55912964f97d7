"""What a recipe calls to make a config object the analysis followed, with the attributes it
knew: an object of a workspace class whose `__init__` is not run again (its methods and
properties stay, as they were in the user's run), or a namespace. Static inference reads the
same calls (static/instances.py, static/modules.py); the worker runs them. The first argument
says why each attribute left out is not known, for static inference's messages."""

import types


class NotKnownStatically(Exception):
    """Reading an attribute the analysis could not know (not an AttributeError: `getattr(obj,
    name, default)` must not take the default where the user's run has a value)."""


def made(cls, unknown=None, /, **attrs):
    left_out = [k for k in (unknown or {}) if k not in attrs]
    if left_out:  # they hide the class's attributes (a dataclass field's default), as in the user's run
        cls = type(cls.__name__, (cls,), {k: _not_known(k, cls.__name__) for k in left_out})
    obj = object.__new__(cls)
    obj.__dict__.update(attrs)
    return obj


def namespace(unknown=None, /, **attrs):
    """A SimpleNamespace of the known attributes; reading one left out raises NotKnownStatically."""
    left_out = [k for k in (unknown or {}) if k not in attrs]
    if not left_out:
        return types.SimpleNamespace(**attrs)
    cls = type("SimpleNamespace", (types.SimpleNamespace,), {k: _not_known(k, "namespace") for k in left_out})
    return cls(**attrs)


def _not_known(name, owner):
    """An attribute the analysis did not know: reading it raises until the run sets it."""
    def get(self):
        if name in self.__dict__:
            return self.__dict__[name]
        raise NotKnownStatically(f"`{name}` of the `{owner}` object is not known statically")

    def put(self, value):
        self.__dict__[name] = value

    def drop(self):
        self.__dict__.pop(name, None)
    return property(get, put, drop)


def with_attrs(module, /, **attrs):
    """A module made, then given plain attributes (DETR's `backbone.num_channels = 2048` after
    `Joiner(...)`): as the script sets them."""
    for name, value in attrs.items():
        setattr(module, name, value)
    return module


class CfgNode(dict):
    """A yacs `CfgNode` as the recipe writes it: a dict whose keys read as attributes too (HRNet's
    `extra['STAGE1']['NUM_CHANNELS']` beside `config.MODEL.EXTRA`), nested ones the same."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name, value):
        self[name] = value


def cfg_node(items, /):
    return CfgNode(items)
