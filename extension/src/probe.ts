import { execFile } from "child_process";
import * as os from "os";
import type { PythonCommand } from "./python";

/** What the chosen interpreter can import; decides whether models can be built exactly. */
export interface ProbeResult {
  ok: boolean;
  python: string | null;
  executable: string | null;
  torch: string | null;
  torchvision: string | null;
  /** Why the interpreter did not run, or why torch did not import. */
  error: string | null;
}

const MARKER = "WEIGHTMATCH_PROBE ";

// Printed behind a marker because importing torch may print warnings of its own.
export const PROBE_SCRIPT = [
  "import json, sys",
  "r = {'python': sys.version.split()[0], 'executable': sys.executable, 'torch': None, 'torchvision': None, 'error': None}",
  "try:",
  "    import torch; r['torch'] = str(torch.__version__)",
  "except BaseException as e:",
  "    r['error'] = '%s: %s' % (type(e).__name__, e)",
  "if r['torch']:",
  "    try:",
  "        import torchvision; r['torchvision'] = str(torchvision.__version__)",
  "    except BaseException:",
  "        pass",
  `print(${JSON.stringify(MARKER)} + json.dumps(r))`,
].join("\n");

export function parseProbeOutput(stdout: string): ProbeResult | undefined {
  const line = stdout.split(/\r?\n/).find((l) => l.startsWith(MARKER));
  if (!line) return undefined;
  try {
    const data = JSON.parse(line.slice(MARKER.length));
    return {
      ok: true,
      python: data.python ?? null,
      executable: data.executable ?? null,
      torch: data.torch ?? null,
      torchvision: data.torchvision ?? null,
      error: data.error ?? null,
    };
  } catch {
    return undefined;
  }
}

export type ExecFn = (
  file: string,
  args: string[],
  options: { timeout: number; cwd: string; env: NodeJS.ProcessEnv },
  callback: (error: (Error & { killed?: boolean; code?: unknown }) | null, stdout: string, stderr: string) => void,
) => void;

/**
 * Runs `<python> -c "import torch…"` with a time limit. Never rejects: a missing interpreter,
 * a timeout or a crash all come back as `ok: false` with the reason.
 */
export function probeInterpreter(
  command: PythonCommand,
  timeoutMs: number,
  exec: ExecFn = execFile as unknown as ExecFn,
): Promise<ProbeResult> {
  const failed = (error: string): ProbeResult => ({
    ok: false,
    python: null,
    executable: null,
    torch: null,
    torchvision: null,
    error,
  });
  return new Promise((resolve) => {
    // Run from a neutral folder so a workspace file named torch.py cannot shadow the real one.
    exec(
      command.executable,
      [...command.args, "-c", PROBE_SCRIPT],
      { timeout: timeoutMs, cwd: os.tmpdir(), env: process.env },
      (error, stdout, stderr) => {
        const parsed = parseProbeOutput(stdout ?? "");
        if (parsed) return resolve(parsed);
        if (error?.killed) return resolve(failed(`timed out after ${Math.round(timeoutMs / 1000)} s`));
        if (error && (error as { code?: unknown }).code === "ENOENT") {
          return resolve(failed(`${command.executable} not found`));
        }
        const why = (stderr ?? "").trim().split(/\r?\n/).pop() || error?.message || "no output";
        resolve(failed(why));
      },
    );
  });
}
