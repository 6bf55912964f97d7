from weightmatch.keygroups import group_keys, summarize_keys


def transformer_keys(n: int = 12) -> list[str]:
    return [f"layers.{i}.attn.{p}" for i in range(n) for p in ("weight", "bias")]


def test_contiguous_range():
    keys = [f"layers.{i}.attn.weight" for i in range(12)]
    assert group_keys(keys) == ["layers.{0..11}.attn.weight"]


def test_non_contiguous_and_runs():
    assert group_keys(["layers.0.x", "layers.2.x", "layers.5.x"]) == ["layers.{0,2,5}.x"]
    assert group_keys([f"x.{i}.w" for i in (3, 4, 5, 7)]) == ["x.{3..5,7}.w"]
    assert group_keys(["x.1.w", "x.2.w"]) == ["x.{1,2}.w"]


def test_order_kept_and_singletons_untouched():
    keys = [*transformer_keys(3), "head.weight", "layers.9.norm.weight"]
    assert group_keys(keys) == ["layers.{0..2}.attn.weight", "layers.{0..2}.attn.bias",
                                "head.weight", "layers.9.norm.weight"]


def test_nested_indices_merge_only_where_sets_agree():
    keys = [f"stages.{s}.blocks.{b}.conv.weight" for s in range(2) for b in range(3)]
    assert group_keys(keys) == ["stages.{0,1}.blocks.{0..2}.conv.weight"]
    keys = ["stages.0.blocks.0.w", "stages.0.blocks.1.w", "stages.1.blocks.0.w"]
    assert group_keys(keys) == ["stages.{0,1}.blocks.0.w", "stages.0.blocks.1.w"]


def test_resnet_names_are_not_numbers():
    keys = ["layer1.0.conv1.weight", "layer2.0.conv1.weight", "layer1.1.conv1.weight"]
    assert group_keys(keys) == ["layer1.{0,1}.conv1.weight", "layer2.0.conv1.weight"]


def test_names_option_and_duplicates():
    assert group_keys(["fc.weight", "fc.bias", "fc.weight"], names=True) == ["fc.{weight,bias}"]
    assert group_keys([]) == []
    assert group_keys(["weight", "bias"], names=True) == ["weight", "bias"]


def test_summaries():
    assert summarize_keys(["fc.weight", "fc.bias"]) == "fc.weight, fc.bias"
    keys = [*transformer_keys(12), "a.x", "b.x", "c.x", "d.x", "e.x"]
    assert summarize_keys(keys, limit=3) == "layers.{0..11}.attn.{weight,bias}, a.x, b.x and 3 more"
    assert summarize_keys(transformer_keys(12), limit=1) == "layers.{0..11}.attn.{weight,bias}"
    assert summarize_keys([]) == ""
