// Plotly figures as plain JSON, and their HTML: plotly.js is embedded once per notebook (or report) and every
// chart afterwards is a <div> plus a few lines of script, so exported HTML works offline.
import * as fs from "fs";
import type { Config, Data, Layout, PlotData } from "plotly.js";
import { escapeHtml, scriptJson } from "./html";

export type { Config, Data, Layout, PlotData } from "plotly.js";

/** A chart spec in Plotly's own types (@types/plotly.js), so a user's traces and layout are checked and completed. */
export interface PlotSpec {
  data: Data[];
  layout?: Partial<Layout>;
  config?: Partial<Config>;
}

/** What the figure builders return: Plotly-typed traces and layout that also allow reading any key. */
export interface Figure extends PlotSpec {
  data: (Partial<PlotData> & Record<string, unknown>)[];
  layout: Partial<Layout> & Record<string, unknown>;
}

let bundle: string | undefined;

/** The minified plotly.js source, read from the installed plotly.js-dist-min package. */
export function plotlySource(): string {
  if (bundle === undefined) bundle = fs.readFileSync(require.resolve("plotly.js-dist-min/plotly.min.js"), "utf8");
  return bundle;
}

/**
 * A <script> that defines window.Plotly. Classic Notebook ships RequireJS, and plotly's UMD wrapper would then
 * register an AMD module instead of the global, so `define` is hidden while the bundle runs.
 */
export function plotlyBundleHtml(): string {
  const src = plotlySource().replace(/<\/script/gi, "<\\/script");
  return `<script type="text/javascript">window.__dmDefine = window.define; window.define = undefined;</script>\n` +
    `<script type="text/javascript">${src}</script>\n` +
    `<script type="text/javascript">window.define = window.__dmDefine; delete window.__dmDefine;</script>`;
}

let plotCounter = 0;

/** The HTML of one interactive chart (needs plotly.js embedded earlier on the page). */
export function plotHtml(fig: PlotSpec, opts: { id?: string; height?: number } = {}): string {
  const id = opts.id ?? `dm-plot-${process.pid}-${Date.now().toString(36)}-${plotCounter++}`;
  const layout = fig.layout ?? {};
  const height = opts.height ?? (typeof layout.height === "number" ? layout.height : 420);
  const config = { responsive: true, displaylogo: false, ...(fig.config ?? {}) };
  const t = layout.title as string | { text?: string } | undefined;
  const title = typeof t === "string" ? t : t?.text ?? "chart";
  // Waits for Plotly in case the bundle's output is still being rendered (front ends insert outputs async).
  return `<div id="${id}" class="dm-plot" style="width:100%;height:${height}px" aria-label="${escapeHtml(title)}"></div>\n` +
    `<script type="text/javascript">(function () {\n` +
    `  var fig = ${scriptJson({ data: fig.data, layout, config })};\n` +
    `  var tries = 0;\n` +
    `  function draw() {\n` +
    `    var el = document.getElementById(${scriptJson(id)});\n` +
    `    if (window.Plotly && el) { window.Plotly.newPlot(el, fig.data, fig.layout, fig.config); return; }\n` +
    `    if (tries++ < 200) setTimeout(draw, 50);\n` +
    `    else if (el) el.textContent = "plotly.js is not loaded: run the notebook's first cell (dm.viz.setupNotebook())";\n` +
    `  }\n` +
    `  draw();\n` +
    `})();</script>`;
}
