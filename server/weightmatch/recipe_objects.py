"""What a recipe calls to make an object of a workspace class (a config object the analysis
followed) with the attributes it knew, without running its `__init__` again: the class's
methods and properties stay, as they were in the user's run. Static inference reads the
same call as an object with those attributes (static/instances.py); the worker runs it."""


def made(cls, /, **attrs):
    obj = object.__new__(cls)
    obj.__dict__.update(attrs)
    return obj
