import "./vscodeMock";
import * as assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { ProbeResult } from "../../extension/src/probe";
import type { ResolvedInterpreter } from "../../extension/src/python";
import { describeStatus, StatusInput } from "../../extension/src/status";

const interpreter: ResolvedInterpreter = { command: { executable: "/v/bin/python", args: [] }, source: "setting" };
const withTorch: ProbeResult = { ok: true, python: "3.11.7", executable: "/v/bin/python", torch: "2.13.0+cpu", torchvision: "0.28.0", error: null };
const noTorch: ProbeResult = { ...withTorch, torch: null, torchvision: null, error: "ModuleNotFoundError: No module named 'torch'" };
const base: StatusInput = { client: "running", trusted: true, executeModelCode: true, interpreter };

describe("language status", () => {
  test("ready with torch shows the worker and torch version", () => {
    const view = describeStatus({
      ...base,
      probe: withTorch,
      server: { state: "ready", worker: "ready", torch: "2.13.0+cpu" },
    });
    assert.equal(view.text, "Weight Match: ready");
    assert.match(view.detail, /worker ready/);
    assert.match(view.detail, /torch 2\.13\.0\+cpu/);
    assert.equal(view.severity, "information");
    assert.equal(view.busy, false);
  });

  test("a worker not started yet is not mistaken for execution being off", () => {
    const view = describeStatus({
      ...base,
      probe: withTorch,
      server: { state: "ready", worker: "off", torch: null },
    });
    assert.equal(view.text, "Weight Match: ready");
    assert.match(view.detail, /worker not started \(static inference answered every model so far\)/);
    assert.match(view.detail, /torch 2\.13\.0\+cpu/);
    const off = describeStatus({ ...base, executeModelCode: false, server: { state: "ready", worker: "static-only", torch: null } });
    assert.equal(off.text, "Weight Match: static inference");
  });

  test("without torch: static only, with a button to pick another interpreter", () => {
    const view = describeStatus({ ...base, probe: noTorch });
    assert.match(view.text, /static only \(no torch\)/);
    assert.match(view.detail, /torch cannot be imported by \/v\/bin\/python/);
    assert.equal(view.severity, "warning");
    assert.deepEqual(view.command, { title: "Select Interpreter", command: "weightmatch.selectInterpreter" });
  });

  test("the server's own static-only report has the same effect", () => {
    const view = describeStatus({ ...base, server: { state: "ready", worker: "static-only", torch: null, message: "no torch" } });
    assert.equal(view.command.command, "weightmatch.selectInterpreter");
  });

  test("an untrusted workspace says why no model code runs", () => {
    const view = describeStatus({ ...base, trusted: false, probe: withTorch });
    assert.match(view.text, /Restricted Mode/);
    assert.match(view.detail, /not trusted/);
    assert.match(view.detail, /no model code is run/);
  });

  test("busy while the server starts or analyses", () => {
    assert.equal(describeStatus({ ...base, client: "starting" }).busy, true);
    const busy = describeStatus({ ...base, probe: withTorch, server: { state: "busy", worker: "ready", torch: "2.13.0" } });
    assert.equal(busy.busy, true);
    assert.equal(busy.text, "Weight Match: analysing");
  });

  test("failures point at the logs", () => {
    const failed = describeStatus({ ...base, client: "failed", failure: "spawn python3 ENOENT" });
    assert.equal(failed.severity, "error");
    assert.equal(failed.detail, "spawn python3 ENOENT");
    assert.equal(failed.command.command, "weightmatch.showOutput");
    const error = describeStatus({ ...base, server: { state: "error", worker: "off", torch: null, message: "index failed" } });
    assert.equal(error.severity, "error");
    assert.equal(error.command.title, "Show Logs");
  });

  test("model execution switched off, and a crashed worker", () => {
    assert.match(describeStatus({ ...base, executeModelCode: false, probe: withTorch }).text, /static inference/);
    const crashed = describeStatus({ ...base, probe: withTorch, server: { state: "ready", worker: "crashed", torch: "2.13.0" } });
    assert.match(crashed.text, /worker crashed/);
  });
});
