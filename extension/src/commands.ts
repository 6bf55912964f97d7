import * as fs from "fs";
import * as path from "path";
import * as vscode from "vscode";
import { CHECKPOINT_EXTENSIONS, INDEX_VIEW_TYPE, VIEW_TYPE } from "./checkpointViewer";
import type { EnvironmentProvider } from "./python";
import { SECTION } from "./settings";

/** Picks the interpreter: the Python extension's picker when present, else our own setting. */
export async function selectInterpreter(environments: EnvironmentProvider | undefined): Promise<void> {
  const config = vscode.workspace.getConfiguration(SECTION);
  const current = config.get<string>("interpreter", "");
  if (environments && current === "") {
    await environments.selectInterpreter();
    return;
  }
  const folder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  const candidates = new Set<string>();
  if (folder) {
    for (const venv of [".venv", "venv", "env"]) {
      const exe = path.join(folder, venv, process.platform === "win32" ? "Scripts/python.exe" : "bin/python");
      if (fs.existsSync(exe)) candidates.add(exe);
    }
  }
  candidates.add("python3");
  type Pick = vscode.QuickPickItem & { value?: string };
  const items: Pick[] = [...candidates].map((c) => ({ label: c, value: c, description: c === current ? "current" : undefined }));
  items.push({ label: "$(folder) Browse…" });
  if (current) items.push({ label: "$(discard) Clear the setting", value: "" });
  const choice = await vscode.window.showQuickPick(items, {
    title: "Python interpreter for Weight Match (needs torch to build models exactly)",
  });
  if (!choice) return;
  let value = choice.value;
  if (value === undefined) {
    const picked = await vscode.window.showOpenDialog({ canSelectMany: false, title: "Python interpreter" });
    if (!picked?.[0]) return;
    value = picked[0].fsPath;
  }
  const target = vscode.workspace.workspaceFolders ? vscode.ConfigurationTarget.Workspace : vscode.ConfigurationTarget.Global;
  await config.update("interpreter", value, target);
}

/** Opens a checkpoint in the viewer: the one given (explorer menu), the active one, or one picked. */
export async function showCheckpoint(uri?: vscode.Uri | string): Promise<void> {
  // A string: the server's code lens passes the checkpoint's URI as JSON.
  const given = typeof uri === "string" ? vscode.Uri.parse(uri) : uri;
  let target = given instanceof vscode.Uri ? given : activeCheckpoint();
  if (!target) {
    const picked = await vscode.window.showOpenDialog({
      canSelectMany: false,
      title: "Show Checkpoint Contents",
      filters: { Checkpoints: ["pt", "pth", "ckpt", "bin", "safetensors", "json"] },
    });
    target = picked?.[0];
  }
  if (!target) return;
  const viewType = target.path.endsWith(".index.json") ? INDEX_VIEW_TYPE : VIEW_TYPE;
  await vscode.commands.executeCommand("vscode.openWith", target, viewType);
}

function activeCheckpoint(): vscode.Uri | undefined {
  const input = vscode.window.tabGroups.activeTabGroup.activeTab?.input as { uri?: vscode.Uri } | undefined;
  const uri = input?.uri ?? vscode.window.activeTextEditor?.document.uri;
  return uri && CHECKPOINT_EXTENSIONS.some((ext) => uri.path.endsWith(ext)) ? uri : undefined;
}
