/** The `weightmatch/checkpointContents` response and the view built from it (no vscode here). */

export interface CheckpointEntry {
  key: string;
  shape: number[] | null;
  dtype: string | null;
  nbytes: number | null;
}

export interface CheckpointContents {
  path: string;
  format: string;
  size: number;
  tensorCount: number;
  torchscript: boolean;
  unsafeGlobals: string[];
  shards: string[];
  entries: CheckpointEntry[];
  error: string | null;
}

export interface ViewRow {
  key: string;
  /** The key without its group's prefix, as shown inside the group. */
  name: string;
  shape: string;
  dtype: string;
  parameters: number | null;
  bytes: number | null;
}

export interface ViewGroup {
  name: string;
  rows: ViewRow[];
  tensors: number;
  parameters: number;
  bytes: number;
}

export interface CheckpointView {
  title: string;
  format: string;
  fileSize: string;
  groups: ViewGroup[];
  totals: { tensors: number; parameters: number; bytes: number; parametersText: string; bytesText: string };
  warnings: string[];
  shards: string[];
  error: string | null;
}

/** Top-level keys that mark a whole training checkpoint rather than a bare state_dict. */
const CONTAINER_KEYS = new Set([
  "state_dict",
  "model",
  "model_state_dict",
  "model_state",
  "net",
  "module",
  "optimizer",
  "optimizer_state_dict",
  "optim",
  "scheduler",
  "lr_scheduler",
  "ema",
  "ema_state_dict",
  "epoch",
  "step",
  "global_step",
  "args",
  "config",
  "hyper_parameters",
]);

export function parameterCount(shape: number[] | null): number | null {
  if (!shape) return null;
  return shape.reduce((n, d) => n * d, 1);
}

export function formatBytes(bytes: number): string {
  const units = ["B", "KB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(value < 10 ? 2 : 1)} ${units[unit]}`;
}

export function formatCount(n: number): string {
  return n.toLocaleString("en-US");
}

/**
 * A training checkpoint (a dict holding the model's state_dict beside optimizer state, epoch…)
 * is grouped by its top-level key; a bare state_dict by module path (the key less its last part).
 */
export function isTrainingCheckpoint(entries: CheckpointEntry[]): boolean {
  const tops = new Set(entries.map((e) => e.key.split(".")[0]));
  if (tops.size === 0) return false;
  if (entries.some((e) => e.shape === null && !e.key.includes("."))) return true;
  return [...tops].some((t) => CONTAINER_KEYS.has(t));
}

function groupName(key: string, training: boolean): string {
  const parts = key.split(".");
  if (parts.length === 1) return "(top level)";
  return training ? parts[0] : parts.slice(0, -1).join(".");
}

export function buildView(contents: CheckpointContents): CheckpointView {
  const training = isTrainingCheckpoint(contents.entries);
  const groups = new Map<string, ViewGroup>();
  for (const entry of contents.entries) {
    const name = groupName(entry.key, training);
    let group = groups.get(name);
    if (!group) {
      group = { name, rows: [], tensors: 0, parameters: 0, bytes: 0 };
      groups.set(name, group);
    }
    const parameters = parameterCount(entry.shape);
    const prefix = name === "(top level)" ? "" : `${name}.`;
    group.rows.push({
      key: entry.key,
      name: entry.key.startsWith(prefix) ? entry.key.slice(prefix.length) : entry.key,
      shape: entry.shape ? `[${entry.shape.join(", ")}]` : "—",
      dtype: entry.dtype ?? "—",
      parameters,
      bytes: entry.nbytes,
    });
    if (entry.shape) {
      group.tensors += 1;
      group.parameters += parameters ?? 0;
    }
    group.bytes += entry.nbytes ?? 0;
  }
  const all = [...groups.values()];
  const tensors = all.reduce((n, g) => n + g.tensors, 0);
  const parameters = all.reduce((n, g) => n + g.parameters, 0);
  const bytes = all.reduce((n, g) => n + g.bytes, 0);

  const warnings: string[] = [];
  if (contents.torchscript) {
    warnings.push("This is a TorchScript archive: loading it with torch.jit.load runs the code it contains.");
  }
  if (contents.unsafeGlobals.length > 0) {
    warnings.push(
      `This checkpoint's pickle refers to globals that torch.load(weights_only=True) refuses: ${contents.unsafeGlobals.join(", ")}. ` +
        "Loading it with weights_only=False would run code from the file; only do that if you trust its source.",
    );
  }
  const base = contents.path.split(/[\\/]/).pop() ?? contents.path;
  return {
    title: base,
    format: contents.format,
    fileSize: formatBytes(contents.size),
    groups: all,
    totals: {
      tensors: contents.tensorCount || tensors,
      parameters,
      bytes,
      parametersText: formatCount(parameters),
      bytesText: formatBytes(bytes),
    },
    warnings,
    shards: contents.shards ?? [],
    error: contents.error,
  };
}
