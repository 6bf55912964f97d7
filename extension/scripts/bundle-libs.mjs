// Builds extension/bundled/libs: the server's pure-Python libraries that travel inside the
// .vsix (weightmatch from server/, pygls, lsprotocol and their dependencies). torch is not
// bundled; it comes from the user's interpreter. Skipped when nothing changed since last time.
//
//   node extension/scripts/bundle-libs.mjs [--force]
//   WEIGHTMATCH_PYTHON=/path/to/python   the interpreter whose pip is used (default: .venv, python3)
import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { tmpdir } from "node:os";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const server = join(root, "server");
const target = join(root, "extension", "bundled", "libs");
const stampFile = join(target, ".bundle-stamp");

const python =
  process.env.WEIGHTMATCH_PYTHON ??
  (existsSync(join(root, ".venv", "bin", "python")) ? join(root, ".venv", "bin", "python") : "python3");

function run(args, options = {}) {
  return execFileSync(python, args, { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], ...options });
}

// Pin pygls and lsprotocol to the versions the server is developed and tested with.
function pinned(name, fallback) {
  try {
    const v = run(["-c", `import importlib.metadata as m; print(m.version(${JSON.stringify(name)}))`]).trim();
    return `${name}==${v}`;
  } catch {
    return fallback;
  }
}

function hashTree(dir, hash) {
  for (const name of readdirSync(dir).sort()) {
    if (name === "__pycache__" || name.endsWith(".egg-info") || name === "build") continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) hashTree(p, hash);
    else hash.update(relative(server, p)).update(readFileSync(p));
  }
}

const requirements = [
  pinned("pygls", "pygls>=2.0,<3"),
  pinned("lsprotocol", "lsprotocol>=2025.0.0"),
  // cattrs needs it on Python 3.10; pip on a newer Python would skip it by its marker.
  "exceptiongroup>=1.1",
];
const hash = createHash("sha256").update(requirements.join("\n"));
hashTree(server, hash);
const stamp = hash.digest("hex");

/** Byte-code written while the libs ran from the checkout (F5) must not travel in the .vsix. */
function removeBytecode(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (!statSync(p).isDirectory()) continue;
    if (name === "__pycache__") rmSync(p, { recursive: true, force: true });
    else removeBytecode(p);
  }
}

if (!process.argv.includes("--force") && existsSync(stampFile) && readFileSync(stampFile, "utf8") === stamp) {
  removeBytecode(target);
  console.log(`bundled libs up to date: ${relative(root, target)}`);
  process.exit(0);
}

const staging = `${target}.tmp`;
rmSync(staging, { recursive: true, force: true });
mkdirSync(staging, { recursive: true });
const pip = ["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile", "--target", staging];
console.log(`bundling ${requirements.join(", ")} and weightmatch (server/) with ${python}`);
run([...pip, ...requirements], { stdio: "inherit" });
// weightmatch's own optional dependencies (safetensors, torch) are not bundled: they are
// platform-specific, and only the worker, in the user's interpreter, may import them.
// Built from a copy so that setuptools leaves no build/ folder in the source tree.
const copy = mkdtempSync(join(tmpdir(), "weightmatch-server-"));
cpSync(server, copy, {
  recursive: true,
  filter: (src) => !/(__pycache__|\.egg-info|[\\/]build)$/.test(src),
});
try {
  run([...pip, "--no-deps", "--no-build-isolation", copy], { stdio: "inherit" });
} finally {
  rmSync(copy, { recursive: true, force: true });
}
rmSync(join(staging, "bin"), { recursive: true, force: true });
rmSync(target, { recursive: true, force: true });
renameSync(staging, target);
writeFileSync(stampFile, stamp);
console.log(`bundled libs written to ${relative(root, target)}`);
