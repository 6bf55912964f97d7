"""The model worker: builds the model a load_state_dict call is made on, on the meta
device, in a separate process (torch is imported only there).

    client = WorkerClient(python="/path/to/python", timeout=30.0)
    client.start()                      # warm-up in the background
    state = client.build(recipe)        # ExpectedState(how="executed") or BuildError
"""

__all__ = ["BuildError", "WorkerClient"]


def __getattr__(name: str):
    # Lazy: the worker process and the torchvision fallback import this package without
    # needing the client (and its subprocess machinery).
    if name in __all__:
        from weightmatch.worker import client

        return getattr(client, name)
    raise AttributeError(f"module 'weightmatch.worker' has no attribute {name!r}")
