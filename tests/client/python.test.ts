import { state, vscode } from "./vscodeMock";
import * as assert from "node:assert/strict";
import { beforeEach, describe, test } from "node:test";
import type * as vs from "vscode";
import {
  DEFAULT_PYTHON,
  EnvironmentProvider,
  PYTHON_EXTENSION_ID,
  pythonExtensionProvider,
  resolveInterpreter,
} from "../../extension/src/python";

const folder = vscode.Uri.file("/ws") as unknown as vs.Uri;

function fakeProvider(executable: string | undefined, fail = false): EnvironmentProvider {
  return {
    onDidChangeActiveInterpreter: new vscode.EventEmitter<void>().event as unknown as vs.Event<void>,
    async activeInterpreter() {
      if (fail) throw new Error("Python extension broke");
      return executable ? { executable, args: [] } : undefined;
    },
    async selectInterpreter() {},
  };
}

describe("resolveInterpreter", () => {
  test("weightmatch.interpreter wins over the Python extension", async () => {
    const r = await resolveInterpreter("/opt/py/bin/python", folder, fakeProvider("/env/bin/python"));
    assert.deepEqual(r, { command: { executable: "/opt/py/bin/python", args: [] }, source: "setting" });
  });

  test("the setting may name the workspace folder", async () => {
    const r = await resolveInterpreter("${workspaceFolder}/.venv/bin/python", folder, undefined);
    assert.equal(r.command.executable, "/ws/.venv/bin/python");
  });

  test("without the setting, the Python extension's active environment", async () => {
    const r = await resolveInterpreter("", folder, fakeProvider("/env/bin/python"));
    assert.deepEqual(r, { command: { executable: "/env/bin/python", args: [] }, source: "python-extension" });
  });

  test("without either (code-server has no Python extension): python3", async () => {
    const r = await resolveInterpreter("", folder, undefined);
    assert.deepEqual(r, { command: { executable: DEFAULT_PYTHON, args: [] }, source: "default" });
    assert.equal(DEFAULT_PYTHON, "python3");
  });

  test("a Python extension with no environment, or a failing one, falls back to python3", async () => {
    assert.equal((await resolveInterpreter("", folder, fakeProvider(undefined))).source, "default");
    assert.equal((await resolveInterpreter("", folder, fakeProvider("x", true))).source, "default");
  });
});

describe("pythonExtensionProvider", () => {
  beforeEach(() => state.reset());

  test("is undefined when ms-python.python is not installed", async () => {
    assert.equal(await pythonExtensionProvider(() => undefined), undefined);
  });

  test("reads the active environment through the environments API", async () => {
    const changed = new vscode.EventEmitter<unknown>();
    let activated = false;
    state.extensions[PYTHON_EXTENSION_ID] = {
      isActive: false,
      async activate() {
        activated = true;
        return {
          environments: {
            getActiveEnvironmentPath: () => ({ path: "/env" }),
            resolveEnvironment: async (env: { path: string }) => ({
              executable: { uri: vscode.Uri.file(`${env.path}/bin/python`) },
            }),
            onDidChangeActiveEnvironmentPath: changed.event,
          },
        };
      },
    };
    const provider = await pythonExtensionProvider(() => undefined);
    assert.ok(provider);
    assert.ok(activated);
    assert.deepEqual(await provider.activeInterpreter(), { executable: "/env/bin/python", args: [] });

    let fired = 0;
    provider.onDidChangeActiveInterpreter(() => (fired += 1));
    changed.fire({ path: "/other" });
    assert.equal(fired, 1);

    await provider.selectInterpreter();
    assert.deepEqual(state.executed, [["python.setInterpreter"]]);
  });

  test("falls back to the older execution-details API", async () => {
    state.extensions[PYTHON_EXTENSION_ID] = {
      isActive: true,
      exports: { settings: { getExecutionDetails: () => ({ execCommand: ["/usr/bin/python3.11", "-X", "utf8"] }) } },
    };
    const provider = await pythonExtensionProvider(() => undefined);
    assert.deepEqual(await provider!.activeInterpreter(), { executable: "/usr/bin/python3.11", args: ["-X", "utf8"] });
  });

  test("an extension that fails to activate is reported and ignored", async () => {
    const errors: string[] = [];
    state.extensions[PYTHON_EXTENSION_ID] = {
      isActive: false,
      activate: async () => {
        throw new Error("boom");
      },
    };
    assert.equal(await pythonExtensionProvider((m) => errors.push(m)), undefined);
    assert.equal(errors.length, 1);
  });
});
