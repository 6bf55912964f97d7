import * as vscode from "vscode";
import { expandPath } from "./settings";

/** A command that starts Python: the executable and any arguments before our own. */
export interface PythonCommand {
  executable: string;
  args: string[];
}

export type InterpreterSource = "setting" | "python-extension" | "default";

export interface ResolvedInterpreter {
  command: PythonCommand;
  source: InterpreterSource;
}

/**
 * Where an active Python environment can come from besides our own setting. The one
 * implementation talks to the Python extension; tests pass a fake; code-server has none.
 */
export interface EnvironmentProvider {
  /** The active interpreter for a folder, or undefined when the provider does not know one. */
  activeInterpreter(resource?: vscode.Uri): Promise<PythonCommand | undefined>;
  /** Fires when the user picks another environment. */
  readonly onDidChangeActiveInterpreter: vscode.Event<void>;
  /** Opens the provider's own interpreter picker. */
  selectInterpreter(): Promise<void>;
}

export const DEFAULT_PYTHON = "python3";

/**
 * The one rule for choosing the server's interpreter:
 * `weightmatch.interpreter`, else the Python extension's active environment, else `python3`.
 */
export async function resolveInterpreter(
  setting: string,
  workspaceFolder: vscode.Uri | undefined,
  provider: EnvironmentProvider | undefined,
): Promise<ResolvedInterpreter> {
  if (setting.length > 0) {
    return {
      command: { executable: expandPath(setting, workspaceFolder?.fsPath), args: [] },
      source: "setting",
    };
  }
  if (provider) {
    try {
      const active = await provider.activeInterpreter(workspaceFolder);
      if (active && active.executable.length > 0) {
        return { command: active, source: "python-extension" };
      }
    } catch {
      // A broken Python extension must not keep the server from starting: fall through.
    }
  }
  return { command: { executable: DEFAULT_PYTHON, args: [] }, source: "default" };
}

export const PYTHON_EXTENSION_ID = "ms-python.python";

/** The parts of the Python extension's exported API that we use. */
interface PythonExtensionApi {
  environments?: {
    getActiveEnvironmentPath(resource?: vscode.Uri): { path: string };
    resolveEnvironment(
      env: { path: string } | string,
    ): Promise<{ executable: { uri?: vscode.Uri } } | undefined>;
    onDidChangeActiveEnvironmentPath: vscode.Event<unknown>;
  };
  settings?: {
    getExecutionDetails(resource?: vscode.Uri): { execCommand: string[] | undefined };
    onDidChangeExecutionDetails?: vscode.Event<unknown>;
  };
}

/** Facade over the ms-python.python API; undefined when that extension is not installed. */
export async function pythonExtensionProvider(
  onError: (message: string, err: unknown) => void,
): Promise<EnvironmentProvider | undefined> {
  const extension = vscode.extensions.getExtension<PythonExtensionApi>(PYTHON_EXTENSION_ID);
  if (!extension) return undefined;
  let api: PythonExtensionApi;
  try {
    api = extension.isActive ? extension.exports : await extension.activate();
  } catch (err) {
    onError("Could not activate the Python extension", err);
    return undefined;
  }
  if (!api) return undefined;

  const changed = new vscode.EventEmitter<void>();
  api.environments?.onDidChangeActiveEnvironmentPath(() => changed.fire());
  api.settings?.onDidChangeExecutionDetails?.(() => changed.fire());

  return {
    onDidChangeActiveInterpreter: changed.event,
    async activeInterpreter(resource) {
      if (api.environments) {
        const active = api.environments.getActiveEnvironmentPath(resource);
        const resolved = await api.environments.resolveEnvironment(active);
        const executable = resolved?.executable.uri?.fsPath;
        if (executable) return { executable, args: [] };
      }
      const exec = api.settings?.getExecutionDetails(resource).execCommand;
      if (exec && exec.length > 0) return { executable: exec[0], args: exec.slice(1) };
      return undefined;
    },
    async selectInterpreter() {
      await vscode.commands.executeCommand("python.setInterpreter");
    },
  };
}
