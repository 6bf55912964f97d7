import "./vscodeMock";
import * as assert from "node:assert/strict";
import * as path from "node:path";
import { describe, test } from "node:test";
import { manifest } from "./vscodeMock";
import {
  buildLaunchSpec, chooseLibraryPath, debugLibraryPath, initializationOptions, launchEnv, libraryLayout, sameLaunch,
} from "../../extension/src/launch";

const layout = libraryLayout("/ext");
const both = (p: string) => p === "/ext/extension/bundled/libs/weightmatch" || p === "/ext/server/weightmatch";
const onlyBundled = (p: string) => p === "/ext/extension/bundled/libs/weightmatch";
const onlySource = (p: string) => p === "/ext/server/weightmatch";

describe("library path", () => {
  test("a packaged extension uses its bundled libraries only", () => {
    assert.deepEqual(chooseLibraryPath(layout, false, both), ["/ext/extension/bundled/libs"]);
    assert.deepEqual(chooseLibraryPath(layout, false, onlyBundled), ["/ext/extension/bundled/libs"]);
  });

  test("development puts the server's source first", () => {
    assert.deepEqual(chooseLibraryPath(layout, true, both), ["/ext/server", "/ext/extension/bundled/libs"]);
    assert.deepEqual(chooseLibraryPath(layout, true, onlySource), ["/ext/server"]);
    assert.deepEqual(chooseLibraryPath(layout, false, onlySource), ["/ext/server"]);
  });

  test("nothing found: the interpreter's own packages", () => {
    assert.deepEqual(chooseLibraryPath(layout, false, () => false), []);
  });
});

describe("launch spec", () => {
  const spec = buildLaunchSpec({ executable: "/v/bin/python", args: ["-X", "utf8"] }, ["/libs"], "/home");

  test("runs `python -m weightmatch serve` from the library folder", () => {
    assert.deepEqual(spec, {
      command: "/v/bin/python",
      args: ["-X", "utf8", "-m", "weightmatch", "serve"],
      pythonPath: ["/libs"],
      cwd: "/libs",
    });
    assert.equal(buildLaunchSpec({ executable: "python3", args: [] }, [], "/home").cwd, "/home");
  });

  test("only a different command counts as a change", () => {
    const same = buildLaunchSpec({ executable: "/v/bin/python", args: ["-X", "utf8"] }, ["/libs"], "/home");
    const other = buildLaunchSpec({ executable: "/w/bin/python", args: ["-X", "utf8"] }, ["/libs"], "/home");
    assert.ok(sameLaunch(spec, same));
    assert.ok(!sameLaunch(spec, other));
    assert.ok(!sameLaunch(undefined, spec));
  });

  test("PYTHONPATH puts the bundled libraries before the user's own", () => {
    const env = launchEnv(spec, { PATH: "/bin", PYTHONPATH: "/mine" });
    assert.equal(env.PYTHONPATH, ["/libs", "/mine"].join(path.delimiter));
    assert.equal(env.PATH, "/bin");
    assert.equal(launchEnv(spec, {}).PYTHONPATH, "/libs");
  });
});

describe("debug runs", () => {
  test("add the debugpy extension's libraries only when a debug port is set", () => {
    assert.deepEqual(debugLibraryPath({ WEIGHTMATCH_DEBUG_PORT: "5678" }, "/exts/debugpy"), ["/exts/debugpy/bundled/libs"]);
    assert.deepEqual(debugLibraryPath({}, "/exts/debugpy"), []);
    assert.deepEqual(debugLibraryPath({ WEIGHTMATCH_DEBUG_PORT: "5678" }, undefined), []);
  });
});

describe("initializationOptions", () => {
  test("say whether the workspace is trusted and which contributed commands the client runs", () => {
    const options = initializationOptions(false);
    assert.equal(options.trusted, false);
    assert.deepEqual(options.clientCommands, ["weightmatch.showCheckpoint"]);
    const contributed = (manifest.contributes.commands as { command: string }[]).map((c) => c.command);
    for (const command of options.clientCommands) assert.ok(contributed.includes(command), command);
  });
});
