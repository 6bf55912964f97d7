import * as path from "path";
import { isDeepStrictEqual } from "util";
import type { PythonCommand } from "./python";

/** Everything that decides how the server process is started; a change means a restart. */
export interface LaunchSpec {
  command: string;
  args: string[];
  /** Prepended to PYTHONPATH: where weightmatch, pygls and lsprotocol are imported from. */
  pythonPath: string[];
  /** Also the server's working folder, so that nothing in the workspace shadows a module. */
  cwd: string;
}

export interface LibraryLayout {
  /** `<extension>/extension/bundled/libs`, made by `npm run bundle-libs` (packaged builds). */
  bundledLibs: string;
  /** `<extension>/server`, the package's source, present in a development checkout. */
  serverSource: string;
}

export function libraryLayout(extensionRoot: string): LibraryLayout {
  return {
    bundledLibs: path.join(extensionRoot, "extension", "bundled", "libs"),
    serverSource: path.join(extensionRoot, "server"),
  };
}

/**
 * Packaged: the bundled libraries only. Development (F5): the server's source first, so edits
 * take effect on restart, then the bundled libraries if they were built (else the interpreter's
 * own pygls, e.g. the repo's .venv).
 */
export function chooseLibraryPath(
  layout: LibraryLayout,
  development: boolean,
  exists: (p: string) => boolean,
): string[] {
  const bundled = exists(path.join(layout.bundledLibs, "weightmatch")) ? [layout.bundledLibs] : [];
  const source = exists(path.join(layout.serverSource, "weightmatch")) ? [layout.serverSource] : [];
  if (development) return [...source, ...bundled];
  return bundled.length > 0 ? bundled : source;
}

/**
 * In a debug run (WEIGHTMATCH_DEBUG_PORT set, see .vscode/launch.json) the server imports
 * debugpy; the debugpy extension's copy is used when the interpreter has none.
 */
export function debugLibraryPath(env: NodeJS.ProcessEnv, debugpyExtensionPath: string | undefined): string[] {
  if (!env.WEIGHTMATCH_DEBUG_PORT || !debugpyExtensionPath) return [];
  return [path.join(debugpyExtensionPath, "bundled", "libs")];
}

export function buildLaunchSpec(python: PythonCommand, pythonPath: string[], fallbackCwd: string): LaunchSpec {
  return {
    command: python.executable,
    args: [...python.args, "-m", "weightmatch", "serve"],
    pythonPath,
    cwd: pythonPath[0] ?? fallbackCwd,
  };
}

export function sameLaunch(a: LaunchSpec | undefined, b: LaunchSpec | undefined): boolean {
  return isDeepStrictEqual(a, b);
}

/** The server's environment: ours plus PYTHONPATH, keeping any PYTHONPATH the user had. */
export function launchEnv(spec: LaunchSpec, base: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const existing = base.PYTHONPATH ? [base.PYTHONPATH] : [];
  return {
    ...base,
    PYTHONPATH: [...spec.pythonPath, ...existing].join(path.delimiter),
    PYTHONUNBUFFERED: "1",
    PYTHONIOENCODING: "utf-8",
  };
}

/** Commands the extension runs itself; the server may put them on code lenses. */
export const CLIENT_COMMANDS = ["weightmatch.showCheckpoint"];

/** The server's initializationOptions: workspace trust, and which commands this client runs. */
export function initializationOptions(trusted: boolean): { trusted: boolean; clientCommands: string[] } {
  return { trusted, clientCommands: [...CLIENT_COMMANDS] };
}
