import * as vscode from "vscode";
import type { CheckpointContents } from "./checkpointModel";
import { CheckpointViewerProvider } from "./checkpointViewer";
import { selectInterpreter, showCheckpoint } from "./commands";
import { Logger } from "./logger";
import { pythonExtensionProvider } from "./python";
import { PYTHON_SELECTOR, ServerManager } from "./server";
import { readSettings, SECTION } from "./settings";
import { StatusItem } from "./status";

let manager: ServerManager | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const logger = new Logger("Weight Match");
  logger.setLevel(readSettings().logLevel);
  const status = new StatusItem(PYTHON_SELECTOR);
  context.subscriptions.push(logger, status);

  const environments = await pythonExtensionProvider((message, err) => logger.error(message, err));
  logger.info(environments ? "Using the Python extension's active environment when weightmatch.interpreter is empty." : "The Python extension is not installed; weightmatch.interpreter or python3 is used.");

  manager = new ServerManager(context, logger, status, environments);
  const server = manager;
  context.subscriptions.push({ dispose: () => void server.dispose() });

  context.subscriptions.push(
    vscode.commands.registerCommand("weightmatch.restartServer", () => server.refresh(true)),
    vscode.commands.registerCommand("weightmatch.showOutput", () => logger.show()),
    vscode.commands.registerCommand("weightmatch.showCheckpoint", (uri?: vscode.Uri | string) => showCheckpoint(uri)),
    vscode.commands.registerCommand("weightmatch.selectInterpreter", () => selectInterpreter(environments)),
    CheckpointViewerProvider.register(
      context,
      (path, token) => server.request<CheckpointContents>("weightmatch/checkpointContents", { path }, token),
      logger,
    ),
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (!event.affectsConfiguration(SECTION)) return;
      logger.setLevel(readSettings().logLevel);
      if (event.affectsConfiguration(`${SECTION}.executeModelCode`)) {
        status.update({ executeModelCode: readSettings().executeModelCode });
      }
      // Only the interpreter changes the launch command; the server pulls the other settings.
      if (event.affectsConfiguration(`${SECTION}.interpreter`)) void server.refresh();
    }),
    vscode.workspace.onDidGrantWorkspaceTrust(() => {
      logger.info("Workspace trust granted: restarting the server so that it may build models.");
      void server.refresh(true);
    }),
  );
  if (environments) {
    context.subscriptions.push(environments.onDidChangeActiveInterpreter(() => void server.refresh()));
  }

  // Not awaited: the viewer and commands are usable while the server starts.
  void server.refresh();
}

export async function deactivate(): Promise<void> {
  await manager?.dispose();
  manager = undefined;
}
