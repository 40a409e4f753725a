// Tables: results become danfo DataFrames (for users who want to slice them) and render as escaped HTML
// (danfo has no HTML representation in Node).
import type { DataFrame } from "danfojs-node";
import { inspectSymbol } from "../inspect";
import { escapeHtml } from "./html";

/** A plain row record, the shape analyses return before it becomes a DataFrame. */
export type Row = Record<string, string | number | boolean | null>;

/** The columns of row records in first-seen order. */
function columnsOf(rows: Row[]): string[] {
  const columns: string[] = [];
  for (const r of rows) for (const k of Object.keys(r)) if (!columns.includes(k)) columns.push(k);
  return columns;
}

/** Builds a danfo DataFrame from row records (columns in first-seen order). */
export function toDataFrame(rows: Row[]): DataFrame {
  // Loaded lazily: danfo pulls in a second copy of the tfjs API surface and takes ~1 s to import.
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const danfo = require("danfojs-node") as typeof import("danfojs-node");
  readableDataFrames(danfo.DataFrame.prototype);
  const columns = columnsOf(rows);
  const data: Record<string, (string | number | boolean | null)[]> = {};
  for (const c of columns) data[c] = rows.map((r) => (c in r ? r[c] : null));
  return new danfo.DataFrame(data, { columns });
}

/** DataFrames print as their size, columns and first rows (danfo's own dump runs to hundreds of lines). */
function readableDataFrames(proto: object): void {
  if (Object.prototype.hasOwnProperty.call(proto, inspectSymbol)) return;
  Object.defineProperty(proto, inspectSymbol, {
    enumerable: false, configurable: true, writable: true,
    value: function (this: DataFrame) {
      const cols = this.columns.map(String), values = this.values as unknown[][];
      const lines = [`DataFrame ${values.length} rows × ${cols.length} columns: ${cols.slice(0, 8).join(", ")}${cols.length > 8 ? ", …" : ""}`];
      for (const row of values.slice(0, 3)) lines.push(`  ${row.slice(0, 8).map((v) => formatCell(v, 4)).join(" | ")}`);
      if (values.length > 3) lines.push("  … (dm.viz.table(df) shows it all)");
      return lines.join("\n");
    },
  });
}

function formatCell(v: unknown, digits: number): string {
  if (typeof v === "number") {
    if (!Number.isFinite(v)) return String(v);
    if (Number.isInteger(v)) return String(v);
    const a = Math.abs(v);
    return a !== 0 && (a < 1e-3 || a >= 1e6) ? v.toExponential(digits - 1) : v.toPrecision(digits).replace(/\.?0+$/, (m) => (m.startsWith(".") ? "" : m));
  }
  if (v === null || v === undefined) return "";
  return String(v);
}

/** An HTML table of a DataFrame (or row records); every cell and header is escaped. */
export function tableHtml(table: DataFrame | Row[], opts: { caption?: string; digits?: number } = {}): string {
  // Row records are drawn directly: going through a DataFrame would load danfo (~1 s) for nothing.
  const columns = Array.isArray(table) ? columnsOf(table) : table.columns.map(String);
  const values = Array.isArray(table) ? table.map((r) => columns.map((c) => (c in r ? r[c] : null))) : table.values as unknown[][];
  const digits = opts.digits ?? 4;
  const head = columns.map((c) => `<th>${escapeHtml(c)}</th>`).join("");
  const body = values.map((row) =>
    `<tr>${row.map((v) => `<td${typeof v === "number" ? ' style="text-align:right"' : ""}>${escapeHtml(formatCell(v, digits))}</td>`).join("")}</tr>`).join("\n");
  const caption = opts.caption ? `<caption style="caption-side:top;text-align:left">${escapeHtml(opts.caption)}</caption>` : "";
  return `<table class="dm-table" style="border-collapse:collapse">${caption}<thead><tr>${head}</tr></thead>\n<tbody>\n${body}\n</tbody></table>`;
}
