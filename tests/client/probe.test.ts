import "./vscodeMock";
import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { describe, test } from "node:test";
import { ExecFn, parseProbeOutput, probeInterpreter } from "../../extension/src/probe";

const python = { executable: "python3", args: [] };

function fakeExec(error: object | null, stdout: string, stderr = ""): ExecFn {
  return (_file, _args, _options, callback) => callback(error as never, stdout, stderr);
}

describe("probe output", () => {
  test("is found behind its marker among torch's own warnings", () => {
    const out = [
      "UserWarning: something about numpy",
      'WEIGHTMATCH_PROBE {"python": "3.11.7", "executable": "/v/bin/python", "torch": "2.13.0+cpu", "torchvision": "0.28.0", "error": null}',
    ].join("\n");
    assert.deepEqual(parseProbeOutput(out), {
      ok: true,
      python: "3.11.7",
      executable: "/v/bin/python",
      torch: "2.13.0+cpu",
      torchvision: "0.28.0",
      error: null,
    });
    assert.equal(parseProbeOutput("nothing here"), undefined);
    assert.equal(parseProbeOutput("WEIGHTMATCH_PROBE {broken"), undefined);
  });
});

describe("probeInterpreter", () => {
  test("a missing interpreter is reported, not thrown", async () => {
    const r = await probeInterpreter(python, 1000, fakeExec(Object.assign(new Error("spawn"), { code: "ENOENT" }), ""));
    assert.equal(r.ok, false);
    assert.match(r.error!, /python3 not found/);
  });

  test("a timeout is reported", async () => {
    const r = await probeInterpreter(python, 2000, fakeExec(Object.assign(new Error("t"), { killed: true }), ""));
    assert.equal(r.ok, false);
    assert.match(r.error!, /timed out after 2 s/);
  });

  test("a crash gives the last line of stderr", async () => {
    const r = await probeInterpreter(python, 1000, fakeExec(new Error("exit 1"), "", "Traceback\nSyntaxError: bad"));
    assert.equal(r.error, "SyntaxError: bad");
  });

  test("runs the probe with the interpreter's arguments first, outside the workspace", async () => {
    let seen: { file: string; args: string[]; cwd: string } | undefined;
    const exec: ExecFn = (file, args, options, callback) => {
      seen = { file, args, cwd: options.cwd };
      callback(null, 'WEIGHTMATCH_PROBE {"python": "3.12.1", "torch": null, "error": "ModuleNotFoundError: No module named \'torch\'"}', "");
    };
    const r = await probeInterpreter({ executable: "/x/python", args: ["-X", "utf8"] }, 1000, exec);
    assert.equal(seen?.file, "/x/python");
    assert.deepEqual(seen?.args.slice(0, 3), ["-X", "utf8", "-c"]);
    assert.notEqual(seen?.cwd, process.cwd());
    assert.equal(r.ok, true);
    assert.equal(r.torch, null);
    assert.match(r.error!, /No module named 'torch'/);
  });

  const hasPython = (() => {
    try {
      execFileSync("python3", ["-c", "pass"]);
      return true;
    } catch {
      return false;
    }
  })();

  test("against a real interpreter it reports the Python version", { skip: !hasPython && "no python3" }, async () => {
    const r = await probeInterpreter(python, 60_000);
    assert.equal(r.ok, true);
    assert.match(r.python!, /^3\.\d+/);
  });

  test("a real missing interpreter", async () => {
    const r = await probeInterpreter({ executable: "/nonexistent/python", args: [] }, 5000);
    assert.equal(r.ok, false);
    assert.match(r.error!, /not found/);
  });
});
