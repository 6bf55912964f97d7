"""The model worker: builds the model a load_state_dict call is made on, on the meta
device, in a separate process (torch is imported only there).

    client = WorkerClient(python="/path/to/python", timeout=30.0)
    client.start()                      # warm-up in the background
    state = client.build(recipe)        # ExpectedState(how="executed") or BuildError
"""

from weightmatch.worker.client import BuildError, WorkerClient

__all__ = ["BuildError", "WorkerClient"]
