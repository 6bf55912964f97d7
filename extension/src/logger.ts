import * as vscode from "vscode";

export type LogLevel = "error" | "warning" | "info" | "debug";

const RANK: Record<LogLevel, number> = { error: 0, warning: 1, info: 2, debug: 3 };

/**
 * The extension's half of the "Weight Match" output channel. The server writes to the same
 * channel through the language client; `weightmatch.logLevel` filters both sides.
 */
export class Logger implements vscode.Disposable {
  readonly channel: vscode.LogOutputChannel;
  private level: LogLevel = "info";

  constructor(name: string) {
    this.channel = vscode.window.createOutputChannel(name, { log: true });
  }

  setLevel(level: LogLevel): void {
    this.level = level;
  }

  debug(message: string): void {
    if (RANK[this.level] >= RANK.debug) this.channel.debug(message);
  }

  info(message: string): void {
    if (RANK[this.level] >= RANK.info) this.channel.info(message);
  }

  warn(message: string): void {
    if (RANK[this.level] >= RANK.warning) this.channel.warn(message);
  }

  error(message: string, err?: unknown): void {
    const detail = err instanceof Error ? `\n${err.stack ?? err.message}` : err ? ` ${String(err)}` : "";
    this.channel.error(message + detail);
  }

  show(): void {
    this.channel.show(true);
  }

  /** Every error the user sees offers the logs, where the details are. */
  async showError(message: string, ...extraActions: string[]): Promise<string | undefined> {
    this.error(message);
    const choice = await vscode.window.showErrorMessage(message, ...extraActions, "Show Logs");
    if (choice === "Show Logs") this.show();
    return choice;
  }

  dispose(): void {
    this.channel.dispose();
  }
}
