import * as os from "os";
import * as path from "path";
import * as vscode from "vscode";
import type { LogLevel } from "./logger";

export const SECTION = "weightmatch";

/** The settings the client itself acts on; the server pulls the rest by workspace/configuration. */
export interface ClientSettings {
  interpreter: string;
  executeModelCode: boolean;
  checkpointSearchPaths: string[];
  severityOverrides: Record<string, string>;
  workerTimeoutSeconds: number;
  logLevel: LogLevel;
}

const LOG_LEVELS: readonly LogLevel[] = ["error", "warning", "info", "debug"];
const SEVERITIES = ["error", "warning", "information", "hint", "off"];

/**
 * Reads `weightmatch.*` for a folder. VS Code supplies the defaults declared in package.json
 * (the only place they are written); in an untrusted workspace it also drops workspace values of
 * the restricted settings (interpreter, executeModelCode) by itself.
 */
export function readSettings(scope?: vscode.ConfigurationScope): ClientSettings {
  const config = vscode.workspace.getConfiguration(SECTION, scope);
  return normalizeSettings({
    interpreter: config.get("interpreter"),
    executeModelCode: config.get("executeModelCode"),
    checkpointSearchPaths: config.get("checkpointSearchPaths"),
    severityOverrides: config.get("severityOverrides"),
    workerTimeoutSeconds: config.get("workerTimeoutSeconds"),
    logLevel: config.get("logLevel"),
  });
}

/** Turns raw, possibly hand-edited values into well-typed ones, never throwing. */
export function normalizeSettings(raw: Record<string, unknown>): ClientSettings {
  const overrides: Record<string, string> = {};
  if (raw.severityOverrides && typeof raw.severityOverrides === "object") {
    for (const [code, value] of Object.entries(raw.severityOverrides as Record<string, unknown>)) {
      if (typeof value === "string" && SEVERITIES.includes(value)) overrides[code] = value;
    }
  }
  const timeout = Number(raw.workerTimeoutSeconds);
  return {
    interpreter: typeof raw.interpreter === "string" ? raw.interpreter.trim() : "",
    executeModelCode: raw.executeModelCode !== false,
    checkpointSearchPaths: Array.isArray(raw.checkpointSearchPaths)
      ? raw.checkpointSearchPaths.filter((p): p is string => typeof p === "string" && p.length > 0)
      : [],
    severityOverrides: overrides,
    workerTimeoutSeconds: Number.isFinite(timeout) && timeout > 0 ? timeout : 30,
    logLevel: LOG_LEVELS.includes(raw.logLevel as LogLevel) ? (raw.logLevel as LogLevel) : "info",
  };
}

/** Expands `~`, `${userHome}`, `${workspaceFolder}` and makes a relative path absolute. */
export function expandPath(value: string, workspaceFolder?: string): string {
  let result = value
    .replace(/\$\{userHome\}/g, os.homedir())
    .replace(/^~(?=$|[\\/])/, os.homedir());
  if (workspaceFolder) {
    result = result.replace(/\$\{workspaceFolder\}/g, workspaceFolder);
  }
  // A bare command name ("python3.12") is looked up on PATH; only paths are resolved.
  const looksLikePath = result.includes("/") || result.includes("\\");
  if (looksLikePath && !path.isAbsolute(result) && workspaceFolder) {
    result = path.resolve(workspaceFolder, result);
  }
  return result;
}
