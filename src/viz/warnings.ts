// Warnings shown in a notebook as a visible box above the results (not a log line): one row per warning with what
// it is about, what was found and the likely cause.
import { DmWarning, formatWarning, onWarning } from "../warnings";
import { escapeHtml } from "./html";
import { show } from "./display";

/** The HTML of a warning box ("" for no warnings). */
export function warningsHtml(warnings: DmWarning[]): string {
  if (warnings.length === 0) return "";
  const rows = warnings.map((w) => `<tr><td style="padding:2px 8px"><b>${escapeHtml(w.subject)}</b></td>` +
    `<td style="padding:2px 8px">${escapeHtml(w.problem)}</td>` +
    `<td style="padding:2px 8px"><i>${escapeHtml(w.hint ? `likely cause: ${w.hint}` : "")}</i></td></tr>`).join("");
  return `<div class="dm-warnings" role="alert" style="border:2px solid #d97706;background:#fffbeb;padding:6px 10px;margin:6px 0">` +
    `<div style="font-weight:bold;color:#b45309">⚠ ${warnings.length === 1 ? "Warning" : `${warnings.length} warnings`}</div>` +
    `<table style="border-collapse:collapse;font-size:90%">${rows}</table>` +
    // The plain text too, so the warning survives any output format (text/plain readers, logs).
    `<pre style="display:none">${escapeHtml(warnings.map(formatWarning).join("\n"))}</pre></div>`;
}

/** Shows the warnings as a box in the notebook (nothing when there are none, or outside a kernel). */
export function warnings(ws: DmWarning[]): void {
  if (ws.length) show(warningsHtml(ws));
}

let routed = false;

/** Shows every library warning (a damaged cache entry, …) as a box in the cell that raised it, once per kernel. */
export function routeWarningsToNotebook(): void {
  if (routed) return;
  routed = true;
  onWarning((w) => warnings([w]));
}
