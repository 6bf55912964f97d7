import { manifest, state, declaredDefaults } from "./vscodeMock";
import * as assert from "node:assert/strict";
import * as os from "node:os";
import { beforeEach, describe, test } from "node:test";
import { expandPath, normalizeSettings, readSettings } from "../../extension/src/settings";

const properties = manifest.contributes.configuration.properties as Record<string, Record<string, unknown>>;

describe("settings declared in package.json", () => {
  test("every setting the issue names is declared once, with a markdownDescription", () => {
    const expected = [
      "weightmatch.interpreter",
      "weightmatch.executeModelCode",
      "weightmatch.staticInferenceFirst",
      "weightmatch.checkpointSearchPaths",
      "weightmatch.severityOverrides",
      "weightmatch.workerTimeoutSeconds",
      "weightmatch.logLevel",
      "weightmatch.showUnresolvedLoads",
      "weightmatch.scriptArguments",
      "weightmatch.trace.server",
    ];
    assert.deepEqual(Object.keys(properties).sort(), [...expected].sort());
    for (const key of expected) {
      assert.ok(typeof properties[key].markdownDescription === "string", `${key} has a markdownDescription`);
      assert.ok("default" in properties[key], `${key} has a default`);
    }
  });

  test("declared types and enums", () => {
    assert.equal(properties["weightmatch.interpreter"].type, "string");
    assert.equal(properties["weightmatch.executeModelCode"].type, "boolean");
    assert.equal(properties["weightmatch.staticInferenceFirst"].type, "boolean");
    assert.equal(properties["weightmatch.staticInferenceFirst"].default, true);
    assert.equal(properties["weightmatch.showUnresolvedLoads"].type, "boolean");
    assert.equal(properties["weightmatch.showUnresolvedLoads"].default, true);
    assert.equal(properties["weightmatch.checkpointSearchPaths"].type, "array");
    assert.equal(properties["weightmatch.severityOverrides"].type, "object");
    assert.deepEqual(
      (properties["weightmatch.severityOverrides"].additionalProperties as { enum: string[] }).enum,
      ["error", "warning", "information", "hint", "off"],
    );
    assert.equal(properties["weightmatch.workerTimeoutSeconds"].type, "number");
    assert.equal(properties["weightmatch.scriptArguments"].type, "object");
    assert.deepEqual(properties["weightmatch.scriptArguments"].default, {});
    assert.deepEqual(properties["weightmatch.logLevel"].enum, ["error", "warning", "info", "debug"]);
  });

  test("restricted in untrusted workspaces: the settings that run code", () => {
    const trust = manifest.capabilities.untrustedWorkspaces;
    assert.equal(trust.supported, "limited");
    assert.ok(trust.description.length > 0);
    assert.deepEqual(trust.restrictedConfigurations, ["weightmatch.interpreter", "weightmatch.executeModelCode"]);
  });

  test("commands, activation and the checkpoint viewer are contributed", () => {
    const commands = Object.fromEntries(
      (manifest.contributes.commands as { command: string; title: string }[]).map((c) => [c.command, c.title]),
    );
    assert.equal(commands["weightmatch.restartServer"], "Restart Server");
    assert.equal(commands["weightmatch.showOutput"], "Show Output");
    assert.equal(commands["weightmatch.showCheckpoint"], "Show Checkpoint Contents");
    assert.ok(manifest.activationEvents.includes("onLanguage:python"));
    const editors = manifest.contributes.customEditors as {
      viewType: string;
      priority: string;
      selector: { filenamePattern: string }[];
    }[];
    const byPattern = new Map(editors.flatMap((e) => e.selector.map((s) => [s.filenamePattern, e] as const)));
    for (const p of ["*.pt", "*.pth", "*.ckpt", "*.bin", "*.safetensors"]) {
      assert.equal(byPattern.get(p)?.viewType, "weightmatch.checkpointViewer", p);
      assert.equal(byPattern.get(p)?.priority, "default", p);
    }
    assert.equal(byPattern.get("*.index.json")?.priority, "option");
  });
});

describe("readSettings", () => {
  beforeEach(() => state.reset());

  test("with nothing set, gives package.json's defaults", () => {
    const d = declaredDefaults();
    assert.deepEqual(readSettings(), {
      interpreter: d["weightmatch.interpreter"],
      executeModelCode: d["weightmatch.executeModelCode"],
      checkpointSearchPaths: d["weightmatch.checkpointSearchPaths"],
      severityOverrides: d["weightmatch.severityOverrides"],
      workerTimeoutSeconds: d["weightmatch.workerTimeoutSeconds"],
      logLevel: d["weightmatch.logLevel"],
    });
  });

  test("fallbacks for broken values agree with the declared defaults", () => {
    assert.deepEqual(normalizeSettings({}), readSettings());
    assert.deepEqual(
      normalizeSettings({ workerTimeoutSeconds: "soon", logLevel: "loud", checkpointSearchPaths: "x", severityOverrides: 3 }),
      readSettings(),
    );
  });

  test("user values are read and cleaned", () => {
    state.settings["weightmatch.interpreter"] = "  /opt/py/bin/python ";
    state.settings["weightmatch.executeModelCode"] = false;
    state.settings["weightmatch.checkpointSearchPaths"] = ["ckpts", 3, ""];
    state.settings["weightmatch.severityOverrides"] = { "unexpected-keys": "hint", "missing-keys": "loud" };
    state.settings["weightmatch.workerTimeoutSeconds"] = -1;
    state.settings["weightmatch.logLevel"] = "debug";
    const s = readSettings();
    assert.equal(s.interpreter, "/opt/py/bin/python");
    assert.equal(s.executeModelCode, false);
    assert.deepEqual(s.checkpointSearchPaths, ["ckpts"]);
    assert.deepEqual(s.severityOverrides, { "unexpected-keys": "hint" });
    assert.equal(s.workerTimeoutSeconds, declaredDefaults()["weightmatch.workerTimeoutSeconds"]);
    assert.equal(s.logLevel, "debug");
  });
});

describe("expandPath", () => {
  test("expands the home folder and the workspace folder", () => {
    assert.equal(expandPath("~/venv/bin/python"), `${os.homedir()}/venv/bin/python`);
    assert.equal(expandPath("${workspaceFolder}/.venv/bin/python", "/ws"), "/ws/.venv/bin/python");
  });

  test("relative paths are taken from the workspace folder; bare names are left to PATH", () => {
    assert.equal(expandPath(".venv/bin/python", "/ws"), "/ws/.venv/bin/python");
    assert.equal(expandPath("python3.12", "/ws"), "python3.12");
  });
});
