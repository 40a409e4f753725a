// The HTML of latent pages: a card per latent (top contexts with each token shaded by the activation, band samples,
// density, an SVG histogram, promoted output tokens) and the list of latents most active on one token, each linking to
// its card. Plain HTML and inline SVG, so cards render in notebooks, exported HTML and GitHub alike (no scripts
// needed; one optional onclick opens a linked card).
import type { ContextWindow, LatentCard, LatentPages } from "../explore/latents";
import type { ActivationTable } from "../activations/table";
import { formatNumber } from "../inspect";
import { escapeHtml } from "./html";

const STYLE = `<style>
.dm-card{border:1px solid #ddd;border-radius:6px;padding:.6em .9em;margin:.5em 0;font-family:system-ui,sans-serif;font-size:13px;max-width:62em}
.dm-card h4{margin:.2em 0 .4em 0;font-size:15px}.dm-card h5{margin:.6em 0 .2em 0;font-size:13px;color:#444}
.dm-ctx{font-family:ui-monospace,Menlo,monospace;font-size:12px;white-space:pre;line-height:1.9;overflow-x:auto}
.dm-ctx span{border-radius:2px}.dm-ctx .dm-focus{outline:1.5px solid #c25400}
.dm-act{display:inline-block;width:4.5em;color:#666;text-align:right;margin-right:.6em}
.dm-tok{font-family:ui-monospace,Menlo,monospace;background:#f3f3f3;padding:0 .25em;border-radius:2px;white-space:pre}
.dm-cols{display:flex;gap:2em;flex-wrap:wrap}
</style>`;

let cardCounter = 0;

function tokenHtml(text: string): string {
  return escapeHtml(text.replace(/\n/g, "↵").replace(/\t/g, "⇥"));
}

/** One context line: the activation, then the tokens shaded by activation / max. */
export function contextHtml(w: ContextWindow, max: number): string {
  const spans = w.tokens.map((t, i) => {
    const a = t.activation ?? 0;
    const alpha = max > 0 ? Math.min(1, a / max) : 0;
    const bg = a > 0 ? ` style="background:rgba(255,140,0,${alpha.toFixed(3)})"` : "";
    const title = t.activation === null ? "no activation stored here" : `activation ${formatNumber(a, 4)}`;
    return `<span${bg}${i === w.focus ? ' class="dm-focus"' : ""} title="${escapeHtml(`${title} (position ${t.position})`)}">${tokenHtml(t.text)}</span>`;
  }).join("");
  return `<div class="dm-ctx"><span class="dm-act">${formatNumber(w.activation, 3)}</span>${spans}</div>`;
}

/** An inline SVG bar chart of the activation histogram. */
export function histogramSvg(h: LatentCard["histogram"], width = 320, height = 90): string {
  const n = h.counts.length, top = Math.max(1, ...h.counts), bw = width / Math.max(1, n);
  const bars = h.counts.map((c, i) => {
    const bh = (c / top) * (height - 14);
    return `<rect x="${(i * bw).toFixed(1)}" y="${(height - 12 - bh).toFixed(1)}" width="${Math.max(1, bw - 1).toFixed(1)}" height="${bh.toFixed(1)}" fill="#e07b00"><title>${escapeHtml(`${formatNumber(h.edges[i], 3)}–${formatNumber(h.edges[i + 1], 3)}: ${c}`)}</title></rect>`;
  }).join("");
  return `<svg width="${width}" height="${height}" role="img" aria-label="activation histogram">${bars}` +
    `<text x="0" y="${height - 1}" font-size="10" fill="#666">0</text>` +
    `<text x="${width}" y="${height - 1}" font-size="10" fill="#666" text-anchor="end">${escapeHtml(formatNumber(h.edges[n] ?? 0, 3))}</text></svg>`;
}

/** The HTML of one latent's card; `id` is the anchor other outputs link to. */
export function latentCardHtml(card: LatentCard, opts: { id?: string; style?: boolean } = {}): string {
  const id = opts.id ?? `dm-latent-${process.pid}-${cardCounter++}-${card.latent}`;
  const max = card.maxActivation;
  const head = `<h4>Latent ${card.latent} <small style="font-weight:normal;color:#666">· ${escapeHtml(card.sae)} · ${escapeHtml(card.hook)}</small></h4>` +
    `<div>active on <b>${card.count}</b> of ${card.rows} tokens (density <b>${formatNumber(100 * card.density, 3)} %</b>); ` +
    `mean activation ${formatNumber(card.meanActivation, 3)}, max ${formatNumber(max, 3)}</div>`;
  const promoted = card.promoted
    ? `<div><h5>Output tokens it promotes (W_dec · W_U)</h5>${card.promoted.up.map((t) => `<span class="dm-tok" title="${formatNumber(t.logit, 3)}">${tokenHtml(t.token)}</span>`).join(" ")}` +
      `<h5>… and suppresses</h5>${card.promoted.down.map((t) => `<span class="dm-tok" title="${formatNumber(t.logit, 3)}">${tokenHtml(t.token)}</span>`).join(" ")}</div>`
    : "";
  const top = card.top.length ? card.top.map((w) => contextHtml(w, max)).join("\n") : "<div>never active on this store</div>";
  const bands = card.bands.filter((b) => b.samples.length).map((b) =>
    `<h5>activation ${formatNumber(b.lo, 3)}–${formatNumber(b.hi, 3)} (${b.count} tokens)</h5>${b.samples.map((w) => contextHtml(w, max)).join("\n")}`).join("\n");
  return `${opts.style === false ? "" : STYLE}<div class="dm-card" id="${escapeHtml(id)}">${head}` +
    `<div class="dm-cols"><div><h5>Activation histogram (active tokens)</h5>${histogramSvg(card.histogram)}</div>${promoted}</div>` +
    `<h5>Top ${card.top.length} activating contexts</h5>${top}` +
    (bands ? `<details><summary style="cursor:pointer;margin-top:.5em">Samples across activation bands</summary>${bands}</details>` : "") +
    `</div>`;
}

/** The latents most active on one token, each linking to its card (cards follow, folded). */
export function latentsOnHtml(pages: LatentPages, table: ActivationTable | number, row = 0, n = 8): string {
  const list = pages.latentsOn(table, row, n);
  const base = `dm-on-${process.pid}-${cardCounter++}`;
  const where = typeof table === "number" ? `store row ${table}` : `row ${row} (sequence ${table.sequence[row]}, position ${table.position[row]})`;
  if (!list.length) return `<p>No latent is active on ${escapeHtml(where)}.</p>`;
  const cards = new Map(list.map((l) => [l.latent, pages.card(l.latent)]));
  const rows = list.map((l) => {
    const id = `${base}-${l.latent}`;
    const card = cards.get(l.latent)!;
    const hint = card.promoted ? card.promoted.up.slice(0, 4).map((t) => `<span class="dm-tok">${tokenHtml(t.token)}</span>`).join(" ") : "";
    return `<tr><td><a href="#${id}" onclick="var e=document.getElementById('${id}');if(e){e.open=true;}">latent ${l.latent}</a></td>` +
      `<td style="text-align:right">${formatNumber(l.activation, 3)}</td><td style="text-align:right">${formatNumber(100 * l.density, 3)} %</td><td>${hint}</td></tr>`;
  }).join("\n");
  const folded = list.map((l) => `<details id="${base}-${l.latent}"><summary style="cursor:pointer">card of latent ${l.latent}</summary>` +
    `${latentCardHtml(cards.get(l.latent)!, { id: `${base}-${l.latent}-card`, style: false })}</details>`).join("\n");
  return `${STYLE}<div class="dm-card"><h4>Latents most active on <span class="dm-tok">${tokenHtml(list[0].token)}</span> <small style="font-weight:normal;color:#666">${escapeHtml(where)}</small></h4>` +
    `<table class="dm-table"><thead><tr><th>latent</th><th>activation</th><th>density</th><th>promotes</th></tr></thead><tbody>\n${rows}\n</tbody></table>${folded}</div>`;
}
