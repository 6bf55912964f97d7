"""What a recipe calls to make a config object the analysis followed, with the attributes it
knew: an object of a workspace class whose `__init__` is not run again (its methods and
properties stay, as they were in the user's run), or a namespace. Static inference reads the
same calls (static/instances.py, static/modules.py); the worker runs them. The first argument
says why each attribute left out is not known, for static inference's messages."""

import types


def made(cls, unknown=None, /, **attrs):
    obj = object.__new__(cls)
    obj.__dict__.update(attrs)
    return obj


def namespace(unknown=None, /, **attrs):
    return types.SimpleNamespace(**attrs)
