/** Steps through the VS Code workbench the way a user does, waiting on the UI's own events. */
import type { Frame, FrameLocator, Locator, Page } from "playwright-core";

/** Monaco renders spaces as U+00A0; compare line text with ordinary spaces. */
export function plain(text: string | null | undefined): string {
  return (text ?? "").replace(/\u00a0/g, " ");
}

export async function waitForWorkbench(page: Page): Promise<void> {
  await page.waitForSelector(".monaco-workbench", { timeout: 120_000 });
  // The explorer lists the folder once the workspace has loaded.
  await page.waitForSelector(".explorer-folders-view .monaco-list-row", { timeout: 120_000 });
}

/** Ctrl+P, the file name, Enter: opens the file with its default editor. */
export async function quickOpen(page: Page, fileName: string): Promise<void> {
  await page.keyboard.press("Control+P");
  const input = page.locator(".quick-input-widget input");
  await input.waitFor({ state: "visible" });
  await input.fill(fileName);
  await page
    .locator(".quick-input-widget .monaco-list-row", { hasText: fileName })
    .first()
    .waitFor({ state: "visible" });
  await page.keyboard.press("Enter");
  await page.locator(".tabs-container .tab.active", { hasText: fileName }).waitFor({ state: "visible" });
}

export interface LineSquiggles {
  lineText: string;
  box: { x: number; y: number; width: number; height: number };
  errors: number;
  warnings: number;
}

/**
 * Finds the rendered editor line containing `needle` and counts the error and warning squiggles
 * drawn over it (they live in a separate overlay layer, matched by vertical position).
 */
export async function squigglesOnLine(page: Page, needle: string): Promise<LineSquiggles | null> {
  return page.evaluate((needle) => {
    const editor = document.querySelector(".editor-group-container.active .monaco-editor") ?? document;
    const lines = [...editor.querySelectorAll(".view-lines .view-line")] as HTMLElement[];
    const line = lines.find((l) => (l.textContent ?? "").replace(/\u00a0/g, " ").includes(needle));
    if (!line) return null;
    const r = line.getBoundingClientRect();
    const count = (selector: string) =>
      [...editor.querySelectorAll(selector)].filter((el) => {
        const s = el.getBoundingClientRect();
        const middle = s.top + s.height / 2;
        return s.width > 0 && middle >= r.top && middle <= r.bottom;
      }).length;
    return {
      lineText: (line.textContent ?? "").replace(/\u00a0/g, " "),
      box: { x: r.left, y: r.top, width: r.width, height: r.height },
      errors: count(".squiggly-error"),
      warnings: count(".squiggly-warning"),
    };
  }, needle);
}

/**
 * `squigglesOnLine` in a notebook: every cell has an editor of its own, so the line is looked
 * for in each editor of the active notebook, and squiggles are counted in that cell's editor.
 */
export async function squigglesInCells(page: Page, needle: string): Promise<LineSquiggles | null> {
  return page.evaluate((needle) => {
    // The notebook editor is drawn in an overlay of the workbench, not inside the editor group.
    for (const editor of document.querySelectorAll(".monaco-workbench .monaco-editor")) {
      const lines = [...editor.querySelectorAll(".view-lines .view-line")] as HTMLElement[];
      const line = lines.find((l) => (l.textContent ?? "").replace(/\u00a0/g, " ").includes(needle));
      if (!line) continue;
      const r = line.getBoundingClientRect();
      const count = (selector: string) =>
        [...editor.querySelectorAll(selector)].filter((el) => {
          const s = el.getBoundingClientRect();
          const middle = s.top + s.height / 2;
          return s.width > 0 && middle >= r.top && middle <= r.bottom;
        }).length;
      return {
        lineText: (line.textContent ?? "").replace(/\u00a0/g, " "),
        box: { x: r.left, y: r.top, width: r.width, height: r.height },
        errors: count(".squiggly-error"),
        warnings: count(".squiggly-warning"),
      };
    }
    return null;
  }, needle);
}

/** Waits until the predicate over a line's squiggles holds (polling the DOM, no sleeps). */
export async function waitForLine(
  page: Page,
  needle: string,
  predicate: (line: LineSquiggles) => boolean,
  timeout: number,
  find: (page: Page, needle: string) => Promise<LineSquiggles | null> = squigglesOnLine,
): Promise<LineSquiggles> {
  const deadline = Date.now() + timeout;
  for (;;) {
    const line = await find(page, needle);
    if (line && predicate(line)) return line;
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting on the line with ${JSON.stringify(needle)}: ${JSON.stringify(line)}`);
    }
    // Let the page render a frame before looking again.
    await page.waitForFunction(() => new Promise((resolve) => requestAnimationFrame(() => resolve(true))));
  }
}

/** The box of the first error squiggle on the line: hovering or clicking there is inside the range. */
export async function errorSquiggleBox(page: Page, line: LineSquiggles, scope = ".editor-group-container.active") {
  // (a notebook's cell editors are in an overlay: pass ".monaco-workbench"; the line's box tells them apart)
  const boxes = await page.locator(`${scope} .squiggly-error`).evaluateAll((els) =>
    els.map((el) => {
      const r = el.getBoundingClientRect();
      return { x: r.left, y: r.top, width: r.width, height: r.height };
    }),
  );
  const box = boxes.find((b) => b.width > 0 && b.y + b.height / 2 >= line.box.y && b.y + b.height / 2 <= line.box.y + line.box.height);
  if (!box) throw new Error("no error squiggle on the line");
  return box;
}

/**
 * The content frame of an extension's webview. Webviews are drawn in a layer of their own, not
 * inside the editor group, so they are found by the extension id in the host frame's address.
 */
export function extensionWebview(page: Page, extensionId: string): FrameLocator {
  return page.frameLocator(`iframe.webview.ready[src*="extensionId=${extensionId}"]`).frameLocator("#active-frame");
}

export type { Frame };

/**
 * Opens the quick-fix menu at the line's error squiggle with Ctrl+. and returns the row titled
 * `title`, once it is visible. The menu is asked for again (the squiggle's box measured afresh)
 * when it opens without that row: on a loaded machine the first Ctrl+. can reach the editor
 * before the cursor does, or a notebook cell can move as its editor takes focus. Each attempt
 * waits on the row itself, not on a clock; what the menu showed is in the error if none works.
 */
export async function quickFixRow(
  page: Page,
  findLine: () => Promise<LineSquiggles | null>,
  title: string,
  scope?: string,
  attempts = 4,
): Promise<Locator> {
  const seen: string[] = [];
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const line = await findLine();
    if (!line) throw new Error("the line with the squiggle is gone");
    const box = await errorSquiggleBox(page, line, scope);
    // Put the cursor inside the diagnostic's range; Escape closes the hover the click may open.
    await page.keyboard.press("Escape");
    await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
    await page.keyboard.press("Escape");
    await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
    await page.keyboard.press("Control+.");
    const row = page.locator(".action-widget .monaco-list-row", { hasText: title }).first();
    try {
      await row.waitFor({ state: "visible", timeout: 20_000 });
      return row;
    } catch {
      const widget = page.locator(".action-widget");
      seen.push((await widget.count()) ? (await widget.first().innerText()).replace(/\s+/g, " ") : "(no menu)");
      await page.keyboard.press("Escape");
    }
  }
  throw new Error(`no quick fix titled ${JSON.stringify(title)} after ${attempts} tries; the menu showed: ${JSON.stringify(seen)}`);
}
