import * as crypto from "crypto";
import * as vscode from "vscode";
import { buildView, CheckpointContents } from "./checkpointModel";
import type { Logger } from "./logger";

export const VIEW_TYPE = "weightmatch.checkpointViewer";
export const INDEX_VIEW_TYPE = "weightmatch.checkpointViewer.index";
export const CHECKPOINT_EXTENSIONS = [".pt", ".pth", ".ckpt", ".bin", ".safetensors", ".index.json"];

export type ContentsSource = (path: string, token: vscode.CancellationToken) => Promise<CheckpointContents>;

/**
 * A read-only viewer of a checkpoint's keys, shapes and dtypes. The extension never reads the
 * file: the server answers `weightmatch/checkpointContents` from metadata alone.
 */
export class CheckpointViewerProvider implements vscode.CustomReadonlyEditorProvider {
  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly contents: ContentsSource,
    private readonly logger: Logger,
  ) {}

  static register(context: vscode.ExtensionContext, contents: ContentsSource, logger: Logger): vscode.Disposable {
    const provider = new CheckpointViewerProvider(context.extensionUri, contents, logger);
    const options = { webviewOptions: { retainContextWhenHidden: false }, supportsMultipleEditorsPerDocument: true };
    return vscode.Disposable.from(
      vscode.window.registerCustomEditorProvider(VIEW_TYPE, provider, options),
      vscode.window.registerCustomEditorProvider(INDEX_VIEW_TYPE, provider, options),
    );
  }

  openCustomDocument(uri: vscode.Uri): vscode.CustomDocument {
    return { uri, dispose: () => undefined };
  }

  async resolveCustomEditor(document: vscode.CustomDocument, panel: vscode.WebviewPanel): Promise<void> {
    const media = vscode.Uri.joinPath(this.extensionUri, "extension", "media");
    panel.webview.options = { enableScripts: true, enableCommandUris: false, localResourceRoots: [media] };
    panel.webview.html = renderHtml(panel.webview, media, crypto.randomBytes(16).toString("base64"));

    const cancel = new vscode.CancellationTokenSource();
    panel.onDidDispose(() => cancel.cancel());
    const load = async () => {
      if (document.uri.scheme !== "file") {
        void panel.webview.postMessage({ type: "error", message: "Only checkpoints on the local disk can be shown." });
        return;
      }
      try {
        const contents = await this.contents(document.uri.fsPath, cancel.token);
        void panel.webview.postMessage({ type: "view", view: buildView(contents) });
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        this.logger.error(`Reading ${document.uri.fsPath} failed`, err);
        void panel.webview.postMessage({ type: "error", message });
      }
    };
    panel.webview.onDidReceiveMessage((message: { type?: string }) => {
      if (message?.type === "ready" || message?.type === "reload") void load();
      if (message?.type === "showLogs") void vscode.commands.executeCommand("weightmatch.showOutput");
    });
  }
}

export function renderHtml(webview: vscode.Webview, media: vscode.Uri, nonce: string): string {
  const script = webview.asWebviewUri(vscode.Uri.joinPath(media, "viewer.js"));
  const style = webview.asWebviewUri(vscode.Uri.joinPath(media, "viewer.css"));
  const csp = [
    "default-src 'none'",
    `style-src ${webview.cspSource}`,
    `font-src ${webview.cspSource}`,
    `img-src ${webview.cspSource}`,
    `script-src 'nonce-${nonce}'`,
  ].join("; ");
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${style}">
<title>Checkpoint</title>
</head>
<body>
<header>
  <h1 id="title">Reading checkpoint…</h1>
  <div id="summary" class="summary"></div>
  <div id="banner" class="banner" hidden></div>
  <input id="filter" type="search" placeholder="Filter keys (substring or shape, e.g. fc1 or 20, 10)" aria-label="Filter keys" disabled>
</header>
<main id="content" aria-live="polite"><p class="muted">Asking the Weight Match server for this file's metadata…</p></main>
<script nonce="${nonce}" src="${script}"></script>
</body>
</html>`;
}
