"""Every diagnostic code Weight Match reports, with a one-line description.

The list is the contract `--select`/`--ignore`, the configuration file, inline
suppressions and the SARIF rules are checked against; a new code gets a line here
(tests/cli/test_codes.py fails on a code the engine emits that is missing here).
"""

from __future__ import annotations

CODES: dict[str, str] = {
    "size-mismatch": "A tensor's shape in the checkpoint differs from the model's: load_state_dict raises.",
    "missing-keys": "The model expects keys the checkpoint does not have.",
    "unexpected-keys": "The checkpoint holds keys the model does not expect.",
    "prefix-mismatch": "Every key differs by a prefix (module., _orig_mod., model.): nothing loads.",
    "not-a-state-dict": "What is passed to load_state_dict is not a state dict (e.g. a whole training checkpoint).",
    "unsafe-checkpoint": "torch.load with weights_only=True refuses this checkpoint's pickled globals.",
    "checkpoint-not-found": "The checkpoint file does not exist where the script looks for it.",
    "checkpoint-unreadable": "The checkpoint file exists but cannot be read.",
    "unresolved-model": "Weight Match cannot tell which model receives the state dict.",
    "unresolved-checkpoint": "What is loaded is known only at run time (e.g. torch.load(args.ckpt)).",
    "unresolved-load": "A module that loads its own way (its own _load_from_state_dict or load hooks) decides the outcome.",
    "too-deep": "The source nests or chains further than Weight Match follows; its loads are not checked.",
    "wrong-loader": "torch.load on a safetensors file, or safetensors' loader on a torch file.",
    "key-error": "A subscript asks the checkpoint for a key it does not have.",
    "not-a-tensor": "A state dict entry is not a tensor.",
    "load-error": "Another error PyTorch raises while loading.",
    "notebook-unreadable": "A .ipynb file is not a notebook nbformat can read (invalid JSON or nbformat).",
    "internal-error": "Weight Match could not analyse the call (a bug in Weight Match).",
    "unused-ignore": "A `# weightmatch: ignore` comment silences nothing (--report-unused-ignores).",
}

# Reported only when asked for: `select` does not need to name them for them to show.
OPT_IN = {"unused-ignore"}
