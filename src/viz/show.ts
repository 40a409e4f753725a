// `show(x)`: a rich HTML view of whatever a notebook holds (SAE, store, family and entry, activation table, model
// run, latent pages, decomposition, estimate, tensor, DataFrame, rows, figure), next to the few-line printed form
// every public object has. Unknown values show their printed form.
import * as util from "util";
import type { DataFrame } from "danfojs-node";
import { tf } from "../backend/index";
import { ActivationTable } from "../activations/table";
import { ModelRun } from "../activations/run";
import type { DecompositionResult } from "../darkmatter/decomposition";
import type { Estimate } from "../darkmatter/common";
import { LatentPages } from "../explore/latents";
import type { FamilyEntry, FamilySummary } from "../family/family";
import { formatEstimate, formatNumber } from "../inspect";
import { Sae } from "../sae/model";
import { escapeHtml } from "./html";
import { latentCardHtml, latentsOnHtml } from "./latent-card";
import { displayHtml, plot } from "./notebook";
import type { Figure } from "./plotly";
import { Row, tableHtml } from "./table";

const isObj = (x: unknown): x is Record<string, unknown> => typeof x === "object" && x !== null;
const isEstimate = (x: unknown): x is Estimate => isObj(x) && typeof x.value === "number" && "interval" in x && Object.keys(x).length === 2;
const isDecomposition = (x: unknown): x is DecompositionResult => isObj(x) && "linearMap" in x && "fvuNonlinear" in x;
const isFamily = (x: unknown): x is FamilySummary => isObj(x) && x.format === "darkmatter-sae-family";
const isEntry = (x: unknown): x is FamilyEntry => isObj(x) && typeof x.folder === "string" && typeof x.width === "number" && "fvu" in x;
const isFigure = (x: unknown): x is Figure => isObj(x) && Array.isArray(x.data) && isObj(x.layout);
const isDataFrame = (x: unknown): x is DataFrame => isObj(x) && Array.isArray((x as { columns?: unknown }).columns) && "values" in x && typeof (x as { head?: unknown }).head === "function";
const isStore = (x: unknown): x is { dir: string; manifest: { key: string }; rows: number; d: number; hooks: string[] } =>
  isObj(x) && typeof x.readRows === "function" && isObj(x.manifest);

function pre(x: unknown): string {
  return `<pre style="font-size:12px">${escapeHtml(util.inspect(x, { depth: 2 }))}</pre>`;
}

function caption(text: string): { caption: string } { return { caption: text }; }

/** The HTML view of a value (what `show` displays). */
export function htmlOf(x: unknown): string {
  if (x instanceof ActivationTable) {
    const n = Math.min(x.rows, 40);
    const head = x.select(Array.from({ length: n }, (_, i) => i)).records() as Row[];
    return tableHtml(head, caption(`${x.name}: ${x.rows} rows × ${x.d}, ${x.sequences} sequence(s)${x.rows > n ? `; first ${n} rows` : ""}`));
  }
  if (x instanceof ModelRun) {
    const first = x.get(x.hooks[0]);
    const rows: Row[] = x.tokens.map((t, i) => ({
      sequence: i, tokens: t.length, text: x.get(x.hooks[0]).rowsOf(i).map((r) => first.tokenText(r)).join("|").slice(0, 160),
    }));
    return tableHtml(rows, caption(`Model run: ${x.tokens.length} sequences; hooks ${x.hooks.join(", ")}`));
  }
  if (x instanceof Sae) {
    const s = x.summary();
    const rows: Row[] = Object.entries({ ...s, ...(s.metadata as object) }).filter(([k]) => k !== "metadata")
      .map(([k, v]) => ({ field: k, value: typeof v === "object" ? JSON.stringify(v) : (v as string | number | boolean) }));
    return tableHtml(rows, caption("SAE"));
  }
  if (x instanceof LatentPages) {
    const s = x.stats;
    const order = Array.from({ length: s.d_sae }, (_, j) => j).sort((a, b) => s.count[b] - s.count[a]);
    const rows: Row[] = order.slice(0, 12).map((j) => ({ latent: j, density: s.count[j] / s.rows, "mean activation": s.count[j] ? s.sum[j] / s.count[j] : 0, max: s.max[j] }));
    return tableHtml(rows, caption(`Latent pages of ${x.label} (${s.hook}): the 12 densest of ${s.d_sae} latents; dm.viz.showLatent(pages, j) shows one`));
  }
  if (isDecomposition(x)) {
    const rows: Row[] = [
      { metric: "fvu", value: formatEstimate(x.fvu) }, { metric: "fvu_nonlinear", value: formatEstimate(x.fvuNonlinear) },
      { metric: "vector R² (LinearError vs SaeError)", value: formatEstimate(x.vectorR2) }, { metric: "norm R² (‖SaeError‖²)", value: formatEstimate(x.normR2) },
      { metric: "‖SaeError‖² per token", value: formatNumber(x.energy.saeError, 4) }, { metric: "‖LinearError‖² per token", value: formatNumber(x.energy.linearError, 4) },
      { metric: "‖NonlinearError‖² per token", value: formatNumber(x.energy.nonlinearError, 4) },
      { metric: "rows (train / evaluated)", value: `${x.rows.train} / ${x.rows.evaluated}` },
    ];
    return tableHtml(rows, caption(`Decomposition of SaeError (d ${x.d}, ${x.intercept ? "with" : "without"} intercept${x.bootstrap ? `, ${Math.round(100 * x.bootstrap.level)} % bootstrap intervals` : ""})`));
  }
  if (isEstimate(x)) return `<p>${escapeHtml(formatEstimate(x, 4))}</p>`;
  if (isFamily(x)) {
    return tableHtml(x.entries.map((e) => ({ folder: e.folder, width: e.width, k: e.k, l0: e.l0, fvu: e.fvu, "dead %": 100 * e.deadFraction })),
      caption(`SAE family ${x.dir}`));
  }
  if (isObj(x) && isFamily(x.summary)) return htmlOf(x.summary);
  if (isEntry(x)) return tableHtml(Object.entries(x).filter(([, v]) => typeof v !== "object" || v === null).map(([k, v]) => ({ field: k, value: v as string | number | boolean | null })), caption(`SAE ${x.folder}`));
  if (isStore(x)) {
    return tableHtml([{ dir: x.dir, rows: x.rows, d: x.d, hooks: x.hooks.join(", "), key: x.manifest.key }], caption("Activation store"));
  }
  if (x instanceof tf.Tensor) {
    const shape = x.shape;
    if (x.isDisposed || x.rank > 2 || x.dtype === "string") return pre(x);
    const v = x.dataSync() as ArrayLike<number>;
    const cols = x.rank === 2 ? shape[1] : shape[0] ?? 1, rows = x.rank === 2 ? shape[0] : 1;
    const table: Row[] = Array.from({ length: Math.min(rows, 12) }, (_, r) =>
      Object.fromEntries(Array.from({ length: Math.min(cols, 10) }, (_, c) => [String(c), v[r * cols + c]])));
    return tableHtml(table, caption(util.inspect(x).split("\n")[0] + (rows > 12 || cols > 10 ? " (top-left corner)" : "")));
  }
  if (isDataFrame(x)) return tableHtml(x);
  if (Array.isArray(x) && x.length && x.every((r) => isObj(r) && !Array.isArray(r))) return tableHtml(x as Row[]);
  return pre(x);
}

/** Displays a rich view of any value the library returns (charts are plotted). */
export function show(x: unknown): void {
  if (isFigure(x)) return plot(x);
  displayHtml(htmlOf(x));
}

/** Displays latent j's card: top contexts shaded by activation, band samples, density, histogram, promoted tokens. */
export function showLatent(pages: LatentPages, latent: number): void {
  displayHtml(latentCardHtml(pages.card(latent)));
}

/** Displays the latents most active on one token (a table row, or a store row number), each linking to its card. */
export function showLatentsOn(pages: LatentPages, table: ActivationTable | number, row = 0, n = 8): void {
  displayHtml(latentsOnHtml(pages, table, row, n));
}
