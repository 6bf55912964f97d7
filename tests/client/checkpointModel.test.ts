import * as assert from "node:assert/strict";
import { describe, test } from "node:test";
import { buildView, CheckpointContents, formatBytes, isTrainingCheckpoint } from "../../extension/src/checkpointModel";

function contents(entries: CheckpointContents["entries"], extra: Partial<CheckpointContents> = {}): CheckpointContents {
  return {
    path: "/ws/ckpt/model.pt",
    format: "torch-zip",
    size: 4096,
    tensorCount: 0,
    torchscript: false,
    unsafeGlobals: [],
    shards: [],
    entries,
    error: null,
    ...extra,
  };
}

const plain = [
  { key: "fc1.weight", shape: [20, 10], dtype: "float32", nbytes: 800 },
  { key: "fc1.bias", shape: [20], dtype: "float32", nbytes: 80 },
  { key: "features.0.weight", shape: [8, 3, 3, 3], dtype: "float32", nbytes: 864 },
];

const training = [
  { key: "model_state_dict.fc.weight", shape: [2, 10], dtype: "float32", nbytes: 80 },
  { key: "model_state_dict.fc.bias", shape: [2], dtype: "float32", nbytes: 8 },
  { key: "optimizer_state_dict.param_groups", shape: null, dtype: null, nbytes: null },
  { key: "epoch", shape: null, dtype: null, nbytes: null },
];

describe("checkpoint view", () => {
  test("a bare state_dict is grouped by module", () => {
    assert.equal(isTrainingCheckpoint(plain), false);
    const view = buildView(contents(plain));
    assert.deepEqual(view.groups.map((g) => g.name), ["fc1", "features.0"]);
    assert.deepEqual(view.groups[0].rows.map((r) => [r.name, r.shape, r.parameters]), [
      ["weight", "[20, 10]", 200],
      ["bias", "[20]", 20],
    ]);
    assert.equal(view.totals.tensors, 3);
    assert.equal(view.totals.parameters, 200 + 20 + 216);
    assert.equal(view.totals.bytes, 800 + 80 + 864);
    assert.equal(view.title, "model.pt");
    assert.deepEqual(view.warnings, []);
  });

  test("a training checkpoint is grouped by its top-level keys", () => {
    assert.equal(isTrainingCheckpoint(training), true);
    const view = buildView(contents(training));
    assert.deepEqual(view.groups.map((g) => g.name), ["model_state_dict", "optimizer_state_dict", "(top level)"]);
    assert.deepEqual(view.groups[0].rows.map((r) => r.name), ["fc.weight", "fc.bias"]);
    assert.equal(view.groups[2].rows[0].shape, "—");
    assert.equal(view.totals.tensors, 2);
    assert.equal(view.totals.parameters, 22);
  });

  test("unsafe globals and TorchScript raise a warning banner", () => {
    const view = buildView(contents(plain, { unsafeGlobals: ["os.system"], torchscript: true }));
    assert.equal(view.warnings.length, 2);
    assert.match(view.warnings.join("\n"), /TorchScript/);
    assert.match(view.warnings.join("\n"), /os\.system/);
  });

  test("errors and shards pass through", () => {
    const view = buildView(contents([], { error: "not a checkpoint", shards: ["a.safetensors", "b.safetensors"] }));
    assert.equal(view.error, "not a checkpoint");
    assert.equal(view.shards.length, 2);
    assert.equal(view.groups.length, 0);
  });

  test("sizes read as people write them", () => {
    assert.equal(formatBytes(80), "80 B");
    assert.equal(formatBytes(2048), "2.00 KB");
    assert.equal(formatBytes(5 * 1024 * 1024 * 1024), "5.00 GB");
    assert.equal(formatBytes(300 * 1024 * 1024), "300.0 MB");
  });
});
