// Checks that a published notebook works where it is read: the .ipynb validates with nbformat, every chart output
// carries Plotly JSON and a static PNG, the notebook is small and holds no path of this machine, and its exported HTML
// shows a visible picture per chart with JavaScript off (GitHub, nbviewer, untrusted notebooks) and the interactive
// chart with JavaScript on. Shared by the notebook tests and the reproduce tests.
import * as assert from "node:assert/strict";
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import puppeteer from "puppeteer-core";
import { projectRoot } from "../../src/backend/native";
import { chromiumArgs, findChromium } from "../../src/publish/browser";
import { PLOTLY_MIME } from "../../src/viz/plotly";

export const MAX_NOTEBOOK_BYTES = 2.5e6;

/** Why nbformat rejects the notebook (Debian's python3-nbformat, which Jupyter brings), or null when valid. */
export function nbformatProblem(file: string): string | null {
  const r = spawnSync("/usr/bin/python3", ["-c", "import sys, nbformat; nbformat.validate(nbformat.read(sys.argv[1], as_version=4))", file], { encoding: "utf8" });
  return r.status === 0 ? null : (r.stderr || r.error?.message || "nbformat failed").trim().split("\n").slice(-3).join("\n");
}

interface Output { output_type: string; data?: Record<string, unknown> }

/** Every chart output of an executed notebook (outputs with Plotly JSON, or HTML that holds a chart). */
export function chartOutputs(file: string): Output[] {
  const nb = JSON.parse(fs.readFileSync(file, "utf8")) as { cells: { outputs?: Output[] }[] };
  return nb.cells.flatMap((c) => c.outputs ?? []).filter((o) => o.data && (o.data[PLOTLY_MIME] !== undefined ||
    [o.data["text/html"] ?? ""].flat().join("").includes('class="dm-chart"')));
}

/** Absolute paths of this machine that a published file holds (the project root and the home folder). */
export function machinePaths(text: string): string[] {
  const roots = [projectRoot, fs.realpathSync(projectRoot), os.homedir()].filter((p) => p.length > 1);
  return [...new Set(roots.filter((r) => new RegExp(`${r.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}(?![\\w-]|\\.\\w)`).test(text)))];
}

export interface ChartView { picture: boolean; interactive: boolean }

const VIEWS = `[...document.querySelectorAll(".dm-chart")].map(function (chart) {
  function shown(el) {
    if (!el) return false;
    var r = el.getBoundingClientRect(), st = getComputedStyle(el);
    return r.width > 50 && r.height > 50 && st.display !== "none" && st.visibility !== "hidden";
  }
  var img = chart.querySelector("img.dm-static-image"), plot = chart.querySelector(".dm-plot");
  return {
    picture: !!img && img.complete && img.naturalWidth > 0 && shown(img) && shown(chart.querySelector(".dm-static")),
    interactive: !!plot && shown(plot) && !!plot.querySelector(".main-svg") && plot.classList.contains("js-plotly-plot"),
  };
})`;

/** What each chart of an HTML page shows in Chromium, with JavaScript on or off (network cut off either way). */
export async function chartViews(htmlFile: string, javascript: boolean): Promise<ChartView[]> {
  const name = findChromium();
  if (!name) throw new Error("Chromium is not installed");
  const executablePath = execFileSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8" }).trim();
  const browser = await puppeteer.launch({ executablePath, headless: true, args: chromiumArgs(), timeout: 120_000 });
  try {
    const page = await browser.newPage();
    await page.setJavaScriptEnabled(javascript);
    await page.setViewport({ width: 1200, height: 900 });
    await page.goto(`file://${path.resolve(htmlFile)}`, { waitUntil: "load", timeout: 120_000 });
    if (javascript) {
      await page.waitForFunction('[...document.querySelectorAll(".dm-chart .dm-plot")].every(function (el) { return el.querySelector(".main-svg"); })',
        { timeout: 60_000, polling: 200 }).catch(() => undefined);
    }
    // A string, not a function: tsx would add helpers that do not exist in the page.
    return await page.evaluate(VIEWS) as ChartView[];
  } finally {
    await browser.close();
  }
}

/** All the checks above on an executed notebook and its exported HTML. */
export async function assertPublishable(executed: string, html: string): Promise<void> {
  assert.equal(nbformatProblem(executed), null, `${executed} does not validate with nbformat`);
  const size = fs.statSync(executed).size;
  assert.ok(size <= MAX_NOTEBOOK_BYTES, `${path.basename(executed)} is ${(size / 1e6).toFixed(2)} MB`);
  for (const file of [executed, html]) assert.deepEqual(machinePaths(fs.readFileSync(file, "utf8")), [], `${file} holds a path of this machine`);
  const outputs = chartOutputs(executed);
  assert.ok(outputs.length >= 1, "the notebook has no chart");
  for (const o of outputs) {
    assert.ok(o.data![PLOTLY_MIME], "a chart output without Plotly JSON");
    assert.match(String(o.data!["image/png"] ?? ""), /^iVBORw0KGgo/, "a chart output without a static PNG");
  }
  const off = await chartViews(html, false);
  assert.equal(off.length, outputs.length, "charts on the page");
  assert.deepEqual(off.filter((v) => !v.picture || v.interactive), [], "with JavaScript off, every chart shows its picture");
  const on = await chartViews(html, true);
  assert.deepEqual(on.filter((v) => !v.interactive || v.picture), [], "with JavaScript on, every chart is interactive");
}
