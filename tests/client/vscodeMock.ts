/**
 * A stand-in for the `vscode` module, installed at the module boundary (require("vscode")), so
 * the client's logic runs under `node --test` without an editor. Configuration defaults come from
 * package.json, as VS Code's do.
 */
import * as fs from "fs";
import * as path from "path";
// eslint-disable-next-line @typescript-eslint/no-require-imports
const Module = require("module");

export const REPO = path.resolve(__dirname, "..", "..", "..");
export const manifest = JSON.parse(fs.readFileSync(path.join(REPO, "package.json"), "utf8"));

/** package.json's declared defaults, keyed by full setting name. */
export function declaredDefaults(): Record<string, unknown> {
  const props = manifest.contributes.configuration.properties as Record<string, { default: unknown }>;
  return Object.fromEntries(Object.entries(props).map(([k, v]) => [k, v.default]));
}

class Uri {
  private constructor(
    readonly scheme: string,
    readonly fsPath: string,
  ) {}
  get path(): string {
    return this.fsPath;
  }
  static file(p: string): Uri {
    return new Uri("file", p);
  }
  static joinPath(base: Uri, ...parts: string[]): Uri {
    return new Uri(base.scheme, path.join(base.fsPath, ...parts));
  }
  toString(): string {
    return `${this.scheme}://${this.fsPath}`;
  }
}

class EventEmitter<T> {
  private listeners: ((e: T) => void)[] = [];
  event = (listener: (e: T) => void) => {
    this.listeners.push(listener);
    return { dispose: () => (this.listeners = this.listeners.filter((l) => l !== listener)) };
  };
  fire(e: T): void {
    this.listeners.forEach((l) => l(e));
  }
  dispose(): void {
    this.listeners = [];
  }
}

export const state = {
  /** User/workspace values layered over the declared defaults. */
  settings: {} as Record<string, unknown>,
  extensions: {} as Record<string, unknown>,
  executed: [] as unknown[][],
  reset(): void {
    this.settings = {};
    this.extensions = {};
    this.executed = [];
  },
};

export const vscode = {
  Uri,
  EventEmitter,
  LanguageStatusSeverity: { Information: 0, Warning: 1, Error: 2 },
  ConfigurationTarget: { Global: 1, Workspace: 2, WorkspaceFolder: 3 },
  ExtensionMode: { Production: 1, Development: 2, Test: 3 },
  workspace: {
    isTrusted: true,
    workspaceFolders: undefined as unknown,
    getConfiguration(section: string) {
      const defaults = declaredDefaults();
      return {
        get<T>(key: string, fallback?: T): T | undefined {
          const full = `${section}.${key}`;
          if (full in state.settings) return state.settings[full] as T;
          if (full in defaults) return defaults[full] as T;
          return fallback;
        },
        async update(key: string, value: unknown) {
          state.settings[`${section}.${key}`] = value;
        },
      };
    },
  },
  extensions: {
    getExtension(id: string) {
      return state.extensions[id];
    },
  },
  commands: {
    async executeCommand(...args: unknown[]) {
      state.executed.push(args);
    },
  },
  window: {
    createOutputChannel() {
      const noop = () => undefined;
      return { trace: noop, debug: noop, info: noop, warn: noop, error: noop, show: noop, dispose: noop };
    },
  },
};

const originalLoad = Module._load;
Module._load = function (request: string, ...rest: unknown[]) {
  if (request === "vscode") return vscode;
  return originalLoad.call(this, request, ...rest);
};
