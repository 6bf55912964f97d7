"""Each format and layout a user's checkpoint comes in, made with real torch.save."""

from __future__ import annotations

import json
import zipfile
from collections import OrderedDict

import pytest
import torch
import torch.nn as nn
from safetensors.torch import save_file

from weightmatch.checkpoint import read_checkpoint, state_dict_candidates, tensor_entries
from weightmatch.types import Opaque, StateDict, TensorInfo

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.bn = nn.BatchNorm2d(4)
        self.fc = nn.Linear(4, 2)


def shapes(sd) -> dict[str, tuple[tuple[int, ...], str]]:
    return {k: (v.shape, v.dtype) for k, v in sd.items()}


def expected(sd) -> dict[str, tuple[tuple[int, ...], str]]:
    return {k: (tuple(v.shape), str(v.dtype).removeprefix("torch.")) for k, v in sd.items()}


@pytest.fixture
def net() -> Net:
    torch.manual_seed(0)
    return Net()


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_plain_state_dict(tmp_path, net, legacy):
    path = tmp_path / "model.pth"
    torch.save(net.state_dict(), path, _use_new_zipfile_serialization=not legacy)
    ckpt = read_checkpoint(str(path))
    assert ckpt.format == ("torch-legacy" if legacy else "torch-zip")
    assert isinstance(ckpt.obj, StateDict) and ckpt.obj.ordered
    assert shapes(ckpt.obj) == expected(net.state_dict())
    assert list(ckpt.obj) == list(net.state_dict())
    assert ckpt.obj["bn.num_batches_tracked"] == TensorInfo((), "int64")
    assert ckpt.obj.metadata["bn"]["version"] == 2
    assert ckpt.obj.metadata[""]["version"] == 1
    assert ckpt.unsafe_globals == []
    assert ckpt.tensor_count == len(net.state_dict())
    assert ckpt.size == path.stat().st_size


def test_archive_folder_name_varies(tmp_path, net):
    # torch names the zip's top folder after the file it first saved to; renaming keeps it.
    first = tmp_path / "whatever_name.pt"
    torch.save(net.state_dict(), first)
    moved = tmp_path / "renamed.bin"
    first.rename(moved)
    assert zipfile.ZipFile(moved).namelist()[0].startswith("whatever_name/")
    ckpt = read_checkpoint(str(moved))
    assert shapes(ckpt.obj) == expected(net.state_dict())
    for suffix in (".ckpt", ".pt"):
        other = tmp_path / f"x{suffix}"
        torch.save({"a": torch.zeros(1)}, other)
        assert read_checkpoint(str(other)).obj["a"] == TensorInfo((1,), "float32")


def test_dict_without_metadata(tmp_path, net):
    path = tmp_path / "plain.pt"
    torch.save({k: v for k, v in net.state_dict().items()}, path)
    obj = read_checkpoint(str(path)).obj
    assert isinstance(obj, StateDict) and obj.metadata is None and not obj.ordered


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_training_checkpoint(tmp_path, net, legacy):
    opt = torch.optim.Adam(net.parameters())
    net.fc(torch.zeros(1, 4)).sum().backward()
    opt.step()
    path = tmp_path / "train.pt"
    torch.save({"epoch": 3, "model_state_dict": net.state_dict(), "optimizer_state_dict": opt.state_dict(),
                "loss": 0.25}, path, _use_new_zipfile_serialization=not legacy)
    ckpt = read_checkpoint(str(path))
    assert ckpt.unsafe_globals == []  # optimizer state is plain dicts, tensors and numbers
    assert ckpt.obj["epoch"] == 3 and ckpt.obj["loss"] == 0.25
    assert shapes(ckpt.obj["model_state_dict"]) == expected(net.state_dict())
    cands = state_dict_candidates(ckpt.obj)
    assert cands[0][0] == ("model_state_dict",)
    assert cands[0][1] is ckpt.obj["model_state_dict"]
    entries = dict(tensor_entries(ckpt.obj))
    assert entries["model_state_dict.fc.weight"] == TensorInfo((2, 4), "float32")
    state = ckpt.obj["optimizer_state_dict"]["state"]
    assert set(state[4]) == {"step", "exp_avg", "exp_avg_sq"}
    assert "optimizer_state_dict.state[4].exp_avg" in entries
    assert ckpt.obj["optimizer_state_dict"]["param_groups"][0]["lr"] == 0.001


def test_lightning_layout(tmp_path, net):
    sd = OrderedDict(("model." + k, v) for k, v in net.state_dict().items())
    path = tmp_path / "epoch=1.ckpt"
    torch.save({"epoch": 1, "global_step": 10, "pytorch-lightning_version": "2.4.0", "state_dict": sd,
                "hyper_parameters": {"lr": 0.1, "layers": [1, 2]}, "loops": {}, "callbacks": {}}, path)
    ckpt = read_checkpoint(str(path))
    assert ckpt.unsafe_globals == []
    assert [keys for keys, _ in state_dict_candidates(ckpt.obj)] == [("state_dict",)]
    assert "model.fc.weight" in ckpt.obj["state_dict"]
    assert ckpt.obj["hyper_parameters"]["layers"] == [1, 2]


def test_model_and_ema(tmp_path, net):
    ema = Net()
    path = tmp_path / "ema.pt"
    torch.save({"model": net.state_dict(), "ema": {"model": ema.state_dict(), "decay": 0.999}}, path)
    ckpt = read_checkpoint(str(path))
    keys = [keys for keys, _ in state_dict_candidates(ckpt.obj)]
    assert keys == [("model",), ("ema", "model")]
    assert ckpt.tensor_count == 2 * len(net.state_dict())


def test_root_is_candidate(tmp_path, net):
    path = tmp_path / "m.pt"
    torch.save(net.state_dict(), path)
    obj = read_checkpoint(str(path)).obj
    assert [k for k, _ in state_dict_candidates(obj)] == [()]


def test_dtypes_and_zero_dim(tmp_path):
    values = {
        "f64": torch.zeros(2, dtype=torch.float64), "bf16": torch.zeros(2, 3, dtype=torch.bfloat16),
        "f16": torch.zeros(1, dtype=torch.float16), "i64": torch.tensor(5), "b": torch.zeros(4, dtype=torch.bool),
        "u8": torch.zeros(1, dtype=torch.uint8), "c64": torch.zeros(1, dtype=torch.complex64),
        "scalar": torch.tensor(1.5), "empty": torch.zeros(0, 3),
        "f8": torch.zeros(2, dtype=torch.float8_e4m3fn), "u16": torch.zeros(2, dtype=torch.uint16),
    }
    for legacy in (False, True):
        path = tmp_path / f"d{legacy}.pt"
        torch.save(values, path, _use_new_zipfile_serialization=not legacy)
        assert shapes(read_checkpoint(str(path)).obj) == expected(values)


def test_parameters_views_and_shared_storage(tmp_path):
    base = torch.arange(24.0).reshape(4, 6)
    values = OrderedDict(
        p=nn.Parameter(torch.zeros(3, 2)), frozen=nn.Parameter(torch.zeros(2), requires_grad=False),
        base=base, transposed=base.t(), column=base[:, 1], tied=base,
    )
    path = tmp_path / "views.pt"
    torch.save(values, path)
    obj = read_checkpoint(str(path)).obj
    assert shapes(obj) == expected(values)
    assert obj.ordered


def test_lists_and_other_values(tmp_path):
    path = tmp_path / "misc.pt"
    torch.save({"layers": [torch.zeros(2), (torch.zeros(1, dtype=torch.int32),)], "name": "x", "blob": b"\x00\x01",
                "tags": {1, 2}, "z": 1 + 2j, "none": None, "dev": torch.device("cpu"), "dt": torch.float16}, path)
    ckpt = read_checkpoint(str(path))
    obj = ckpt.obj
    assert ckpt.unsafe_globals == []
    assert obj["blob"] == b"\x00\x01" and obj["tags"] == {1, 2} and obj["z"] == 1 + 2j and obj["none"] is None
    assert isinstance(obj["dev"], Opaque) and isinstance(obj["dt"], Opaque)
    assert tensor_entries(obj) == [("layers[0]", TensorInfo((2,), "float32")),
                                   ("layers[1][0]", TensorInfo((1,), "int32"))]


def test_root_tensor_and_list(tmp_path):
    path = tmp_path / "t.pt"
    torch.save(torch.zeros(3, 3), path)
    assert tensor_entries(read_checkpoint(str(path)).obj) == [("", TensorInfo((3, 3), "float32"))]
    torch.save([torch.zeros(1)], path)
    assert tensor_entries(read_checkpoint(str(path)).obj) == [("[0]", TensorInfo((1,), "float32"))]


def test_lazy_parameter(tmp_path):
    lazy = nn.LazyLinear(3)
    path = tmp_path / "lazy.pt"
    torch.save(lazy.state_dict(), path)
    ckpt = read_checkpoint(str(path))
    assert ckpt.obj["weight"] == TensorInfo(None, "float32")


def test_safetensors(tmp_path, net):
    sd = {k: v.contiguous() for k, v in net.state_dict().items()}
    sd["half"] = torch.zeros(2, 2, dtype=torch.bfloat16)
    path = tmp_path / "model.safetensors"
    save_file(sd, str(path), metadata={"format": "pt"})
    ckpt = read_checkpoint(str(path))
    assert ckpt.format == "safetensors"
    assert isinstance(ckpt.obj, StateDict) and ckpt.obj.metadata is None
    assert shapes(ckpt.obj) == expected(sd)
    assert ckpt.unsafe_globals == [] and ckpt.tensor_count == len(sd)


@pytest.mark.parametrize("kind", ["safetensors", "bin"])
def test_sharded(tmp_path, net, kind):
    sd = net.state_dict()
    keys = list(sd)
    parts = [keys[:3], keys[3:]]
    weight_map = {}
    for i, part in enumerate(parts):
        name = f"model-{i + 1:05d}-of-00002.{kind}"
        shard = {k: sd[k].contiguous() for k in part}
        if kind == "safetensors":
            save_file(shard, str(tmp_path / name))
        else:
            torch.save(shard, tmp_path / name)
        weight_map.update({k: name for k in part})
    index = tmp_path / f"model.{kind}.index.json"
    index.write_text(json.dumps({"metadata": {"total_size": 1}, "weight_map": weight_map}))
    ckpt = read_checkpoint(str(index))
    assert ckpt.format == "sharded"
    assert shapes(ckpt.obj) == expected(sd)
    assert len(ckpt.shards) == 2
    assert ckpt.size == sum((tmp_path / n).stat().st_size for n in set(weight_map.values()))


def test_sharded_missing_shard(tmp_path):
    index = tmp_path / "model.safetensors.index.json"
    index.write_text(json.dumps({"weight_map": {"a": "gone.safetensors"}}))
    from weightmatch.checkpoint import CheckpointError

    with pytest.raises(CheckpointError) as info:
        read_checkpoint(str(index))
    assert info.value.code == "checkpoint-not-found" and "gone.safetensors" in str(info.value)


def test_torchscript(tmp_path, net):
    path = tmp_path / "scripted.pt"
    torch.jit.save(torch.jit.script(net), str(path))
    ckpt = read_checkpoint(str(path))
    assert ckpt.torchscript and ckpt.format == "torchscript"
    assert ckpt.unsafe_globals  # torch.load(weights_only=True) refuses TorchScript archives
    assert shapes(ckpt.obj) == expected(net.state_dict())


def test_whole_module(tmp_path, net):
    path = tmp_path / "whole.pt"
    torch.save(net, path)
    ckpt = read_checkpoint(str(path))
    assert isinstance(ckpt.obj, Opaque) and ckpt.obj.name.endswith("Net")
    assert "torch.nn.modules.linear.Linear" in ckpt.unsafe_globals


@pytest.mark.parametrize("header_bytes", [128, 128 + 256])
def test_safetensors_whose_header_length_starts_with_0x80(tmp_path, header_bytes):
    # The header length's first byte is 0x80, also a pickle's first byte: the reader must
    # not take this for a legacy torch file. (Headers are padded to 8 bytes; grow the key.)
    path = tmp_path / "x.safetensors"
    for size in range(1, 400):
        name = "w" * size
        save_file({name: torch.zeros(2, 3)}, str(path))
        if int.from_bytes(path.read_bytes()[:8], "little") == header_bytes:
            break
    assert path.read_bytes()[0] == 0x80
    ck = read_checkpoint(str(path))
    assert ck.format == "safetensors"
    assert ck.obj == {name: TensorInfo((2, 3), "float32")}
