"""The language server: a thin pygls adapter over `weightmatch.project.Project`.

`server.py` owns the lifecycle, settings and one Project per workspace folder;
`documents.py` runs analyses off the event loop; each module in `features/` adds one
LSP feature through its own `setup(server)`; `convert.py` is the only module that
knows both the engine's types and lsprotocol's.
"""
