// The pass over an executed notebook before it is published: every chart gets its static image (all charts of the
// notebook drawn in one Chromium session, or read back from .cache/chart-images when drawn before), plotly.js leaves
// the stored outputs (the exported HTML embeds it once), and the machine's paths are replaced (see paths.ts).
import * as fs from "fs";
import { writeFileAtomic } from "../io/atomic";
import { chartBundle, Figure, INLINE_FIGURE_BYTES, PLOTLY_MIME, withoutPlotlyJs } from "../viz/plotly";
import { renderChartImages } from "./browser";
import { PathRule, scrubPaths } from "./paths";

interface Output { output_type: string; data?: Record<string, unknown>; metadata?: Record<string, unknown> }
interface Notebook { cells: { cell_type: string; outputs?: Output[] }[] }

const text = (v: unknown) => (Array.isArray(v) ? v.join("") : String(v));

export interface FinishReport {
  charts: number;
  /** Charts that got a static image. */
  images: number;
  /** Seconds spent drawing the static images. */
  imageSeconds: number;
}

/** Adds static images, drops plotly.js and scrubs paths in an executed notebook, in place. */
export function finishNotebook(file: string, opts: { rules?: PathRule[]; chromium?: string | null; imageCache?: string | null } = {}): FinishReport {
  const nb = JSON.parse(fs.readFileSync(file, "utf8")) as Notebook;
  const charts: { cell: number; output: Output; fig: Figure }[] = [];
  nb.cells.forEach((cell, c) => {
    if (!cell.outputs) return;
    cell.outputs = cell.outputs.filter((o) => {
      if (!o.data) return true;
      if (o.data[PLOTLY_MIME]) charts.push({ cell: c, output: o, fig: o.data[PLOTLY_MIME] as Figure });
      else if (o.data["text/html"] !== undefined) {
        const html = withoutPlotlyJs(text(o.data["text/html"]));
        if (!html.trim()) return false; // an output that only embedded plotly.js
        o.data["text/html"] = html;
      }
      return true;
    });
  });
  const t0 = Date.now();
  const images = renderChartImages(charts.map((c) => c.fig), { chromium: opts.chromium, cacheDir: opts.imageCache });
  const imageSeconds = (Date.now() - t0) / 1000;
  charts.forEach((c, i) => {
    const interactiveHtml = JSON.stringify(c.fig).length <= INLINE_FIGURE_BYTES;
    c.output.data = chartBundle(c.fig, { image: images[i], id: `dm-chart-${c.cell}-${i}`, interactiveHtml });
  });
  let out = JSON.stringify(nb, null, 1) + "\n";
  if (opts.rules) out = scrubPaths(out, opts.rules);
  writeFileAtomic(file, out);
  return { charts: charts.length, images: images.filter((im) => "png" in im).length, imageSeconds };
}
