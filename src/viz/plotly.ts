// Plotly figures as plain JSON, and how they are shown. A chart output is a MIME bundle, as Plotly's Python package
// emits it: `application/vnd.plotly.v1+json` (JupyterLab and VS Code draw it natively, trusted or not), a static PNG
// (added after execution by headless Chromium: GitHub and nbviewer show it) and `text/html` that shows the PNG where
// scripts do not run and the interactive chart where they do and plotly.js is on the page (embedded once per HTML
// export, or by setupNotebook in a live session), so executed notebooks do not carry plotly.js.
import * as fs from "fs";
import type * as Plotly from "plotly.js";
import { escapeHtml, scriptJson } from "./html";

// Declared here rather than re-exported, so the API reference lists them (it leaves out what node_modules declares).
/** One trace: Plotly's own type (@types/plotly.js), checked and completed in the kernel; see plotly.com/javascript/reference. */
export type Data = Plotly.Data;
/** A chart's layout: Plotly's own type (title, axes, barmode, height, …). */
export type Layout = Plotly.Layout;
/** Plotly's display options (modebar, responsiveness, …). */
export type Config = Plotly.Config;
/** A trace with every field Plotly knows of. */
export type PlotData = Plotly.PlotData;

/** A chart spec in Plotly's own types (@types/plotly.js), so a user's traces and layout are checked and completed. */
export interface PlotSpec {
  /** The traces. */
  data: Data[];
  /** Title, axes, size, … */
  layout?: Partial<Layout>;
  /** Display options. */
  config?: Partial<Config>;
}

/** What the figure builders return: Plotly-typed traces and layout that also allow reading any key. */
export interface Figure extends PlotSpec {
  data: (Partial<PlotData> & Record<string, unknown>)[];
  layout: Partial<Layout> & Record<string, unknown>;
}

/** The MIME type of Plotly figure JSON in Jupyter outputs. */
export const PLOTLY_MIME = "application/vnd.plotly.v1+json";

/** The static picture of a chart, or why there is none. */
export type StaticImage = { png: string } | { missing: string };

/** What the text/html of a chart shows before a static image is added (a live session or a plain nbconvert run). */
export const NO_IMAGE_YET = "No static image yet: `darkmatter reproduce` (or executeNotebook) adds one with headless Chromium.";

let bundle: string | undefined;

/** The minified plotly.js source, read from the installed plotly.js-dist-min package. */
export function plotlySource(): string {
  if (bundle === undefined) bundle = fs.readFileSync(require.resolve("plotly.js-dist-min/plotly.min.js"), "utf8");
  return bundle;
}

/** Marks plotly.js on a page, so a stored notebook can drop it (exported HTML embeds it once again). */
export const PLOTLY_JS_BEGIN = "<!--dm-plotly.js-->";
export const PLOTLY_JS_END = "<!--/dm-plotly.js-->";

/**
 * A <script> that defines window.Plotly. Classic Notebook ships RequireJS, and plotly's UMD wrapper would then
 * register an AMD module instead of the global, so `define` is hidden while the bundle runs.
 */
export function plotlyBundleHtml(): string {
  const src = plotlySource().replace(/<\/script/gi, "<\\/script");
  return `${PLOTLY_JS_BEGIN}<script type="text/javascript">window.__dmDefine = window.define; window.define = undefined;</script>\n` +
    `<script type="text/javascript">${src}</script>\n` +
    `<script type="text/javascript">window.define = window.__dmDefine; delete window.__dmDefine;</script>${PLOTLY_JS_END}`;
}

/** The HTML without any embedded plotly.js (what an executed notebook stores). */
export function withoutPlotlyJs(html: string): string {
  let out = html;
  for (let at = out.indexOf(PLOTLY_JS_BEGIN); at >= 0; at = out.indexOf(PLOTLY_JS_BEGIN)) {
    const end = out.indexOf(PLOTLY_JS_END, at);
    if (end < 0) break;
    out = out.slice(0, at) + out.slice(end + PLOTLY_JS_END.length);
  }
  return out;
}

let plotCounter = 0;

/** The chart's title, for alt texts and labels. */
export function figureTitle(fig: PlotSpec): string {
  const t = fig.layout?.title;
  return typeof t === "string" ? t : (t as { text?: string } | undefined)?.text ?? "chart";
}

/** Pixel size of the chart: the layout's, or the default 900 × 420. */
export function figureSize(fig: PlotSpec): { width: number; height: number } {
  const layout = fig.layout ?? {};
  return { width: typeof layout.width === "number" ? layout.width : 900, height: typeof layout.height === "number" ? layout.height : 420 };
}

/**
 * The HTML of one chart: the static image (or a note saying why there is none), replaced by the interactive chart
 * when scripts run and plotly.js is on the page.
 */
export function plotHtml(fig: PlotSpec, opts: { id?: string; height?: number; image?: StaticImage; interactive?: boolean } = {}): string {
  const layout = fig.layout ?? {};
  const id = opts.id ?? `dm-plot-${process.pid}-${Date.now().toString(36)}-${plotCounter++}`;
  const height = opts.height ?? figureSize(fig).height;
  const config = { responsive: true, displaylogo: false, ...(fig.config ?? {}) };
  const title = figureTitle(fig);
  const image = opts.image ?? { missing: NO_IMAGE_YET };
  const fallback = "png" in image
    ? `<img class="dm-static-image" src="data:image/png;base64,${image.png}" alt="${escapeHtml(title)}" style="max-width:100%;height:auto">`
    : `<p class="dm-static-missing" style="color:#666;font-style:italic">${escapeHtml(title)}: ${escapeHtml(image.missing)}</p>`;
  if (opts.interactive === false) {
    return `<div class="dm-chart dm-static-only">\n<div class="dm-static">${fallback}</div>\n<p style="color:#666;font-size:85%">` +
      "The interactive chart: this output's Plotly data (JupyterLab, VS Code) or the exported HTML page.</p>\n</div>";
  }
  // Waits for Plotly in case the bundle's output is still being rendered (front ends insert outputs async); without
  // plotly.js on the page (a stored notebook on nbviewer) the static image stays.
  return `<div class="dm-chart">\n<div class="dm-static">${fallback}</div>\n` +
    `<div id="${id}" class="dm-plot" style="display:none;width:100%;height:${height}px" aria-label="${escapeHtml(title)}"></div>\n` +
    `<script type="text/javascript">(function () {\n` +
    `  var fig = ${scriptJson({ data: fig.data, layout, config })};\n` +
    `  var tries = 0;\n` +
    `  function draw() {\n` +
    `    var el = document.getElementById(${scriptJson(id)});\n` +
    `    if (window.Plotly && el) {\n` +
    `      el.style.display = "";\n` +
    `      var still = el.parentNode && el.parentNode.querySelector(".dm-static");\n` +
    `      if (still) still.style.display = "none";\n` +
    `      window.Plotly.newPlot(el, fig.data, fig.layout, fig.config);\n` +
    `      return;\n` +
    `    }\n` +
    `    if (tries++ < 100) setTimeout(draw, 50);\n` +
    `  }\n` +
    `  draw();\n` +
    `})();</script>\n</div>`;
}

/**
 * Figures larger than this (JSON bytes) are not repeated inside their stored text/html: that keeps only the static
 * image, and the exported HTML page draws the interactive chart from the Plotly data (see exportHtml).
 */
export const INLINE_FIGURE_BYTES = 256 * 1024;

/** Significant digits kept in stored charts: far below what a plot can show, and a third of the bytes of full doubles. */
const CHART_DIGITS = 6;

/** A copy of a JSON value with every non-integer number rounded to CHART_DIGITS significant digits. */
function compactNumbers<T>(value: T): T {
  return JSON.parse(JSON.stringify(value, (_k, v: unknown) =>
    typeof v === "number" && Number.isFinite(v) && !Number.isInteger(v) ? Number(v.toPrecision(CHART_DIGITS)) : v)) as T;
}

/**
 * A chart as a Jupyter MIME bundle (the `data` of a display_data output). Numbers are stored to CHART_DIGITS
 * significant digits, so per-token scatter plots keep executed notebooks small.
 */
export function chartBundle(fig: Figure, opts: { height?: number; image?: StaticImage; id?: string; interactiveHtml?: boolean } = {}): Record<string, unknown> {
  const layout = opts.height === undefined ? fig.layout : { ...fig.layout, height: opts.height };
  const figure: Figure = compactNumbers({ data: fig.data, layout, ...(fig.config ? { config: fig.config } : {}) });
  const image = opts.image;
  return {
    [PLOTLY_MIME]: figure,
    ...(image && "png" in image ? { "image/png": image.png } : {}),
    "text/html": plotHtml(figure, { id: opts.id, image, interactive: opts.interactiveHtml }),
    "text/plain": `<Plotly chart: ${figureTitle(fig)}>` + (image && "missing" in image ? `\n${image.missing}` : ""),
  };
}
