// Latent pages (feature dashboards, as sae_vis and Neuronpedia show them) for an SAE over an activation store: per
// latent its top activating contexts, samples from each activation band, its density and histogram, and the output
// tokens its decoder row promotes through the unembedding. One encode pass over the store collects every latent's
// statistics at once; they are cached per (SAE weights, store, hook) in .cache/analyses (src/pipeline/cache.ts).
import * as path from "path";
import { matMul, tf } from "../backend/index";
import { ActivationTable, tokenTextFn } from "../activations/table";
import { openActivationStore, type ActivationStore } from "../activations/store";
import type { LanguageModel } from "../activations/run";
import { InputError } from "../errors";
import { formatNumber, inspectSymbol, withSummary } from "../inspect";
import { saeFingerprint } from "../family/targets";
import { cached } from "../pipeline/cache";
import type { Progress } from "../progress";
import { loadSae } from "../sae/load";
import type { Sae } from "../sae/model";

/** Every latent's statistics over the store (typed arrays, [d_sae × …] row-major): what the cache holds. */
export interface LatentStats {
  hook: string;
  rows: number;
  d_sae: number;
  /** Top contexts kept per latent. */
  topK: number;
  /** Rows where each latent is active (> 0). */
  count: Int32Array;
  /** Sum of each latent's activations. */
  sum: Float64Array;
  max: Float32Array;
  /** [d_sae, topK]: rows of the top activations (−1 where a latent fired fewer times), descending by value, ties by row. */
  topRows: Int32Array;
  topValues: Float32Array;
  /** [d_sae, bins]: histogram of each latent's positive activations over bins equal parts of (0, max]. */
  histogram: Int32Array;
  bins: number;
  /** [d_sae, bands, perBand]: rows sampled evenly (by rank) from each activation band (0, max/bands], … (−1 = none). */
  bandRows: Int32Array;
  bandValues: Float32Array;
  bands: number;
  perBand: number;
}

export interface LatentPageOptions {
  /** Which hook of the store (default: the SAE's hook when the store has it, else the store's only hook). */
  hook?: string;
  /** The model, to show which output tokens a latent promotes and token texts (default: none). */
  model?: LanguageModel | null;
  /** Top contexts per latent (default 12). */
  topK?: number;
  /** Histogram bins (default 24). */
  bins?: number;
  /** Activation bands and samples per band (default 4 and 3). */
  bands?: number;
  perBand?: number;
  /** Tokens shown before and after the activating token (default 10 and 3). */
  before?: number;
  after?: number;
  progress?: Progress;
}

/** One token of a context window with the latent's activation there (null where the store keeps no activation). */
export interface ContextToken { text: string; activation: number | null; position: number }

/** A window of a store context around one row, shaded by the latent's activations. */
export interface ContextWindow {
  row: number;
  context: number;
  position: number;
  activation: number;
  /** The window; `focus` is the index of the row's own token in it. */
  tokens: ContextToken[];
  focus: number;
}

/** Everything a latent's card shows. */
export interface LatentCard {
  latent: number;
  sae: string;
  hook: string;
  rows: number;
  /** Active rows / all rows. */
  density: number;
  count: number;
  meanActivation: number;
  maxActivation: number;
  top: ContextWindow[];
  bands: { lo: number; hi: number; count: number; samples: ContextWindow[] }[];
  histogram: { edges: number[]; counts: number[] };
  /** Output tokens the decoder row raises / lowers most through the unembedding (null without a model). */
  promoted: { up: { token: string; logit: number }[]; down: { token: string; logit: number }[] } | null;
}

/** One pass over the store: every latent's count, sum, max, top rows, histogram and band samples. */
export function computeLatentStats(sae: Sae, store: ActivationStore, hook: string, o: { topK: number; bins: number; bands: number; perBand: number; progress?: Progress }): LatentStats {
  const n = sae.d_sae, rows = store.rows;
  // Every active (row, value) per latent, gathered from the CSR chunks (counting pass, then fill).
  const count = new Int32Array(n), sum = new Float64Array(n), max = new Float32Array(n);
  const chunkRows = 4096;
  const parts: { start: number; rowPtr: Int32Array; indices: Int32Array; values: Float32Array }[] = [];
  for (const c of store.chunks(hook, chunkRows)) {
    const lat = sae.encode(c.x);
    for (let i = 0; i < lat.indices.length; i++) {
      const j = lat.indices[i], v = lat.values[i];
      count[j]++;
      sum[j] += v;
      if (v > max[j]) max[j] = v;
    }
    parts.push({ start: c.start, rowPtr: lat.rowPtr, indices: lat.indices, values: lat.values });
    o.progress?.(c.start + c.rows, rows, "latent statistics: encoding the store");
  }
  const offsets = new Int32Array(n + 1);
  for (let j = 0; j < n; j++) offsets[j + 1] = offsets[j] + count[j];
  const colRows = new Int32Array(offsets[n]), colValues = new Float32Array(offsets[n]), fill = offsets.slice(0, n);
  for (const p of parts) {
    for (let r = 0; r < p.rowPtr.length - 1; r++) {
      for (let i = p.rowPtr[r]; i < p.rowPtr[r + 1]; i++) {
        const j = p.indices[i], at = fill[j]++;
        colRows[at] = p.start + r;
        colValues[at] = p.values[i];
      }
    }
  }
  parts.length = 0;
  const { topK, bins, bands, perBand } = o;
  const topRows = new Int32Array(n * topK).fill(-1), topValues = new Float32Array(n * topK);
  const histogram = new Int32Array(n * bins);
  const bandRows = new Int32Array(n * bands * perBand).fill(-1), bandValues = new Float32Array(n * bands * perBand);
  for (let j = 0; j < n; j++) {
    const a = offsets[j], m = count[j];
    if (m === 0) continue;
    // Rows ascending already (chunks in order): a stable sort by value descending keeps ties in row order.
    const order = Array.from({ length: m }, (_, i) => a + i).sort((p, q) => colValues[q] - colValues[p] || colRows[p] - colRows[q]);
    for (let t = 0; t < Math.min(topK, m); t++) { topRows[j * topK + t] = colRows[order[t]]; topValues[j * topK + t] = colValues[order[t]]; }
    const mx = max[j];
    const bandOf = (v: number, parts: number) => Math.min(parts - 1, Math.max(0, Math.ceil((v / mx) * parts) - 1));
    for (let i = a; i < a + m; i++) histogram[j * bins + bandOf(colValues[i], bins)]++;
    // Bands: order is descending, so each band is a contiguous run of it.
    for (let b = 0; b < bands; b++) {
      const members = order.filter((i) => bandOf(colValues[i], bands) === b);
      const take = Math.min(perBand, members.length);
      for (let s = 0; s < take; s++) {
        const pick = members[Math.floor(((s + 0.5) * members.length) / take)];
        const at = (j * bands + b) * perBand + s;
        bandRows[at] = colRows[pick];
        bandValues[at] = colValues[pick];
      }
    }
  }
  return { hook, rows, d_sae: n, topK, count, sum, max, topRows, topValues, histogram, bins, bandRows, bandValues, bands, perBand };
}

/** Resolves an SAE given as an object, a folder/file path, or a family entry / pipeline entry with a `path`. */
async function resolveSae(sae: Sae | string | { path: string }): Promise<{ sae: Sae; label: string; owned: boolean }> {
  if (typeof sae === "string") return { sae: await loadSae(sae), label: sae, owned: true };
  if ("path" in sae && typeof (sae as { path: unknown }).path === "string" && !("W_enc" in sae)) {
    const p = (sae as { path: string }).path;
    return { sae: await loadSae(p), label: p, owned: true };
  }
  const s = sae as Sae;
  return { sae: s, label: s.metadata.path ?? `${s.architecture} SAE ${s.d_in}→${s.d_sae}`, owned: false };
}

/**
 * Latent pages for an SAE over a store: computes (or loads from the cache) every latent's statistics in one pass,
 * and returns an object whose `card(j)`/`show(j)` give one latent's page and `latentsOn(...)` the latents most
 * active on a token. The SAE may be an `Sae`, a path, or a family entry with a `path`.
 */
export async function latentPages(saeArg: Sae | string | { path: string }, storeArg: ActivationStore | string, options: LatentPageOptions = {}): Promise<LatentPages> {
  const { sae, label } = await resolveSae(saeArg);
  const store = typeof storeArg === "string" ? openActivationStore(storeArg) : storeArg;
  const hook = options.hook ?? (sae.metadata.hookName && store.hooks.includes(sae.metadata.hookName) ? sae.metadata.hookName
    : store.hooks.length === 1 ? store.hooks[0] : undefined);
  if (!hook) throw new InputError("hook", `the store has several hooks (${store.hooks.join(", ")}); choose one`);
  if (!store.hooks.includes(hook)) throw new InputError("hook", `the store has no hook ${hook} (it has ${store.hooks.join(", ")})`);
  if (store.d !== sae.d_in) throw new InputError(label, `d_in ${sae.d_in} does not match the store's d = ${store.d}`);
  const o = { topK: options.topK ?? 12, bins: options.bins ?? 24, bands: options.bands ?? 4, perBand: options.perBand ?? 3 };
  const key = { sae: saeFingerprint(sae), store: store.manifest.key, rows: store.rows, hook, ...o, version: 1 };
  const stats = await cached("latent-stats", key, () => computeLatentStats(sae, store, hook, { ...o, progress: options.progress }));
  return new LatentPages(sae, label, store, stats, options.model ?? null, { before: options.before ?? 10, after: options.after ?? 3 });
}

/** Latent pages of one SAE over one store (see `latentPages`). */
export class LatentPages {
  private readonly text: (t: number) => string;
  private readonly storeTokens: Int32Array;
  private readonly ctx: number;
  constructor(readonly sae: Sae, readonly label: string, readonly store: ActivationStore, readonly stats: LatentStats,
    readonly model: LanguageModel | null, readonly window: { before: number; after: number }) {
    this.text = model ? tokenTextFn(model.tokenizer) : (t: number) => `#${t}`;
    withSummary(stats, (s) => [`LatentStats ${s.hook}: ${s.d_sae} latents over ${s.rows} rows; top ${s.topK} rows, ${s.bins} histogram bins, ` +
      `${s.bands} bands × ${s.perBand} samples per latent`, "  [d_sae]-long .count, .sum, .max; pages.card(j) reads latent j's part of every array"]);
    this.storeTokens = store.tokens();
    this.ctx = store.manifest.config.ctx;
  }

  get hook(): string { return this.stats.hook; }

  /** The data of latent j's card. */
  card(j: number): LatentCard {
    const s = this.stats;
    if (!Number.isInteger(j) || j < 0 || j >= s.d_sae) throw new InputError("latent", `${j} is outside 0..${s.d_sae - 1}`);
    const windows = (rows: Int32Array, values: Float32Array, from: number, count: number) => {
      const out: ContextWindow[] = [];
      for (let t = from; t < from + count; t++) if (rows[t] >= 0) out.push(this.contextWindow(rows[t], j, values[t]));
      return out;
    };
    const mx = s.max[j];
    const edges = Array.from({ length: s.bins + 1 }, (_, b) => (mx * b) / s.bins);
    return withSummary<LatentCard>({
      latent: j, sae: this.label, hook: s.hook, rows: s.rows, count: s.count[j], density: s.count[j] / s.rows,
      meanActivation: s.count[j] ? s.sum[j] / s.count[j] : 0, maxActivation: mx,
      top: windows(s.topRows, s.topValues, j * s.topK, s.topK),
      bands: Array.from({ length: s.bands }, (_, b) => {
        const lo = (mx * b) / s.bands, hi = (mx * (b + 1)) / s.bands;
        let count = 0;
        const perBin = s.bins / s.bands;
        if (Number.isInteger(perBin)) for (let q = b * perBin; q < (b + 1) * perBin; q++) count += s.histogram[j * s.bins + q];
        return { lo, hi, count, samples: windows(s.bandRows, s.bandValues, (j * s.bands + b) * s.perBand, s.perBand) };
      }).reverse(),
      histogram: { edges, counts: Array.from(s.histogram.subarray(j * s.bins, (j + 1) * s.bins)) },
      promoted: this.model ? this.promoted(j, 10) : null,
    }, cardSummary);
  }

  /** The tokens around a store row, each with latent j's activation (encoded on the fly: windows are small). */
  contextWindow(row: number, j: number, activation?: number): ContextWindow {
    const info = this.store.rowInfo(row, 1);
    const c = info.context[0], p = info.position[0];
    const { first, end } = this.store.manifest.positions, perContext = this.store.manifest.positions.perContext;
    const lo = Math.max(0, p - this.window.before), hi = Math.min(this.ctx - 1, p + this.window.after);
    // Store rows exist for positions first … end−1 of each context.
    const rLo = Math.max(lo, first), rHi = Math.min(hi, end - 1);
    const acts = new Map<number, number>();
    if (rHi >= rLo) {
      const start = c * perContext + (rLo - first);
      const chunk = this.store.readRows(this.stats.hook, start, rHi - rLo + 1);
      const lat = this.sae.encode(chunk.x);
      for (let r = 0; r < chunk.rows; r++) {
        let v = 0;
        for (let i = lat.rowPtr[r]; i < lat.rowPtr[r + 1]; i++) if (lat.indices[i] === j) v = lat.values[i];
        acts.set(rLo + r, v);
      }
    }
    const tokens: ContextToken[] = [];
    for (let q = lo; q <= hi; q++) tokens.push({ text: this.text(this.storeTokens[c * this.ctx + q]), activation: acts.has(q) ? acts.get(q)! : null, position: q });
    return { row, context: c, position: p, activation: activation ?? acts.get(p) ?? 0, tokens, focus: p - lo };
  }

  /** Output tokens latent j's decoder row raises and lowers most: (W_dec[j] ⊙ final RMSNorm gain) · W_U. */
  promoted(j: number, n: number): NonNullable<LatentCard["promoted"]> {
    const m = this.model!;
    const p = m.params;
    if (p.config.dim !== this.sae.d_in) throw new InputError("model", `d_model ${p.config.dim} differs from the SAE's d_in ${this.sae.d_in}`);
    const logits = tf.tidy(() => {
      const row = tf.slice(this.sae.W_dec, [j, 0], [1, this.sae.d_in]);
      const scaled = tf.mul(row, p.rmsFinal) as tf.Tensor2D;
      const unembed = p.classifier ?? (tf.transpose(p.embedding) as tf.Tensor2D);
      return matMul(scaled, unembed);
    });
    const v = logits.dataSync() as Float32Array;
    logits.dispose();
    const order = Array.from(v.keys()).sort((a, b) => v[b] - v[a]);
    const pick = (ids: number[]) => ids.map((t) => ({ token: this.text(t), logit: v[t] }));
    return { up: pick(order.slice(0, n)), down: pick(order.slice(-n).reverse()) };
  }

  /**
   * The latents most active on one token: a row of an ActivationTable (e.g. from `run`), or a store row number.
   * Each comes with its density, so rare (specific) latents stand out.
   */
  latentsOn(input: ActivationTable | number, row = 0, n = 8): LatentOnToken[] {
    let x: Float32Array, token: string;
    if (typeof input === "number") {
      const c = this.store.readRows(this.stats.hook, input, 1);
      x = c.x;
      token = this.text(c.token[0]);
    } else {
      x = input.row(row);
      token = input.tokenText(row);
    }
    const lat = this.sae.encode(Float32Array.from(x));
    const out = Array.from(lat.indices, (j, i) => ({ latent: j, activation: lat.values[i], density: this.stats.count[j] / this.stats.rows, token }));
    return withSummary(out.sort((a, b) => b.activation - a.activation).slice(0, n), (l) => [
      `${l.length} latents on ${JSON.stringify(token)}: ${l.map((o) => `${o.latent} (${formatNumber(o.activation, 3)}, density ${densityText(o.density)})`).join(", ")}`]);
  }

  [inspectSymbol](): string {
    const s = this.stats;
    let dead = 0;
    for (let j = 0; j < s.d_sae; j++) if (s.count[j] === 0) dead++;
    return `LatentPages ${this.label} over ${path.basename(this.store.dir)} (${s.hook}): ${s.d_sae} latents, ${s.rows} tokens, ` +
      `${dead} never active\n  .card(j) / dm.viz.showLatent(pages, j); .latentsOn(table, row) / dm.viz.showLatentsOn(pages, table, row)` +
      `${this.model ? "" : "\n  no model given: promoted output tokens are not shown"}`;
  }
}

/** One latent active on a token, with its density over the store (rare latents are the specific ones). */
export interface LatentOnToken {
  /** The latent's index (its card: `pages.card(latent)`). */
  latent: number;
  /** Its activation on the token. */
  activation: number;
  /** The fraction of store tokens it is active on. */
  density: number;
  /** The token's text. */
  token: string;
}

/** The printed form of a card (a cell's last value): the latent's numbers and its top context, not every window. */
function cardSummary(c: LatentCard): string[] {
  const top = c.top[0];
  const context = top ? top.tokens.map((t, i) => (i === top.focus ? `[${t.text}]` : t.text)).join("") : "";
  return [`LatentCard ${c.latent} of ${c.sae} (${c.hook}): active on ${c.count} of ${c.rows} tokens (${densityText(c.density)}), ` +
    `mean ${formatNumber(c.meanActivation, 3)}, max ${formatNumber(c.maxActivation, 3)}`,
    top ? `  top: ${JSON.stringify(context.length > 100 ? `…${context.slice(-100)}` : context)} (${formatNumber(top.activation, 3)})` : "  never active",
    `  .top (${c.top.length}), .bands, .histogram${c.promoted ? ", .promoted" : ""}; dm.viz.showLatent(pages, ${c.latent}) draws the card`];
}

/** Density as a percentage string. */
export function densityText(d: number): string {
  return `${formatNumber(100 * d, 3)} %`;
}
