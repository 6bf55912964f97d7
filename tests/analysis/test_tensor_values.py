"""Small tensors whose values are known: `torch.linspace` / `torch.arange` (the stochastic-depth
rates of timm/DINO/Swin blocks, `dpr = [x.item() for x in torch.linspace(0, rate, depth)]`),
judged against real PyTorch."""

from __future__ import annotations

import random

import pytest
import torch

from weightmatch.static.tensors import _linspace, factory


def test_linspace_values_are_torchs() -> None:
    rng = random.Random(7)
    cases = [(0, 0.1, 12), (0, 0.2, 24), (0.0, 0.0, 12), (0, 1, 7), (0, 0.3, 2000), (1, -1, 1)]
    cases += [(rng.uniform(-2, 2), rng.uniform(-3, 3), rng.randint(1, 300)) for _ in range(200)]
    for a, b, n in cases:
        assert list(_linspace(a, b, n)) == torch.linspace(a, b, n).tolist(), (a, b, n)


def test_arange_values_are_known_for_ints() -> None:
    t = factory("arange", [2, 11, 3], {})
    assert t.values == tuple(torch.arange(2, 11, 3).tolist()) and t.shape == (3,)
    assert factory("arange", [0.5, 2.0], {}).values is None  # float steps: not computed


@pytest.mark.parametrize("rate", [0.0, 0.1])
def test_blocks_sized_by_drop_path_rates_build_statically(case, static_project, rate) -> None:
    """`DropPath(dpr[i]) if dpr[i] > 0. else nn.Identity()` decided by the known rates; PyTorch judges."""
    case.write("model.py", f"""
        import torch
        import torch.nn as nn


        class DropPath(nn.Module):
            def __init__(self, p):
                super().__init__()
                self.p = p
                self.register_buffer("keep", torch.ones(1))


        class Net(nn.Module):
            def __init__(self, depth=4, drop_path_rate={rate}):
                super().__init__()
                dpr = [x.item() for x in torch.linspace(0, drop_path_rate, depth)]
                self.blocks = nn.ModuleList(
                    [DropPath(dpr[i]) if dpr[i] > 0. else nn.Identity() for i in range(depth)])
                self.head = nn.Linear(8, 2)
    """)
    case.torch("import torch, sys; sys.path.insert(0, '.'); from model import Net; "
               "torch.save(Net(drop_path_rate=0.1).state_dict(), 'w.pt')")
    main = case.write("main.py", "import torch\nfrom model import Net\nmodel = Net()\n"
                                 "model.load_state_dict(torch.load('w.pt'))\n")
    analysis = static_project.analyze(str(main))
    ran = case.run()
    assert analysis.reports[0].how == "static", [f.message for f in analysis.findings]
    errors = [f for f in analysis.findings if f.severity == "error"]
    assert bool(errors) == (ran.returncode != 0), (ran.stderr[-400:], [f.message for f in analysis.findings])
    assert (ran.returncode != 0) == (rate == 0.0)  # without rates, no DropPath buffers: unexpected keys


@pytest.mark.parametrize("out", [2, 3])
def test_functools_partial_layers_build_statically(case, static_project, out) -> None:
    """timm/DINO's `norm_layer=partial(nn.LayerNorm, eps=1e-6)`, and a partial whose bound
    argument sizes the layer (`partial(nn.Linear, 8)`); later keywords override bound ones."""
    case.write("model.py", """
        from functools import partial

        import torch.nn as nn


        class Net(nn.Module):
            def __init__(self, out, norm_layer=partial(nn.LayerNorm, eps=1e-6), head=partial(nn.Linear, 8, bias=False)):
                super().__init__()
                self.norm = norm_layer(8)
                self.head = head(out, bias=True)
    """)
    case.torch("import torch, sys; sys.path.insert(0, '.'); from model import Net; torch.save(Net(2).state_dict(), 'w.pt')")
    main = case.write("main.py", f"import torch\nfrom model import Net\nmodel = Net({out})\n"
                                 "model.load_state_dict(torch.load('w.pt'))\n")
    analysis = static_project.analyze(str(main))
    ran = case.run()
    assert analysis.reports[0].how == "static", [f.message for f in analysis.findings]
    errors = [f for f in analysis.findings if f.severity == "error"]
    assert bool(errors) == (ran.returncode != 0) == (out != 2), (ran.stderr[-400:], [f.message for f in analysis.findings])


def test_numpy_scalar_functions_are_numpys() -> None:
    """numpy's scalar results, types included (`np.floor` gives a float, `np.power` of ints an
    int), judged by numpy itself; what numpy rejects or wraps is not a number here."""
    import numpy as np

    from weightmatch import purefuncs

    rng = random.Random(11)
    calls = [("power", (2, 6)), ("power", (3, 0)), ("power", (2.0, 0.5)), ("power", (-2, 3)), ("floor", (3.5,)),
             ("ceil", (-1.2,)), ("sqrt", (16,)), ("log2", (1024,)), ("abs", (-3,)), ("trunc", (2.7,))]
    calls += [("power", (rng.randint(-9, 9), rng.randint(0, 12))) for _ in range(100)]
    calls += [(fn, (rng.uniform(0.01, 500),)) for fn in ("floor", "ceil", "sqrt", "log", "log2", "log10") for _ in range(30)]
    for fn, args in calls:
        ours, theirs = purefuncs.compute(f"numpy.{fn}", list(args), {}), getattr(np, fn)(*args)
        assert ours == theirs and type(ours) is type(theirs.item()), (fn, args, ours, theirs)
    with pytest.raises(purefuncs.Raises):
        purefuncs.compute("numpy.power", [2, -1], {})  # numpy raises for ints to negative powers
    for fn, args in [("power", [10, 30]), ("sqrt", [-1]), ("floor", [3])]:
        with pytest.raises(purefuncs.NotModeled):  # int64 wraps around; nan; an int or a float by numpy's version
            purefuncs.compute(f"numpy.{fn}", args, {})


def test_a_kernel_size_from_np_power_builds_statically(case, static_project) -> None:
    """stargan's Discriminator: `kernel_size = int(image_size / np.power(2, repeat_num))`."""
    case.write("model.py", """
        import numpy as np
        import torch.nn as nn


        class Discriminator(nn.Module):
            def __init__(self, image_size=128, repeat_num=6):
                super().__init__()
                kernel_size = int(image_size / np.power(2, repeat_num))
                self.conv = nn.Conv2d(8, 5, kernel_size=kernel_size, bias=False)
    """)
    case.torch("import torch, sys; sys.path.insert(0, '.'); from model import Discriminator; "
               "torch.save(Discriminator(image_size=256).state_dict(), 'd.pt')")
    main = case.write("main.py", "import torch\nfrom model import Discriminator\nD = Discriminator()\n"
                                 "D.load_state_dict(torch.load('d.pt'))\n")
    analysis = static_project.analyze(str(main))
    assert analysis.reports[0].how == "static", [f.message for f in analysis.findings]
    (f,) = analysis.findings
    assert f.code == "size-mismatch" and "[5, 8, 4, 4]" in f.message and "[5, 8, 2, 2]" in f.message, f.message
    assert "size mismatch for conv.weight" in case.run().stderr
