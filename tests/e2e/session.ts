/** One code-server + Chromium session over a fresh profile and workspace, for one scenario. */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { Browser, chromium, Page } from "playwright-core";
import {
  ARTIFACTS,
  buildVsix,
  CHROMIUM,
  CHROMIUM_ARGS,
  createProfile,
  installExtension,
  Profile,
  RunningServer,
  startCodeServer,
} from "./codeServer";
import { waitForWorkbench } from "./workbench";

let vsix: string | undefined;

/** The .vsix is built once per test process, however many scenarios use it. */
function packagedExtension(): string {
  if (!vsix) {
    // A new run: screenshots from earlier runs would only mislead.
    fs.rmSync(ARTIFACTS, { recursive: true, force: true });
    vsix = buildVsix();
  }
  assert.ok(fs.existsSync(vsix), `${vsix} was built`);
  return vsix;
}

export class Session {
  page!: Page;
  profile!: Profile;
  private server: RunningServer | undefined;
  private browser: Browser | undefined;
  private step = 0;
  readonly artifacts: string;

  constructor(readonly name: string) {
    this.artifacts = path.join(ARTIFACTS, name);
  }

  /** `prepare` writes the workspace's files before VS Code opens it. */
  async open(
    userSettings: Record<string, unknown>,
    prepare: (workspace: string) => void,
    options: { workspaceTrust?: boolean } = {},
  ): Promise<void> {
    const extension = packagedExtension();
    fs.rmSync(this.artifacts, { recursive: true, force: true });
    fs.mkdirSync(this.artifacts, { recursive: true });
    this.profile = createProfile(this.name, userSettings);
    prepare(this.profile.workspace);
    assert.match(installExtension(this.profile, extension), /was successfully installed/);

    this.server = await startCodeServer(this.profile, path.join(this.artifacts, "code-server.log"), options);
    this.browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
    this.page = await this.browser.newPage({ viewport: { width: 1400, height: 900 } });
    this.page.setDefaultTimeout(60_000);
    await this.page.goto(`${this.server.url}/?folder=${encodeURIComponent(this.profile.workspace)}`);
    await waitForWorkbench(this.page);
    await this.shot("workbench");
  }

  async shot(name: string): Promise<string> {
    this.step += 1;
    const file = path.join(this.artifacts, `${String(this.step).padStart(2, "0")}-${name}.png`);
    await this.page.screenshot({ path: file });
    return file;
  }

  /** Runs a step; on failure keeps a screenshot of what the UI showed. */
  async step_(name: string, body: () => Promise<void>): Promise<void> {
    try {
      await body();
    } catch (err) {
      await this.page?.screenshot({ path: path.join(this.artifacts, `failed-${name}.png`) }).catch(() => undefined);
      throw err;
    }
  }

  async close(): Promise<void> {
    await this.browser?.close().catch(() => undefined);
    await this.server?.stop();
    // The extension host's logs hold the Weight Match output channel; keep them with the shots.
    const logs = this.profile && path.join(this.profile.userDataDir, "logs");
    if (logs && fs.existsSync(logs)) fs.cpSync(logs, path.join(this.artifacts, "logs"), { recursive: true });
  }
}
