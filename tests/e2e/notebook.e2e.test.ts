/**
 * A Jupyter notebook in a real VS Code (code-server): the example fine-tune notebook
 * (examples/n01-notebook-finetune-head) opens in VS Code's own notebook editor, without the
 * Jupyter extension and without a kernel. The cell that defines the new head gets the red
 * squiggle, its hover shows both shapes, and the quick fix applied with Ctrl+. removes it.
 * Screenshots of every step: test-artifacts/e2e/notebook/.
 *
 *   npm run test:e2e          (every scenario; `-- --test-name-pattern=notebook` for this one)
 */
import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { missingPrerequisites, PYTHON, REPO } from "./codeServer";
import { Session } from "./session";
import { errorSquiggleBox, quickFixRow, quickOpen, squigglesInCells, waitForLine } from "./workbench";

const EXAMPLE = path.join(REPO, "examples", "n01-notebook-finetune-head");
const NOTEBOOK = "finetune.ipynb";
const LAYER_LINE = "self.fc = nn.Linear(32, 5)";
const FIXED_LINE = "self.fc = nn.Linear(32, 10)";
const FIX_TITLE = "Use the checkpoint's size";

/** The example's notebook, and the checkpoint its make_ckpt.py writes with real torch. */
function writeNotebookExample(workspace: string): void {
  fs.copyFileSync(path.join(EXAMPLE, "workspace", NOTEBOOK), path.join(workspace, NOTEBOOK));
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "wm-notebook-"));
  try {
    fs.mkdirSync(path.join(scratch, "workspace"));
    execFileSync(PYTHON, [path.join(EXAMPLE, "make_ckpt.py")], { cwd: scratch, timeout: 120_000 });
    fs.copyFileSync(path.join(scratch, "workspace", "pretrained.pth"), path.join(workspace, "pretrained.pth"));
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

const missing = missingPrerequisites();
const skip = missing.length > 0 && `missing: ${missing.join("; ")}`;

describe("notebook: squiggle in the defining cell, hover, quick fix", { skip }, () => {
  const s = new Session("notebook");
  before(() => s.open({ "weightmatch.interpreter": PYTHON, "weightmatch.logLevel": "debug" }, writeNotebookExample));
  after(() => s.close());

  test("a red squiggle on the head's line, in the cell that defines it", { timeout: 300_000 }, async () => {
    await s.step_("squiggle", async () => {
      await quickOpen(s.page, NOTEBOOK);
      await s.page.locator(".notebook-editor, .notebookOverlay").first().waitFor({ state: "visible" });
      const line = await waitForLine(s.page, LAYER_LINE, (l) => l.errors > 0, 240_000, squigglesInCells);
      assert.equal(line.lineText.trim(), `${LAYER_LINE}  # 5 classes now`);
      await s.shot("squiggle");
    });
  });

  test("the hover shows the checkpoint's and the model's shapes", { timeout: 120_000 }, async () => {
    await s.step_("hover", async () => {
      const line = await squigglesInCells(s.page, LAYER_LINE);
      assert.ok(line);
      const box = await errorSquiggleBox(s.page, line, ".monaco-workbench");
      await s.page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
      const hover = s.page.locator(".monaco-hover", { hasText: /10,\s*32/ }).filter({ hasText: /5,\s*32/ });
      await hover.first().waitFor({ state: "visible" });
      const text = await hover.first().innerText();
      assert.match(text, /\[10,\s*32\]/);
      assert.match(text, /\[5,\s*32\]/);
      await s.shot("hover");
    });
  });

  test("the quick fix, applied with Ctrl+., removes the squiggle", { timeout: 180_000 }, async () => {
    await s.step_("quickfix", async () => {
      const fix = await quickFixRow(s.page, () => squigglesInCells(s.page, LAYER_LINE), FIX_TITLE, ".monaco-workbench");
      await s.shot("quickfix-menu");
      await fix.click();

      const fixed = await waitForLine(s.page, FIXED_LINE, (l) => l.errors === 0, 120_000, squigglesInCells);
      assert.match(fixed.lineText, /nn\.Linear\(32, 10\)/);
      assert.equal(await squigglesInCells(s.page, LAYER_LINE), null, "the old line is gone");
      await s.shot("fixed");
    });
  });
});
