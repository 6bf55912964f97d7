import * as vscode from "vscode";
import type { ProbeResult } from "./probe";
import type { ResolvedInterpreter } from "./python";

/** The `weightmatch/status` notification's parameters. */
export interface ServerStatus {
  state: "starting" | "ready" | "busy" | "error";
  worker: "off" | "starting" | "ready" | "static-only" | "crashed";
  torch: string | null;
  message?: string;
}

export type ClientState = "starting" | "running" | "stopped" | "failed";

export interface StatusInput {
  client: ClientState;
  trusted: boolean;
  executeModelCode: boolean;
  interpreter?: ResolvedInterpreter;
  probe?: ProbeResult;
  server?: ServerStatus;
  failure?: string;
}

export interface StatusView {
  text: string;
  detail: string;
  severity: "information" | "warning" | "error";
  busy: boolean;
  command: { title: string; command: string };
}

const SHOW_LOGS = { title: "Show Logs", command: "weightmatch.showOutput" };
const PICK_INTERPRETER = { title: "Select Interpreter", command: "weightmatch.selectInterpreter" };
const RESTART = { title: "Restart", command: "weightmatch.restartServer" };

/** Decides what the language status item says; pure so that it can be tested without an editor. */
export function describeStatus(input: StatusInput): StatusView {
  const python = input.interpreter?.command.executable ?? "python";
  if (input.client === "failed") {
    return {
      text: "Weight Match: server failed",
      detail: input.failure ?? `The server did not start with ${python}`,
      severity: "error",
      busy: false,
      command: SHOW_LOGS,
    };
  }
  if (input.client === "stopped") {
    return { text: "Weight Match: stopped", detail: "", severity: "warning", busy: false, command: RESTART };
  }
  if (!input.trusted) {
    return {
      text: "Weight Match: static only (Restricted Mode)",
      detail: "This workspace is not trusted, so no model code is run; shapes come from static inference.",
      severity: "warning",
      busy: input.client === "starting" || input.server?.state === "busy",
      command: { title: "Manage Trust", command: "workbench.trust.manage" },
    };
  }
  const server = input.server;
  const busy = input.client === "starting" || server?.state === "starting" || server?.state === "busy";
  if (server?.state === "error") {
    return {
      text: "Weight Match: error",
      detail: server.message || "The server reported an error",
      severity: "error",
      busy: false,
      command: SHOW_LOGS,
    };
  }
  // Execution off: torch is not needed, whatever the interpreter has (the server then says "static-only").
  if (!input.executeModelCode) {
    return {
      text: "Weight Match: static inference",
      detail: "weightmatch.executeModelCode is off: only static inference answers (no model code runs)",
      severity: "information",
      busy,
      command: SHOW_LOGS,
    };
  }
  const torchMissing = input.probe !== undefined && input.probe.torch === null;
  if (torchMissing || server?.worker === "static-only") {
    const why = input.probe && !input.probe.ok
      ? `${python} did not run: ${input.probe.error}`
      : `torch cannot be imported by ${python}`;
    return {
      text: "Weight Match: static only (no torch)",
      detail: server?.message || `${why}; shapes come from static inference`,
      severity: "warning",
      busy,
      command: PICK_INTERPRETER,
    };
  }
  if (server?.worker === "crashed") {
    return {
      text: "Weight Match: worker crashed",
      detail: server.message || "The model worker crashed; static inference is used until it restarts",
      severity: "warning",
      busy,
      command: SHOW_LOGS,
    };
  }
  const torch = server?.torch ?? input.probe?.torch;
  // "off": not started yet. Static inference answers first; the worker starts (importing
  // torch) only for a model it cannot follow.
  const worker = server?.worker === "ready" ? "ready"
    : server?.worker === "off" ? "not started (static inference answered every model so far)" : "starting";
  const state = busy ? (server?.state === "busy" ? "analysing" : "starting") : "ready";
  return {
    text: `Weight Match: ${state}`,
    detail: [`worker ${worker}`, torch ? `torch ${torch}` : undefined, python].filter(Boolean).join(" · "),
    severity: "information",
    busy,
    command: SHOW_LOGS,
  };
}

const SEVERITY: Record<StatusView["severity"], vscode.LanguageStatusSeverity> = {
  information: vscode.LanguageStatusSeverity.Information,
  warning: vscode.LanguageStatusSeverity.Warning,
  error: vscode.LanguageStatusSeverity.Error,
};

/** The language status item shown next to Python files; holds the latest known input. */
export class StatusItem implements vscode.Disposable {
  private readonly item: vscode.LanguageStatusItem;
  private input: StatusInput = { client: "starting", trusted: true, executeModelCode: true };

  constructor(selector: vscode.DocumentSelector) {
    this.item = vscode.languages.createLanguageStatusItem("weightmatch.status", selector);
    this.item.name = "Weight Match";
    this.render();
  }

  update(change: Partial<StatusInput>): void {
    this.input = { ...this.input, ...change };
    this.render();
  }

  get current(): StatusInput {
    return this.input;
  }

  private render(): void {
    const view = describeStatus(this.input);
    this.item.text = view.text;
    this.item.detail = view.detail;
    this.item.severity = SEVERITY[view.severity];
    this.item.busy = view.busy;
    this.item.command = { title: view.command.title, command: view.command.command };
  }

  dispose(): void {
    this.item.dispose();
  }
}
