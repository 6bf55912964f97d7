"""Real recipes built by the worker, compared with the same models built normally here."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from weightmatch.worker import BuildError, torchvision_compat

from .conftest import built_keys, real_keys

torchvision_compat.install()  # this process needs the same fallback to build the references
import torchvision.models as tv_models  # noqa: E402

NET = """
import torch
import torch.nn as nn
import torch.nn.functional as F

HIDDEN = 32
WIDTHS = (HIDDEN, HIDDEN * 2)

class Block(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))

class Net(nn.Module):
    def __init__(self, num_classes=10, width=WIDTHS[0]):
        super().__init__()
        self.stem = Block(3, width)
        self.body = nn.Sequential(Block(width, WIDTHS[1]), nn.ReLU())
        self.head = nn.Linear(WIDTHS[1], num_classes)

model = Net(num_classes=int("not run"))
"""


def _reference(source: str, expr: str, steps=(), var="model"):
    ns: dict = {"__name__": "reference"}
    exec(compile(source.split("\nmodel = ")[0], "<ref>", "exec"), ns)
    with torch.device("meta"):
        ns[var] = eval(expr, ns)
        for step in steps:
            exec(step, ns)
    return ns[var]


def test_user_class_nested_defaults_and_kwargs(client, make_recipe):
    recipe = make_recipe(NET, "Net(num_classes=5)")
    state = client.build(recipe)
    assert state.how == "executed"
    assert state.model_type == "Net"
    assert built_keys(state) == real_keys(_reference(NET, "Net(num_classes=5)"))
    assert state.modules[""].type == "__main__.Net"
    assert state.modules["stem.bn"].type == "torch.nn.modules.batchnorm.BatchNorm2d"
    assert state.keys()["head.weight"].shape == (5, 64)
    assert state.keys()["stem.conv.weight"].shape == (32, 3, 3, 3)
    assert state.modules["body"].children == ["0", "1"]


def test_batchnorm_fields(client, make_recipe):
    source = """
    import torch.nn as nn
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.bn = nn.BatchNorm1d(4)
            self.bn_nostats = nn.BatchNorm1d(4, track_running_stats=False)
            self.inorm = nn.InstanceNorm2d(4)
            self.inorm_stats = nn.InstanceNorm2d(4, affine=True, track_running_stats=True)
            self.ln = nn.LayerNorm(4)
    """
    state = client.build(make_recipe(source, "M()"))
    m = state.modules
    assert m["bn"].norm_fixup and m["bn"].version == 2 and not m["bn"].custom_load
    assert m["bn"].buffers["num_batches_tracked"].dtype == "int64"
    assert not m["bn_nostats"].norm_fixup and m["bn_nostats"].buffers == {}
    # InstanceNorm without running stats drops/complains about saved stats itself: compare models
    # that (tests/compare/test_compare_oracle.py), so it is not flagged
    assert not m["inorm"].custom_load and not m["inorm"].norm_fixup
    assert m["inorm_stats"].norm_fixup and not m["inorm_stats"].custom_load
    assert not m["ln"].norm_fixup and not m["ln"].custom_load and m["ln"].version == 1
    ns: dict = {}
    exec(compile("import torch.nn as nn\n" + source.replace("\n    ", "\n"), "<ref>", "exec"), ns)
    assert built_keys(state) == real_keys(ns["M"]())


def test_class_from_other_workspace_file(client, make_recipe):
    files = {
        "nets/__init__.py": "from .blocks import Tower\n",
        "nets/blocks.py": """
            import torch.nn as nn
            from .config import DEPTH
            class Tower(nn.Module):
                def __init__(self, depth=DEPTH):
                    super().__init__()
                    self.layers = nn.ModuleList(nn.Linear(8, 8) for _ in range(depth))
        """,
        "nets/config.py": "DEPTH = 3\n",
    }
    recipe = make_recipe("from nets import Tower\n", "Tower()", files=files)
    state = client.build(recipe)
    assert state.modules[""].type == "nets.blocks.Tower"
    assert sorted(state.keys()) == sorted(f"layers.{i}.{p}" for i in range(3) for p in ("weight", "bias"))
    # a changed workspace file invalidates the cached result
    import os
    import time
    path = os.path.join(recipe.root, "nets", "config.py")
    with open(path, "w") as f:
        f.write("DEPTH = 2\n")
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 10_000_000))
    assert len(client.build(recipe).keys()) == 4


def test_nonpersistent_lazy_extra_state_and_none_entries(client, make_recipe):
    source = """
    import torch
    from torch import nn
    class WithExtra(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.zeros(2))
        def get_extra_state(self):
            return {"step": 1}
        def set_extra_state(self, state):
            pass
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("mask", torch.ones(3), persistent=False)
            self.register_buffer("kept", torch.ones(3, dtype=torch.float16))
            self.register_buffer("gone", None)
            self.register_parameter("nothing", None)
            self.lazy = nn.LazyLinear(4)
            self.extra = WithExtra()
            self.add_module("empty", None)
            self.shared = nn.Linear(2, 2)
            self.again = self.shared
    """
    state = client.build(make_recipe(source, "M()"))
    root = state.modules[""]
    assert root.buffers == {"kept": root.buffers["kept"]} and root.buffers["kept"].dtype == "float16"
    assert root.params == {}
    assert root.children == ["lazy", "extra", "empty", "shared", "again"]
    assert "empty" not in state.modules and "again" in state.modules  # no dedup, like load_state_dict
    assert state.modules["lazy"].params["weight"].shape is None
    assert not state.modules["lazy"].custom_load  # the lazy load hook is a known, modelled one
    assert state.modules["extra"].extra_state and not state.modules[""].extra_state
    ns: dict = {}
    exec(compile("import torch\nfrom torch import nn\n" + source.replace("\n    ", "\n"), "<ref>", "exec"), ns)
    assert built_keys(state) == real_keys(ns["M"]())


def test_custom_load_and_hooks(client, make_recipe):
    source = """
    import torch.nn as nn
    class Odd(nn.Linear):
        def _load_from_state_dict(self, *args):
            return super()._load_from_state_dict(*args)
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.odd = Odd(2, 2)
            self.plain = nn.Linear(2, 2)
            self.hooked = nn.Linear(2, 2)
            self.hooked.register_load_state_dict_post_hook(lambda module, keys: None)
            self.wn = nn.utils.parametrizations.weight_norm(nn.Linear(2, 2))
            self.sn = nn.utils.spectral_norm(nn.Linear(2, 2))
    """
    state = client.build(make_recipe(source, "M()"))
    assert state.modules["odd"].custom_load
    assert not state.modules["plain"].custom_load
    assert state.modules["hooked"].custom_load
    # weight-norm's compat hook renames old keys, which compare models; spectral norm's reads values
    assert state.modules["wn"].old_weight_norm and not state.modules["wn"].custom_load
    assert state.modules["sn"].custom_load and not state.modules["sn"].old_weight_norm
    assert "wn.parametrizations.weight.original0" in state.keys()


@pytest.mark.slow
def test_torchvision_googlenet_with_step(client, make_recipe):
    source = "import torch.nn as nn\nfrom torchvision import models\n"
    ctor = "models.googlenet(weights=None, aux_logits=False, init_weights=False)"
    steps = ["googlenet_2.fc = nn.Linear(1024, 2)"]
    state = client.build(make_recipe(source, ctor, steps, var="googlenet_2"))
    with torch.device("meta"):
        ref = tv_models.googlenet(weights=None, aux_logits=False, init_weights=False)
        ref.fc = nn.Linear(1024, 2)
    assert built_keys(state) == real_keys(ref)
    assert state.keys()["fc.weight"].shape == (2, 1024)
    assert state.model_type == "GoogLeNet"
    if torchvision_compat.note():
        assert any("torchvision's compiled ops are unavailable" in n for n in state.notes)


def test_torchvision_resnet_and_vgg(client, make_recipe):
    state = client.build(make_recipe("import torchvision.models as models\n", "models.resnet18(num_classes=10)"))
    with torch.device("meta"):
        ref = tv_models.resnet18(num_classes=10)
    assert built_keys(state) == real_keys(ref)
    assert state.modules["bn1"].norm_fixup

    source = "import torchvision\nimport torch.nn as nn\n"
    state = client.build(make_recipe(source, "torchvision.models.vgg11()", ["model.classifier[6] = nn.Linear(4096, 2)"]))
    with torch.device("meta"):
        ref = tv_models.vgg11()
        ref.classifier[6] = nn.Linear(4096, 2)
    assert built_keys(state) == real_keys(ref)


def test_pretrained_weights_are_not_downloaded(client, make_recipe):
    # The weights' meta sets num_classes=1000; the download is replaced by a marker and the
    # builder's load_state_dict(marker) is skipped: no network, architecture as with weights.
    source = "from torchvision.models import resnet18, ResNet18_Weights\n"
    state = client.build(make_recipe(source, "resnet18(weights=ResNet18_Weights.IMAGENET1K_V1)"))
    assert state.keys()["fc.weight"].shape == (1000, 512)


def test_moves_and_casts_are_ignored_on_meta(client, make_recipe):
    source = """
    import torch
    import torch.nn as nn
    DEVICE = torch.device("cuda:0")
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 3).cuda()
            self.register_buffer("b", torch.zeros(2).to(DEVICE))
    """
    state = client.build(make_recipe(source, "M().to(DEVICE)", ["model = model.cuda().half()", "model.eval()"]))
    assert set(state.keys()) == {"fc.weight", "fc.bias", "b"}


def test_100k_parameters_come_back_fast(client, make_recipe):
    import time

    source = """
    import torch
    import torch.nn as nn
    class Many(nn.Module):
        def __init__(self, n):
            super().__init__()
            self.layers = nn.ModuleList([nn.Linear(2, 2)] * (n // 2))  # shared: cheap to make
    """
    began = time.monotonic()
    state = client.build(make_recipe(source, "Many(100_000)"))
    elapsed = time.monotonic() - began
    assert len(state.keys()) == 100_000
    assert state.keys()["layers.49999.weight"].shape == (2, 2)
    print(f"100k-parameter build, end to end: {elapsed:.2f}s")
    assert elapsed < 5


def test_cached_result_is_a_copy(client, make_recipe):
    recipe = make_recipe(NET, "Net()")
    first = client.build(recipe)
    first.notes.append("mine")
    second = client.build(recipe)
    assert second.notes == [] and second.keys() == first.keys()


def test_cuda_unavailable_builds_stay_on_meta(client, make_recipe):
    source = """
    import torch.nn as nn
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(10**6, 10**4)  # 40 GB if it were real: meta costs nothing
    """
    state = client.build(make_recipe(source, "M()"))
    assert state.keys()["fc.weight"].shape == (10**4, 10**6)


def test_build_error_kinds_for_user_code(client, make_recipe):
    source = """
    import argparse
    import torch.nn as nn
    class Net(nn.Module):
        def __init__(self, n):
            super().__init__()
            self.fc = nn.Linear(2, n)
    class Bad(nn.Module):
        def __init__(self):
            super().__init__()
            raise ValueError("no good")
    parser = argparse.ArgumentParser()
    args = parser.parse_args()
    """
    with pytest.raises(BuildError) as err:
        client.build(make_recipe(source, "Net(args.num_classes)"))
    assert err.value.kind == "unresolved" and "'args'" in err.value.message
    with pytest.raises(BuildError) as err:
        client.build(make_recipe(source, "Bad()"))
    assert err.value.kind == "user-code"
    assert "ValueError: no good" in err.value.message and "train.py:11" in err.value.message
    with pytest.raises(BuildError) as err:
        client.build(make_recipe(source, "Missing()"))
    assert err.value.kind == "user-code" and "Missing" in err.value.message


def test_future_annotations_and_guarded_imports(client, make_recipe):
    source = """
    from __future__ import annotations
    import torch.nn as nn
    try:
        import not_installed_package as extra
    except ImportError:
        extra = None
    class Net(nn.Module):
        def __init__(self, width: Later = 3) -> None:  # a forward reference, fine with the future import
            super().__init__()
            self.fc = nn.Linear(width, 2)
            self.has_extra = extra is not None
    class Later: pass
    """
    assert client.build(make_recipe(source, "Net(width=5)")).keys()["fc.weight"].shape == (2, 5)


def test_error_in_a_step_names_the_step(client, make_recipe):
    with pytest.raises(BuildError) as err:
        client.build(make_recipe(NET, "Net()", ["model.head = nn.Linear(64, 2)", "model.missing.fc = 1"]))
    assert err.value.kind == "user-code" and "step 2" in err.value.message


def test_concurrent_builds_from_threads(client, make_recipe):
    from concurrent.futures import ThreadPoolExecutor

    recipes = [make_recipe(NET, f"Net(num_classes={n})", name=f"t{n}.py") for n in range(2, 6)]
    with ThreadPoolExecutor(4) as pool:
        states = list(pool.map(client.build, recipes))
    assert [s.keys()["head.bias"].shape for s in states] == [(2,), (3,), (4,), (5,)]
