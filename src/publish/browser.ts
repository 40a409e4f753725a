// Opens exported HTML in headless Chromium with the network cut off and reports what rendered: the check that a
// published notebook really shows its charts offline.
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { scriptJson } from "../viz/html";
import { Figure, figureSize, plotlyBundleHtml, StaticImage } from "../viz/plotly";
import { cachedChartImages, CHART_IMAGE_CACHE } from "./chart-cache";

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
  /** Charts (`.dm-chart`: static image + interactive chart) on the page. */
  charts: number;
  dom: string;
}

/** Chromium's flags for pages that must render with no network. */
export function chromiumArgs(userDir?: string): string[] {
  return ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--no-first-run", "--disable-sync", "--disable-quic", ...(userDir ? [`--user-data-dir=${userDir}`] : []),
    // no network: every host resolves to nothing and any proxy use goes to a closed port
    "--proxy-server=http://127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND"];
}

/** Renders a local HTML file (scripts run for up to `budgetMs` of virtual time) and counts charts and errors. */
export function renderHtml(htmlFile: string, opts: { budgetMs?: number; screenshot?: string; width?: number; height?: number } = {}): RenderReport {
  const chromium = findChromium();
  if (!chromium) throw new Error("Chromium is not installed (Debian: apt-get install -y chromium); it is needed to check rendered HTML");
  const userDir = fs.mkdtempSync(path.join(os.tmpdir(), "dm-chromium-"));
  const url = `file://${path.resolve(htmlFile)}`;
  const args = chromiumArgs(userDir);
  try {
    const dom = execFileSync(chromium, [...args, `--virtual-time-budget=${opts.budgetMs ?? 20_000}`, "--dump-dom", url],
      { encoding: "utf8", maxBuffer: 1 << 28, timeout: 180_000, stdio: ["ignore", "pipe", "ignore"] });
    if (opts.screenshot) {
      execFileSync(chromium, [...args, `--virtual-time-budget=${opts.budgetMs ?? 20_000}`,
        `--window-size=${opts.width ?? 1200},${opts.height ?? 2400}`, `--screenshot=${path.resolve(opts.screenshot)}`, url],
        { stdio: "ignore", timeout: 180_000 });
    }
    const plotDivs: string[] = dom.match(/<div[^>]*class="[^"]*dm-plot[^"]*"[^>]*>/g) ?? [];
    const rendered = plotDivs.filter((d) => d.includes("js-plotly-plot")).length;
    const errorOutputs = (dom.match(/class="[^"]*(jp-OutputArea-output[^"]*"[^>]*data-mime-type="application\/vnd\.jupyter\.stderr|output_error)/g) ?? []).length;
    return { plots: rendered, unrendered: plotDivs.length - rendered, errorOutputs, dom, charts: dom.split('<div class="dm-chart"').length - 1 };
  } finally {
    fs.rmSync(userDir, { recursive: true, force: true });
  }
}

/**
 * Static PNGs of charts, all drawn in one Chromium session (starting Chromium and parsing plotly.js cost a few
 * seconds, so once per notebook rather than once per chart), or read back from the chart-image cache when the same
 * figure was drawn before. Each entry is the base64 PNG or why it failed.
 */
export function renderChartImages(figures: Figure[], opts: ChartImageOptions = {}): StaticImage[] {
  if (figures.length === 0) return [];
  const items = figures.map((f) => ({ data: f.data, layout: f.layout, ...figureSize(f) }));
  const scale = opts.scale ?? 1;
  const cacheDir = opts.cacheDir === undefined ? CHART_IMAGE_CACHE : opts.cacheDir;
  if (cacheDir === null) return drawChartImages(items, scale, opts.chromium);
  return cachedChartImages(items, scale, cacheDir, (missing) => drawChartImages(missing, scale, opts.chromium));
}

export interface ChartImageOptions {
  /** The Chromium executable (default: found on PATH); null draws nothing (each image says why). */
  chromium?: string | null;
  scale?: number;
  /** Folder of images already drawn (default .cache/chart-images); null draws every chart. */
  cacheDir?: string | null;
}

type ChartItem = { data: Figure["data"]; layout: Figure["layout"]; width: number; height: number };

function drawChartImages(items: ChartItem[], scale: number, chromiumOption: string | null | undefined): StaticImage[] {
  const chromium = chromiumOption === undefined ? findChromium() : chromiumOption;
  if (!chromium) return items.map(() => ({ missing: NO_CHROMIUM }));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dm-chart-images-"));
  const userDir = path.join(dir, "profile");
  const page = path.join(dir, "charts.html");
  fs.writeFileSync(page, `<!DOCTYPE html><html><head><meta charset="utf-8"></head><body>\n${plotlyBundleHtml()}\n` +
    `<pre id="dm-images"></pre>\n<script>(async function () {\n` +
    `  var figs = ${scriptJson(items)}, lines = [];\n` +
    `  for (var i = 0; i < figs.length; i++) {\n` +
    `    var f = figs[i], div = document.createElement("div");\n` +
    `    div.style.width = f.width + "px"; div.style.height = f.height + "px"; document.body.appendChild(div);\n` +
    `    try {\n` +
    `      await Plotly.newPlot(div, f.data, f.layout, { staticPlot: true });\n` +
    `      lines.push(i + " " + await Plotly.toImage(div, { format: "png", width: f.width, height: f.height, scale: ${scale} }));\n` +
    `    } catch (e) { lines.push(i + " error " + String(e && e.message || e).replace(/\\s+/g, " ")); }\n` +
    `    Plotly.purge(div); div.remove();\n` +
    `  }\n` +
    `  document.getElementById("dm-images").textContent = lines.join("\\n");\n` +
    `})();</script></body></html>`);
  try {
    let dom = "";
    try {
      dom = execFileSync(chromium, [...chromiumArgs(userDir), `--virtual-time-budget=${30_000 + 5_000 * items.length}`, "--dump-dom", `file://${page}`],
        { encoding: "utf8", maxBuffer: 1 << 28, timeout: 300_000, stdio: ["ignore", "pipe", "ignore"] });
    } catch (e) {
      return items.map(() => ({ missing: `Chromium failed to draw the static image (${(e as Error).message.split("\n")[0]})` }));
    }
    const text = dom.match(/<pre id="dm-images">([^<]*)<\/pre>/)?.[1] ?? "";
    const found = new Map<number, StaticImage>();
    for (const line of text.split("\n")) {
      const m = line.match(/^(\d+) (?:data:image\/png;base64,([A-Za-z0-9+/=]+)|error (.*))$/);
      if (m) found.set(Number(m[1]), m[2] ? { png: m[2] } : { missing: `Plotly could not draw the static image: ${m[3]}` });
    }
    return items.map((_, i) => found.get(i) ?? { missing: "Chromium did not finish drawing the static image in time" });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export const NO_CHROMIUM = "No static image: Chromium was not found when this notebook was executed (Debian: apt-get install chromium), " +
  "so this chart shows only where scripts run (JupyterLab, VS Code, the exported HTML).";
