// Opens exported HTML in headless Chromium with the network cut off and reports what rendered: the check that a
// published notebook really shows its charts offline.
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const CANDIDATES = ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"];

/** The Chromium executable, or null (Debian: apt-get install chromium). CHROMIUM overrides the search. */
export function findChromium(): string | null {
  const names = process.env.CHROMIUM ? [process.env.CHROMIUM] : CANDIDATES;
  for (const name of names) {
    try {
      execFileSync(name, ["--version"], { stdio: "ignore", timeout: 20_000 });
      return name;
    } catch { /* try the next one */ }
  }
  return null;
}

export interface RenderReport {
  /** Plotly charts that rendered (a `.js-plotly-plot` with its SVG). */
  plots: number;
  /** Chart placeholders that did not render. */
  unrendered: number;
  /** Error outputs visible on the page (Jupyter's error/stderr output areas). */
  errorOutputs: number;
  dom: string;
}

function chromiumArgs(userDir: string): string[] {
  return ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--no-first-run", "--disable-sync", "--disable-quic", `--user-data-dir=${userDir}`,
    // no network: every host resolves to nothing and any proxy use goes to a closed port
    "--proxy-server=http://127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND"];
}

/** Renders a local HTML file (scripts run for up to `budgetMs` of virtual time) and counts charts and errors. */
export function renderHtml(htmlFile: string, opts: { budgetMs?: number; screenshot?: string; width?: number; height?: number } = {}): RenderReport {
  const chromium = findChromium();
  if (!chromium) throw new Error("Chromium is not installed (Debian: apt-get install -y chromium); it is needed to check rendered HTML");
  const userDir = fs.mkdtempSync(path.join(os.tmpdir(), "dm-chromium-"));
  const url = `file://${path.resolve(htmlFile)}`;
  try {
    const dom = execFileSync(chromium, [...chromiumArgs(userDir), `--virtual-time-budget=${opts.budgetMs ?? 20_000}`, "--dump-dom", url],
      { encoding: "utf8", maxBuffer: 1 << 28, timeout: 180_000, stdio: ["ignore", "pipe", "ignore"] });
    if (opts.screenshot) {
      execFileSync(chromium, [...chromiumArgs(userDir), `--virtual-time-budget=${opts.budgetMs ?? 20_000}`,
        `--window-size=${opts.width ?? 1200},${opts.height ?? 2400}`, `--screenshot=${path.resolve(opts.screenshot)}`, url],
        { stdio: "ignore", timeout: 180_000 });
    }
    const plotDivs: string[] = dom.match(/<div[^>]*class="[^"]*dm-plot[^"]*"[^>]*>/g) ?? [];
    const rendered = plotDivs.filter((d) => d.includes("js-plotly-plot")).length;
    const errorOutputs = (dom.match(/class="[^"]*(jp-OutputArea-output[^"]*"[^>]*data-mime-type="application\/vnd\.jupyter\.stderr|output_error)/g) ?? []).length;
    return { plots: rendered, unrendered: plotDivs.length - rendered, errorOutputs, dom };
  } finally {
    fs.rmSync(userDir, { recursive: true, force: true });
  }
}
