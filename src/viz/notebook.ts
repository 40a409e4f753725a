// Showing things in a notebook through the tslab kernel. The functions return nothing, so tslab does not also
// print a value; outside a kernel (tests, scripts) they do nothing. The HTML comes from plotHtml/tableHtml.
import type { DataFrame } from "danfojs-node";
import { backendInfo, BackendInfo } from "../backend/index";
import { escapeHtml } from "./html";
import { chartBundle, Figure, PlotSpec, plotlyBundleHtml } from "./plotly";
import { Row, tableHtml } from "./table";
import { routeWarningsToNotebook } from "./warnings";
import { show, tslab, writeDisplayData } from "./display";

export { show };
import type { Progress } from "../progress";

let plotlyShown = false;


/**
 * The first cell of every notebook: embeds plotly.js once (so charts and the exported HTML work offline) and
 * shows which backend runs and why.
 */
export function setupNotebook(info: BackendInfo = backendInfo()): void {
  plotlyShown = true;
  if (tslab()) routeWarningsToNotebook();
  show(`${plotlyBundleHtml()}\n${backendHtml(info)}`);
}

/** One line saying which TensorFlow.js backend runs and why. */
export function backendHtml(info: BackendInfo): string {
  return `<p class="dm-backend"><b>Backend:</b> <code>${escapeHtml(info.name)}</code> — ${escapeHtml(info.reason)}</p>`;
}

/**
 * Displays a Plotly chart as a MIME bundle (Plotly JSON + HTML; a static image is added after execution), embedding
 * plotly.js first if setupNotebook was not called.
 */
export function plot(spec: PlotSpec, opts: { height?: number } = {}): void {
  const fig = { ...spec, layout: spec.layout ?? {} } as Figure;
  const write = writeDisplayData();
  if (!write) return;
  if (!plotlyShown) show(plotlyBundleHtml());
  plotlyShown = true;
  write({ data: chartBundle(fig, opts), metadata: {}, transient: {} }, false);
}

/** Displays a table from a danfo DataFrame or row records. */
export function table(t: DataFrame | Row[], opts: {
  /** A line above the table. */
  caption?: string;
  /** Significant digits of numbers (default 4). */
  digits?: number;
} = {}): void {
  show(tableHtml(t, opts));
}

/** A progress callback that updates one output in place (a bar with a label), or does nothing outside a kernel. */
export function notebookProgress(): Progress {
  const display = tslab()?.newDisplay();
  let last = 0;
  return (done, total, label) => {
    if (!display) return;
    const now = Date.now();
    if (done < total && now - last < 200) return;
    last = now;
    const pct = total > 0 ? Math.min(100, (100 * done) / total) : 0;
    display.html(`<div class="dm-progress"><progress value="${pct.toFixed(1)}" max="100" style="width:24em"></progress> ` +
      `${escapeHtml(label)} ${done}/${total}</div>`);
  };
}

/** Displays raw HTML in the notebook (does nothing outside a kernel). */
export const displayHtml = show;
