/**
 * The packaged extension in a real VS Code (code-server) in headless Chromium.
 *
 * With the repo's interpreter (torch present): a layer whose size differs from the checkpoint
 * gets a red squiggle, the hover shows both shapes, the quick fix (Ctrl+.) removes it, and the
 * checkpoint viewer lists the file's keys. With Debian's python3 (no torch, no pygls): the
 * bundled libraries alone run the server, which falls back to static inference and says so.
 * Screenshots of every step: test-artifacts/e2e/<scenario>/.
 *
 *   npm run test:e2e          (scripts/test-client runs it after the unit tests)
 *   WEIGHTMATCH_E2E_VSIX=...  use a .vsix already built instead of `npm run package`
 */
import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { missingPrerequisites, PYTHON } from "./codeServer";
import { Session } from "./session";
import { errorSquiggleBox, extensionWebview, quickFixRow, quickOpen, squigglesOnLine, waitForLine } from "./workbench";

const LAYER_LINE = "self.fc1 = nn.Linear(10, 30)";
const FIXED_LINE = "self.fc1 = nn.Linear(10, 20)";
const FIX_TITLE = "Use the checkpoint's size";
const SYSTEM_PYTHON = "/usr/bin/python3";

const MAIN_PY = `import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        ${LAYER_LINE}

    def forward(self, x):
        return self.fc1(x)


model = Net()
model.load_state_dict(torch.load("weights.pt"))
`;

// The checkpoint was saved when fc1 had 20 outputs.
const MAKE_CHECKPOINT = `
import sys, torch
torch.save({"fc1.weight": torch.zeros(20, 10), "fc1.bias": torch.zeros(20)}, sys.argv[1])
`;

function writeExample(workspace: string): void {
  fs.writeFileSync(path.join(workspace, "main.py"), MAIN_PY);
  execFileSync(PYTHON, ["-c", MAKE_CHECKPOINT, path.join(workspace, "weights.pt")], { timeout: 120_000 });
}

function torchImports(python: string): boolean {
  try {
    execFileSync(python, ["-c", "import torch"], { stdio: "ignore", timeout: 60_000 });
    return true;
  } catch {
    return false;
  }
}

const missing = missingPrerequisites();
const skip = missing.length > 0 && `missing: ${missing.join("; ")}`;

describe("with torch: squiggle, hover, quick fix, viewer", { skip }, () => {
  const s = new Session("with-torch");
  // Worker first: this session proves the model worker (interpreter discovery, torch import,
  // the meta-device build) in a real editor; by default static inference would answer this
  // plain model without starting it (the other sessions and tests/lsp cover that path).
  before(() => s.open({ "weightmatch.interpreter": PYTHON, "weightmatch.logLevel": "debug",
    "weightmatch.staticInferenceFirst": false }, writeExample));
  after(() => s.close());

  test("a red squiggle on the layer whose size differs from the checkpoint", { timeout: 300_000 }, async () => {
    await s.step_("squiggle", async () => {
      await quickOpen(s.page, "main.py");
      // The first analysis starts the server and a model worker that imports torch: be patient.
      const line = await waitForLine(s.page, LAYER_LINE, (l) => l.errors > 0, 240_000);
      assert.equal(line.lineText.trim(), LAYER_LINE);
      await s.shot("squiggle");
    });
  });

  test("the hover shows the checkpoint's and the model's shapes", { timeout: 120_000 }, async () => {
    await s.step_("hover", async () => {
      const line = await squigglesOnLine(s.page, LAYER_LINE);
      assert.ok(line);
      const box = await errorSquiggleBox(s.page, line);
      await s.page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
      const hover = s.page.locator(".monaco-hover", { hasText: /20,\s*10/ }).filter({ hasText: /30,\s*10/ });
      await hover.first().waitFor({ state: "visible" });
      const text = await hover.first().innerText();
      assert.match(text, /\[20,\s*10\]/);
      assert.match(text, /\[30,\s*10\]/);
      await s.shot("hover");
    });
  });

  test("the language status item reports the server and the model worker", { timeout: 120_000 }, async () => {
    await s.step_("status", async () => {
      await s.page.keyboard.press("Escape");
      await s.page.locator("#status\\.languageStatus").hover();
      const item = s.page.locator(".monaco-hover, .context-view", { hasText: "Weight Match: ready" });
      await item.first().waitFor({ state: "visible" });
      const text = await item.first().innerText();
      assert.match(text, /worker ready/);
      assert.match(text, /torch \d+\.\d+/);
      await s.shot("language-status");
    });
  });

  test("the quick fix, applied with Ctrl+., removes the squiggle", { timeout: 180_000 }, async () => {
    await s.step_("quickfix", async () => {
      const fix = await quickFixRow(s.page, () => squigglesOnLine(s.page, LAYER_LINE), FIX_TITLE);
      await s.shot("quickfix-menu");
      await fix.click();

      await waitForLine(s.page, FIXED_LINE, () => true, 30_000);
      await s.page.keyboard.press("Control+S");
      const fixed = await waitForLine(s.page, FIXED_LINE, (l) => l.errors === 0, 120_000);
      assert.equal(fixed.lineText.trim(), FIXED_LINE);
      assert.equal(await squigglesOnLine(s.page, LAYER_LINE), null, "the old line is gone");
      // The Problems counter in the status bar: no errors, no warnings left in the workspace.
      await s.page.locator("#status\\.problems", { hasText: /^\s*0\s+0\s*$/ }).waitFor({ state: "visible" });
      await s.shot("fixed");
    });
  });

  test("the checkpoint viewer lists the checkpoint's keys", { timeout: 120_000 }, async () => {
    await s.step_("viewer", async () => {
      await quickOpen(s.page, "weights.pt");
      const view = extensionWebview(s.page, "weightmatch.weightmatch");
      const weight = view.locator('tr[data-key="fc1.weight"]');
      await weight.waitFor({ state: "visible" });
      assert.match(await weight.innerText(), /\[20, 10\]/);
      assert.match(await view.locator('tr[data-key="fc1.bias"]').innerText(), /\[20\]/);
      assert.match(await view.locator("#summary").innerText(), /2 tensors/);
      await s.shot("viewer");
    });
  });
});

const systemPythonUsable = fs.existsSync(SYSTEM_PYTHON) && !torchImports(SYSTEM_PYTHON);

describe("without torch: the bundled libraries run the server in static-only mode", {
  skip: skip || (!systemPythonUsable && `${SYSTEM_PYTHON} is missing or has torch`),
}, () => {
  const s = new Session("static-only");
  before(() => s.open({ "weightmatch.interpreter": SYSTEM_PYTHON, "weightmatch.logLevel": "debug" }, writeExample));
  after(() => s.close());

  test("static inference still finds the mismatch", { timeout: 240_000 }, async () => {
    await s.step_("squiggle", async () => {
      await quickOpen(s.page, "main.py");
      await waitForLine(s.page, LAYER_LINE, (l) => l.errors > 0, 180_000);
      await s.shot("squiggle");
    });
  });

  test("the status item says static only, and offers another interpreter", { timeout: 120_000 }, async () => {
    await s.step_("status", async () => {
      await s.page.locator("#status\\.languageStatus").hover();
      const item = s.page.locator(".monaco-hover, .context-view", { hasText: "static only (no torch)" });
      await item.first().waitFor({ state: "visible" });
      assert.match(await item.first().innerText(), /Select Interpreter/);
      await s.shot("language-status");
    });
  });
});

describe("a missing interpreter: the error offers the logs", { skip }, () => {
  const s = new Session("missing-interpreter");
  before(() => s.open({ "weightmatch.interpreter": "/nonexistent/bin/python" }, writeExample));
  after(() => s.close());

  test("the error message has Show Logs, which opens the Weight Match output", { timeout: 180_000 }, async () => {
    await s.step_("error", async () => {
      await quickOpen(s.page, "main.py");
      const toast = s.page.locator(".notification-toast", { hasText: "could not be started with /nonexistent/bin/python" });
      await toast.first().waitFor({ state: "visible", timeout: 120_000 });
      await s.shot("error-message");
      // One message, ours: the language client's own pop-up is turned into a log line.
      assert.equal(await s.page.locator(".notification-toast", { hasText: "couldn't create connection" }).count(), 0);
      // The language client may retry the start and raise the same message again, replacing the
      // toast under the click; click the toast that is showing until the output opens.
      const output = s.page.locator(".output-view, .panel", { hasText: "/nonexistent/bin/python" }).first();
      for (let attempt = 1; ; attempt++) {
        await toast.first().locator(".monaco-button", { hasText: "Show Logs" }).click();
        try {
          await output.waitFor({ state: "visible", timeout: 20_000 });
          break;
        } catch (error) {
          if (attempt === 3) throw error;
          await toast.first().waitFor({ state: "visible", timeout: 60_000 });
        }
      }
      await s.shot("logs");
    });
  });
});

describe("an untrusted folder: no model code runs, and the status says why", { skip }, () => {
  const s = new Session("untrusted");
  before(() =>
    s.open(
      {
        "security.workspace.trust.enabled": true,
        "security.workspace.trust.startupPrompt": "never",
        "weightmatch.interpreter": PYTHON,
      },
      writeExample,
      { workspaceTrust: true },
    ),
  );
  after(() => s.close());

  test("static inference finds the mismatch in Restricted Mode", { timeout: 240_000 }, async () => {
    await s.step_("squiggle", async () => {
      await quickOpen(s.page, "main.py");
      await waitForLine(s.page, LAYER_LINE, (l) => l.errors > 0, 180_000);
      await s.shot("squiggle");
    });
  });

  test("the status item says Restricted Mode", { timeout: 120_000 }, async () => {
    await s.step_("status", async () => {
      await s.page.locator("#status\\.languageStatus").hover();
      const item = s.page.locator(".monaco-hover, .context-view", { hasText: "static only (Restricted Mode)" });
      await item.first().waitFor({ state: "visible" });
      assert.match(await item.first().innerText(), /not trusted/);
      await s.shot("language-status");
    });
  });
});
