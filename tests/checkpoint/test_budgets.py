"""Issue 14, items 1-3: a checkpoint's cost is bounded by the file, not by what it describes.

Deep nesting is refused by the opcode scan before anything is built (a tuple nested a
million deep used as a key crashed CPython's hash); shared containers are converted once
and the tree they spell out is budgeted; object and opcode counts are budgeted. Each
over-budget file is `checkpoint-unreadable` with its reason, quickly and in little memory.
"""

from __future__ import annotations

import sys
import time
import tracemalloc
from pathlib import Path

import pytest

from weightmatch.checkpoint import CheckpointError, read_checkpoint
from weightmatch.checkpoint.pickle_scan import (MAX_NESTING, PickleTooLarge, check_structure,
                                                needs_structure_pass, scan_pickle)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "hardening"))
import hostile  # noqa: E402


def _refused(path: Path, *words: str, seconds: float = 1.5, mb: float = 150) -> str:
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(CheckpointError) as info:
            read_checkpoint(str(path))
        took = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()
    err = info.value
    assert err.code == "checkpoint-unreadable"
    text = str(err)
    assert "\n" not in text
    for word in words:
        assert word in text, text
    assert took < seconds, f"{took:.2f} s"
    assert peak < mb, f"{peak:.0f} MB"
    return text


@pytest.mark.parametrize("make", [hostile.deep_tuple_key, hostile.deep_tuple_in_set, hostile.deep_tuple_frozenset])
@pytest.mark.parametrize("container", ["zip", "legacy"])
def test_deep_nesting_is_refused_before_anything_is_built(tmp_path, make, container):
    pkl = make(1_000_000)
    path = tmp_path / "deep.pt"
    (hostile.torch_zip if container == "zip" else hostile.legacy)(path, pkl)
    assert path.stat().st_size < 1_100_000
    _refused(path, "nested more than", "budget")


def test_nesting_just_under_the_limit_still_reads(tmp_path):
    pkl = b"\x80\x02}(X\x01\x00\x00\x00kN" + b"\x85" * (MAX_NESTING - 5) + b"u."
    ckpt = read_checkpoint(str(hostile.torch_zip(tmp_path / "ok.pt", pkl)))
    assert list(ckpt.obj) == ["k"]


def test_the_structure_pass_tracks_depth_through_the_memo():
    # build a 150-deep tuple, memoize it, and nest it again through GET: 300 deep in all
    half = b"N" + b"\x85" * 150 + b"q\x01"
    data = b"\x80\x02" + half + b"0h\x01" + b"\x85" * 150 + b"."
    scan = scan_pickle(data)
    with pytest.raises(PickleTooLarge):
        check_structure(data, 0, scan.end)
    # through a text PUT and a BINGET of the same index too
    data = b"\x80\x02N" + b"\x85" * 150 + b"p1\n0h\x01" + b"\x85" * 150 + b"."
    with pytest.raises(PickleTooLarge):
        check_structure(data, 0, scan_pickle(data).end)


@pytest.mark.parametrize("make,levels", [(hostile.frozenset_dag, 40), (hostile.dict_dag, 30), (hostile.list_dag, 40)])
def test_shared_containers_are_converted_once_and_budgeted(tmp_path, make, levels):
    path = hostile.torch_zip(tmp_path / "dag.pt", make(levels))
    assert path.stat().st_size < 2000
    _refused(path, "shared ones counted", "budget")


def test_a_small_dag_still_reads(tmp_path):
    ckpt = read_checkpoint(str(hostile.torch_zip(tmp_path / "dag.pt", hostile.dict_dag(8))))
    inner = ckpt.obj
    for _ in range(8):
        assert inner["a"] is inner["b"]  # shared in the file, shared once read
        inner = inner["a"]


def test_empty_dicts_are_refused_by_count(tmp_path):
    path = hostile.torch_zip(tmp_path / "dicts.pt", hostile.empty_dicts(12_000_000))
    assert path.stat().st_size < 40_000
    _refused(path, "objects", "budget")


def test_a_legacy_pickle_of_nones(tmp_path):
    _refused(hostile.legacy(tmp_path / "nones.pt", hostile.nones(5_000_000)), "objects", "budget")
    _refused(hostile.legacy(tmp_path / "more.pt", hostile.nones(20_000_000)), "16 MiB limit")


def test_a_safetensors_shape_of_ten_million_dimensions(tmp_path):
    _refused(hostile.safetensors_dims(tmp_path / "dims.safetensors"), "values")
    path = hostile.safetensors_dims(tmp_path / "dims65.safetensors", 65)
    _refused(path, "invalid shape")


def test_a_100k_or_200k_tensor_zip_is_over_budget_and_quick(tmp_path):
    # 100,000 tensors: 12 MB of data.pkl, over the opcode budget; 200,000: over the size limit
    # (timed without tracemalloc, which slows the reader tenfold; tests/hardening measures memory)
    for n, words in ((100_000, "budget"), (200_000, "16 MiB limit")):
        path = hostile.torch_zip(tmp_path / f"big{n}.pt", hostile.state_dict_pickle(n))
        start = time.perf_counter()
        with pytest.raises(CheckpointError) as info:
            read_checkpoint(str(path))
        assert time.perf_counter() - start < 2.0
        assert info.value.code == "checkpoint-unreadable" and words in str(info.value)


def test_a_15k_tensor_zip_reads_through_the_structure_pass(tmp_path):
    pkl = hostile.state_dict_pickle(15_000)
    assert needs_structure_pass(pkl, 0, len(pkl))
    start = time.perf_counter()
    ckpt = read_checkpoint(str(hostile.torch_zip(tmp_path / "big.pt", pkl)))
    assert time.perf_counter() - start < 2.0
    assert len(ckpt.obj) == 15_000 and ckpt.tensor_count == 15_000
    assert ckpt.obj["layers.14999.weight"].shape == (2, 2)


def test_small_checkpoints_skip_the_structure_pass():
    pkl = hostile.state_dict_pickle(500)
    assert not needs_structure_pass(pkl, 0, len(pkl))
