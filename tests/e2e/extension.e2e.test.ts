/**
 * The packaged extension in a real VS Code (code-server) in headless Chromium: a layer whose size
 * differs from the checkpoint gets a red squiggle, the hover shows both shapes, the quick fix
 * (Ctrl+.) removes it, and the checkpoint viewer lists the file's keys. Screenshots of every
 * step go to test-artifacts/e2e/.
 *
 *   npm run test:e2e          (scripts/test-client runs it after the unit tests)
 *   WEIGHTMATCH_E2E_VSIX=...  use a .vsix already built instead of `npm run package`
 */
import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { Browser, chromium, Page } from "playwright-core";
import {
  ARTIFACTS,
  buildVsix,
  CHROMIUM,
  CHROMIUM_ARGS,
  createProfile,
  installExtension,
  missingPrerequisites,
  Profile,
  PYTHON,
  RunningServer,
  startCodeServer,
} from "./codeServer";
import { activeWebview, errorSquiggleBox, quickOpen, squigglesOnLine, waitForLine, waitForWorkbench } from "./workbench";

const LAYER_LINE = "self.fc1 = nn.Linear(10, 30)";
const FIXED_LINE = "self.fc1 = nn.Linear(10, 20)";
const FIX_TITLE = "Use the checkpoint's size";

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

const missing = missingPrerequisites();

describe("Weight Match in VS Code (code-server)", { skip: missing.length > 0 && `missing: ${missing.join("; ")}` }, () => {
  let profile: Profile;
  let server: RunningServer | undefined;
  let browser: Browser | undefined;
  let page: Page;
  let step = 0;

  async function shot(name: string): Promise<string> {
    step += 1;
    const file = path.join(ARTIFACTS, `${String(step).padStart(2, "0")}-${name}.png`);
    await page.screenshot({ path: file });
    return file;
  }

  /** Runs a step; on failure keeps a screenshot of what the UI showed. */
  async function guarded(name: string, body: () => Promise<void>): Promise<void> {
    try {
      await body();
    } catch (err) {
      await page?.screenshot({ path: path.join(ARTIFACTS, `failed-${name}.png`) }).catch(() => undefined);
      throw err;
    }
  }

  before(async () => {
    fs.rmSync(ARTIFACTS, { recursive: true, force: true });
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    const vsix = buildVsix();
    assert.ok(fs.existsSync(vsix), `${vsix} was built`);

    profile = createProfile("extension-e2e", { "weightmatch.interpreter": PYTHON, "weightmatch.logLevel": "debug" });
    fs.writeFileSync(path.join(profile.workspace, "main.py"), MAIN_PY);
    execFileSync(PYTHON, ["-c", MAKE_CHECKPOINT, path.join(profile.workspace, "weights.pt")], { timeout: 120_000 });

    const installed = installExtension(profile, vsix);
    assert.match(installed, /was successfully installed/);

    server = await startCodeServer(profile, path.join(ARTIFACTS, "code-server.log"));
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
    page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    page.setDefaultTimeout(60_000);
    await page.goto(`${server.url}/?folder=${encodeURIComponent(profile.workspace)}`);
    await waitForWorkbench(page);
    await shot("workbench");
  });

  after(async () => {
    await browser?.close().catch(() => undefined);
    await server?.stop();
    // The extension host's log holds the server's output channel; keep it beside the screenshots.
    if (profile) copyLogs(profile.userDataDir, path.join(ARTIFACTS, "logs"));
  });

  test("a red squiggle on the layer whose size differs from the checkpoint", { timeout: 300_000 }, async () => {
    await guarded("squiggle", async () => {
      await quickOpen(page, "main.py");
      // The first analysis starts the server and a model worker that imports torch: be patient.
      const line = await waitForLine(page, LAYER_LINE, (l) => l.errors > 0, 240_000);
      assert.equal(line.lineText.trim(), LAYER_LINE);
      await shot("squiggle");
    });
  });

  test("the hover shows the checkpoint's and the model's shapes", { timeout: 120_000 }, async () => {
    await guarded("hover", async () => {
      const line = await squigglesOnLine(page, LAYER_LINE);
      assert.ok(line);
      const box = await errorSquiggleBox(page, line);
      await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
      const hover = page.locator(".monaco-hover", { hasText: /20,\s*10/ }).filter({ hasText: /30,\s*10/ });
      await hover.first().waitFor({ state: "visible" });
      const text = await hover.first().innerText();
      assert.match(text, /\[20,\s*10\]/);
      assert.match(text, /\[30,\s*10\]/);
      await shot("hover");
    });
  });

  test("the quick fix, applied with Ctrl+., removes the squiggle", { timeout: 180_000 }, async () => {
    await guarded("quickfix", async () => {
      const line = await squigglesOnLine(page, LAYER_LINE);
      assert.ok(line);
      const box = await errorSquiggleBox(page, line);
      // Put the cursor inside the diagnostic's range, then close the hover that the click opens.
      await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
      await page.keyboard.press("Escape");
      await page.keyboard.press("Control+.");
      const fix = page.locator(".action-widget .monaco-list-row", { hasText: FIX_TITLE });
      await fix.first().waitFor({ state: "visible" });
      await shot("quickfix-menu");
      await fix.first().click();

      await waitForLine(page, FIXED_LINE, () => true, 30_000);
      await page.keyboard.press("Control+S");
      const fixed = await waitForLine(page, FIXED_LINE, (l) => l.errors === 0, 120_000);
      assert.equal(fixed.lineText.trim(), FIXED_LINE);
      assert.equal(await squigglesOnLine(page, LAYER_LINE), null, "the old line is gone");
      await shot("fixed");
    });
  });

  test("the checkpoint viewer lists the checkpoint's keys", { timeout: 120_000 }, async () => {
    await guarded("viewer", async () => {
      await quickOpen(page, "weights.pt");
      const view = activeWebview(page);
      const weight = view.locator('tr[data-key="fc1.weight"]');
      await weight.waitFor({ state: "visible" });
      assert.match(await weight.innerText(), /\[20, 10\]/);
      assert.match(await view.locator('tr[data-key="fc1.bias"]').innerText(), /\[20\]/);
      assert.match(await view.locator("#summary").innerText(), /2 tensors/);
      await shot("viewer");
    });
  });
});

function copyLogs(userDataDir: string, target: string): void {
  const logs = path.join(userDataDir, "logs");
  if (!fs.existsSync(logs)) return;
  fs.cpSync(logs, target, { recursive: true });
}
