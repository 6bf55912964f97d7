"""The usual loop over a sharded checkpoint's index (Hugging Face's `*.index.json`):
`for shard in set(index["weight_map"].values()): state.update(load_file(...))` merges
every shard, which is what the index reader returns. PyTorch judges each case."""

from __future__ import annotations

import pytest
from analysis_helpers import codes
from weightmatch.textedit import apply_edits

NET = """
import json
import os
from pathlib import Path

import torch
import torch.nn as nn
from safetensors.torch import load_file

class Net(nn.Module):
    def __init__(self, hidden=20):
        super().__init__()
        self.fc1 = nn.Linear(10, hidden)
        self.fc2 = nn.Linear(hidden, 2)

"""
WRITE = NET + """
state = Net().state_dict()
os.makedirs("ckpt", exist_ok=True)
shards = {{"fc1": "{stem}-00001-of-00002{ext}", "fc2": "{stem}-00002-of-00002{ext}"}}
for layer, name in shards.items():
    part = {{k: v for k, v in state.items() if k.startswith(layer)}}
    if "{ext}" == ".safetensors":
        from safetensors.torch import save_file
        save_file(part, os.path.join("ckpt", name))
    else:
        torch.save(part, os.path.join("ckpt", name))
index = {{"metadata": {{}}, "weight_map": {{k: shards[k.split(".")[0]] for k in state}}}}
Path("ckpt/{index}").write_text(json.dumps(index))
"""
SAFETENSORS = dict(stem="model", ext=".safetensors", index="model.safetensors.index.json")
BIN = dict(stem="pytorch_model", ext=".bin", index="pytorch_model.bin.index.json")


def test_a_loop_over_safetensors_shards_is_one_load_of_the_index(project, case):
    case.torch(WRITE.format(**SAFETENSORS))
    main = case.write("main.py", NET + """
folder = "ckpt"
index = json.load(open(os.path.join(folder, "model.safetensors.index.json")))
state = {}
for shard in set(index["weight_map"].values()):
    state.update(load_file(os.path.join(folder, shard)))
model = Net(hidden=30)
model.load_state_dict(state)
""")
    run = case.run()
    assert run.returncode != 0 and "size mismatch for fc1.weight" in run.stderr
    result = project.analyze(str(main))
    assert codes(result) == [("size-mismatch", "error", 12), ("size-mismatch", "error", 13)]
    assert set(result.findings[0].keys) | set(result.findings[1].keys) == {"fc1.weight", "fc1.bias", "fc2.weight"}
    fix = next(fix for f in result.findings for fix in f.fixes if fix.kind == "filter-shapes")
    main.write_text(apply_edits(main.read_text(), fix.edits))
    after = case.run()
    assert after.returncode == 0, after.stderr[-2000:]


def test_torch_shards_read_with_a_with_block_and_pathlib_load_cleanly(project, case):
    case.torch(WRITE.format(**BIN))
    main = case.write("main.py", NET + """
root = Path("ckpt")
with open(root / "pytorch_model.bin.index.json") as f:
    index = json.load(f)
state = {}
for name in sorted(index["weight_map"].values()):
    state.update(torch.load(root / name, weights_only=True))
model = Net()
model.load_state_dict(state)
""")
    assert case.run().returncode == 0
    result = project.analyze(str(main))
    assert codes(result) == []
    assert [r.raises for r in result.reports] == [False]


def test_load_file_over_torch_shards_is_the_wrong_loader(project, case):
    case.torch(WRITE.format(**BIN))
    main = case.write("main.py", NET + """
index = json.loads(Path("ckpt/pytorch_model.bin.index.json").read_text())
state = {}
for shard in index["weight_map"].values():
    state.update(load_file("ckpt/" + shard))
model = Net()
model.load_state_dict(state)
""")
    run = case.run()
    assert run.returncode != 0 and "SafetensorError" in run.stderr
    result = project.analyze(str(main))
    assert [f.code for f in result.findings] == ["wrong-loader"]
    assert "pytorch_model-00001-of-00002.bin" in result.findings[0].message


def test_shards_read_from_another_folder_are_not_guessed(project, case):
    case.torch(WRITE.format(**SAFETENSORS))
    main = case.write("main.py", NET + """
index = json.load(open("ckpt/model.safetensors.index.json"))
state = {}
for shard in set(index["weight_map"].values()):
    state.update(load_file(os.path.join("elsewhere", shard)))
model = Net()
model.load_state_dict(state)
""")
    result = project.analyze(str(main))
    assert [f.code for f in result.findings] == ["unresolved-checkpoint"]


def test_shards_listed_in_a_variable_and_loaded_into_a_temporary(project, case):
    """transformers' `load_sharded_checkpoint`: the shard list kept in a name, each shard bound,
    merged and deleted."""
    case.torch(WRITE.format(**BIN))
    main = case.write("main.py", NET + """
def load_sharded(model, folder):
    with open(os.path.join(folder, "pytorch_model.bin.index.json")) as f:
        index = json.load(f)
    shard_files = sorted(set(index["weight_map"].values()))
    state_dict = {}
    for shard_file in shard_files:
        shard = torch.load(os.path.join(folder, shard_file), map_location="cpu", weights_only=True)
        state_dict.update(shard)
        del shard
    return model.load_state_dict(state_dict)


load_sharded(Net(hidden=30), "ckpt")
""")
    run = case.run()
    assert run.returncode != 0 and "size mismatch for fc1.weight" in run.stderr
    result = project.analyze(str(main))
    errors = [f for f in result.findings if f.severity == "error"]
    assert sorted(k for f in errors for k in f.keys) == ["fc1.bias", "fc1.weight", "fc2.weight"]


SAFE_OPEN = NET + """
tensors = {}
with safe_open("w.safetensors", framework="pt", device="cpu") as f:
    for key in f.keys():
        tensors[key] = f.get_tensor(key).float()
model = Net(hidden=HIDDEN)
model.load_state_dict(tensors)
"""


@pytest.mark.parametrize("hidden, prefix", [(20, ""), (30, ""), (20, "model.")],
                         ids=["matches", "differs", "wrapped"])
def test_a_safe_open_loop_reads_the_whole_file(project, case, hidden, prefix):
    """safetensors' `safe_open` with a `keys()` / `get_tensor` loop; the quick fix for a wrapper's
    prefix, applied, makes PyTorch load it."""
    case.torch(NET + f"from safetensors.torch import save_file\n"
               f"save_file({{'{prefix}' + k: v.half() for k, v in Net().state_dict().items()}}, 'w.safetensors')")
    main = case.write("main.py", SAFE_OPEN.replace("import torch\n", "import torch\nfrom safetensors import safe_open\n", 1)
                      .replace("HIDDEN", str(hidden)))
    run = case.run()
    result = project.analyze(str(main))
    errors = [f for f in result.findings if f.severity == "error"]
    assert not [f for f in result.findings if f.code.startswith("unresolved")], [f.message for f in result.findings]
    assert bool(errors) == (run.returncode != 0), (run.stderr[-500:], [f.message for f in errors])
    if prefix:
        fix = next(fix for f in errors for fix in f.fixes if fix.kind == "strip-prefix")
        main.write_text(apply_edits(main.read_text(), fix.edits))
        after = case.run()
        assert after.returncode == 0, after.stderr[-2000:]
