import * as fs from "fs";
import * as os from "os";
import * as vscode from "vscode";
import {
  CloseAction,
  CloseHandlerResult,
  ErrorAction,
  ErrorHandlerResult,
  LanguageClient,
  LanguageClientOptions,
  RevealOutputChannelOn,
  ServerOptions,
  State,
} from "vscode-languageclient/node";
import {
  buildLaunchSpec, chooseLibraryPath, debugLibraryPath, initializationOptions, LaunchSpec, launchEnv, libraryLayout, sameLaunch,
} from "./launch";
import type { Logger } from "./logger";
import { probeInterpreter } from "./probe";
import { EnvironmentProvider, resolveInterpreter } from "./python";
import { RestartQueue } from "./restartQueue";
import { readSettings, SECTION } from "./settings";
import type { ServerStatus, StatusItem } from "./status";

/**
 * Python files, and the Python cells of Jupyter notebooks: the server syncs notebooks
 * itself (LSP 3.17 notebookDocumentSync), and requests on a cell (hover, code actions,
 * code lens) reach it through the notebook filter. No kernel and no Jupyter extension
 * are needed: VS Code's own notebook editor opens .ipynb files.
 */
export const PYTHON_SELECTOR: ({ scheme: string; language: string } | { notebook: string; language: string })[] = [
  { scheme: "file", language: "python" },
  { scheme: "untitled", language: "python" },
  { notebook: "jupyter-notebook", language: "python" },
];

export const CHECKPOINT_GLOB = "**/*.{pt,pth,ckpt,bin,safetensors,index.json}";

const PROBE_TIMEOUT_MS = 60_000;
const MAX_RESTARTS = 4;
const RESTART_WINDOW_MS = 3 * 60_000;

/**
 * The language client's own pop-ups ("couldn't create connection…", "Go to output") would
 * duplicate ours, which offer Show Logs and a way out; its messages still go to the log.
 */
class WeightMatchClient extends LanguageClient {
  override error(message: string, data?: unknown, _showNotification?: boolean | "force"): void {
    super.error(message, data, false);
  }

  override warn(message: string, data?: unknown, _showNotification?: boolean): void {
    super.warn(message, data, false);
  }
}

/**
 * Owns the language client: works out the launch command, starts the server, and restarts it
 * only when that command changes (or when asked to, or when workspace trust is granted).
 */
export class ServerManager implements vscode.Disposable {
  private client: LanguageClient | undefined;
  private launch: LaunchSpec | undefined;
  private watcher: vscode.FileSystemWatcher | undefined;
  private readonly queue = new RestartQueue((force) => this.apply(force));

  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly logger: Logger,
    private readonly status: StatusItem,
    private readonly environments: EnvironmentProvider | undefined,
  ) {}

  /** Starts or restarts as needed; `force` restarts even when the command is unchanged. */
  refresh(force = false): Promise<void> {
    return this.queue.request(force);
  }

  /** Sends a custom request once the server is up; throws with a readable reason otherwise. */
  async request<R>(method: string, params: unknown, token?: vscode.CancellationToken): Promise<R> {
    if (!this.client) await this.refresh();
    await this.queue.idle();
    const client = this.client;
    if (!client || client.state !== State.Running) {
      throw new Error("The Weight Match server is not running.");
    }
    return client.sendRequest<R>(method, params, token);
  }

  private folder(): vscode.Uri | undefined {
    const editor = vscode.window.activeTextEditor?.document.uri;
    return (editor && vscode.workspace.getWorkspaceFolder(editor)?.uri) ?? vscode.workspace.workspaceFolders?.[0]?.uri;
  }

  private async apply(force: boolean): Promise<void> {
    const folder = this.folder();
    const settings = readSettings(folder);
    this.logger.setLevel(settings.logLevel);
    const interpreter = await resolveInterpreter(settings.interpreter, folder, this.environments);
    const layout = libraryLayout(this.context.extensionPath);
    const development = this.context.extensionMode === vscode.ExtensionMode.Development;
    const debugpy = vscode.extensions.getExtension("ms-python.debugpy")?.extensionPath;
    const pythonPath = [
      ...chooseLibraryPath(layout, development, fs.existsSync),
      ...debugLibraryPath(process.env, debugpy),
    ];
    const spec = buildLaunchSpec(interpreter.command, pythonPath, os.homedir());

    // A client that failed to start is stopped: asking again (a settings event, the viewer) retries.
    const alive = this.client !== undefined && this.client.state !== State.Stopped;
    if (!force && alive && sameLaunch(spec, this.launch)) {
      this.logger.debug("Launch command unchanged; the server keeps running.");
      return;
    }
    await this.stop();
    if (pythonPath.length === 0) {
      this.logger.warn("No bundled server libraries were found; relying on the interpreter's own weightmatch.");
    }

    const trusted = vscode.workspace.isTrusted;
    this.launch = spec;
    this.status.update({
      client: "starting",
      trusted,
      executeModelCode: settings.executeModelCode,
      interpreter,
      probe: undefined,
      server: undefined,
      failure: undefined,
    });
    this.logger.info(`Interpreter (${interpreter.source}): ${[spec.command, ...interpreter.command.args].join(" ")}`);
    this.logger.info(`Server command: ${[spec.command, ...spec.args].join(" ")} (PYTHONPATH ${spec.pythonPath.join(", ") || "unchanged"})`);

    if (trusted) {
      // The probe runs beside the server start: it only feeds the status item.
      void probeInterpreter(interpreter.command, PROBE_TIMEOUT_MS).then((probe) => {
        if (this.launch !== spec) return;
        if (probe.torch) {
          this.logger.info(`Probe: Python ${probe.python}, torch ${probe.torch}, torchvision ${probe.torchvision ?? "absent"}`);
        } else {
          this.logger.warn(`Probe: torch is not importable with ${spec.command} (${probe.error}); models are inferred statically.`);
        }
        this.status.update({ probe });
      });
    } else {
      this.logger.info("Workspace is not trusted: no model code is run (static inference only).");
    }

    const client = this.createClient(spec, trusted);
    this.client = client;
    try {
      await client.start();
      this.status.update({ client: "running" });
      this.logger.info("Server started.");
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      this.status.update({ client: "failed", failure: reason });
      this.logger.error(`The server did not start with ${spec.command}`, err);
      void this.showStartFailure(spec.command);
    }
  }

  private async showStartFailure(python: string): Promise<void> {
    const choice = await this.logger.showError(
      `Weight Match: the server could not be started with ${python}.`,
      "Select Interpreter",
    );
    if (choice === "Select Interpreter") {
      await vscode.commands.executeCommand("weightmatch.selectInterpreter");
    }
  }

  private createClient(spec: LaunchSpec, trusted: boolean): LanguageClient {
    const serverOptions: ServerOptions = {
      command: spec.command,
      args: spec.args,
      options: { cwd: spec.cwd, env: launchEnv(spec, process.env) },
    };
    const watcher = vscode.workspace.createFileSystemWatcher(CHECKPOINT_GLOB);
    const restarts: number[] = [];
    const clientOptions: LanguageClientOptions = {
      documentSelector: PYTHON_SELECTOR,
      outputChannel: this.logger.channel,
      revealOutputChannelOn: RevealOutputChannelOn.Never,
      initializationOptions: initializationOptions(trusted),
      synchronize: { configurationSection: SECTION, fileEvents: watcher },
      errorHandler: {
        error: (): ErrorHandlerResult => ({ action: ErrorAction.Continue }),
        closed: (): CloseHandlerResult => {
          const now = Date.now();
          restarts.push(now);
          while (restarts.length > 0 && now - restarts[0] > RESTART_WINDOW_MS) restarts.shift();
          if (restarts.length <= MAX_RESTARTS) {
            this.logger.warn("The server stopped unexpectedly; restarting it.");
            return { action: CloseAction.Restart, handled: true };
          }
          this.status.update({ client: "failed", failure: "The server stopped repeatedly" });
          void this.logger.showError(
            `Weight Match: the server stopped ${restarts.length} times in 3 minutes and will not be restarted.`,
          );
          return { action: CloseAction.DoNotRestart, handled: true };
        },
      },
    };
    const client = new WeightMatchClient("weightmatch", "Weight Match", serverOptions, clientOptions);
    client.onNotification("weightmatch/status", (params: ServerStatus) => {
      if (this.client !== client) return;
      this.status.update({ server: params });
      if (params.state === "error" && params.message) this.logger.error(`Server: ${params.message}`);
    });
    client.onDidChangeState((event) => {
      if (this.client !== client) return;
      if (event.newState === State.Running) this.status.update({ client: "running" });
      if (event.newState === State.Starting) this.status.update({ client: "starting" });
    });
    this.watcher = watcher;
    return client;
  }

  private async stop(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    this.launch = undefined;
    this.watcher?.dispose();
    this.watcher = undefined;
    if (!client) return;
    try {
      if (client.needsStop()) await client.stop(5000);
    } catch (err) {
      this.logger.error("Stopping the server failed", err);
    }
    await client.dispose().catch(() => undefined);
  }

  async dispose(): Promise<void> {
    await this.queue.idle();
    await this.stop();
  }
}
