// What the per-token analyses share: how many tokens an analysis reads (scaled by profile and memory), reading
// them and running an SAE over them, and each token's text in its context for hover labels (token ids and losses
// come from the activation store, text from the model's tokenizer; either may be missing on the user path).
import { InputError } from "../errors";
import { openSae, requireWholeSae, SparseLatents } from "../sae/index";
import { AnalysisContext } from "./context";
import { SaeEntry } from "./saes";

/** Why token ids and per-token losses are unavailable, or null when the context has them. */
export function tokenDataMissing(ctx: AnalysisContext): string | null {
  if (!ctx.store) {
    return "the activations came from a tensor file, which holds no token ids or per-token model losses " +
      "(pass an activation store folder, or model + tokenizer + text, to get them)";
  }
  if (ctx.store.rows !== ctx.rows) return `the activation store has ${ctx.store.rows} rows but the activations have ${ctx.rows}, so tokens cannot be matched to rows`;
  return null;
}

/** Why tokens cannot be shown as text, or null when they can. */
export function tokenTextMissing(ctx: AnalysisContext): string | null {
  return tokenDataMissing(ctx) ?? (ctx.model ? null : "no tokenizer is known for these activations (token ids are shown instead)");
}

/** A one-row table saying what is missing and what is skipped because of it (for notebooks on the user path). */
export function missingNote(what: string, reason: string): { missing: string; why: string }[] {
  return [{ missing: what, why: reason }];
}

export interface TokenText {
  /** The token at each row, quoted so spaces show (e.g. `" the"`); `#id` without a tokenizer. */
  labels: string[];
  /** The text around each token, the token itself in ⟦ ⟧. */
  contexts: string[];
}

/**
 * Each row's token and the text around it (`before` tokens before, `after` after, within its context), for hover
 * text. Null when the context has no token ids (see tokenDataMissing); without a tokenizer the ids are shown.
 */
export function tokenText(ctx: AnalysisContext, rows: ArrayLike<number>, options: { before?: number; after?: number } = {}): TokenText | null {
  if (tokenDataMissing(ctx) || !ctx.store) return null;
  const store = ctx.store;
  const before = options.before ?? 12, after = options.after ?? 4;
  const all = store.tokens(), T = store.manifest.config.ctx;
  const tokenizer = ctx.model?.tokenizer;
  const text = (ids: Int32Array) => (tokenizer ? tokenizer.decode(ids) : Array.from(ids, (t) => `#${t}`).join(" "));
  const labels: string[] = [], contexts: string[] = [];
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i];
    if (!Number.isSafeInteger(r) || r < 0 || r >= store.rows) throw new InputError("rows", `row ${r} is outside the store's 0..${store.rows - 1}`);
    const info = store.rowInfo(r, 1), c = info.context[0], p = info.position[0], tok = info.token[0];
    const base = c * T;
    const prev = p > 0 ? all[base + p - 1] : -1;
    const piece = tokenizer ? Buffer.from(tokenizer.decodePiece(prev, tok)).toString("utf8") : `#${tok}`;
    labels.push(tokenizer ? JSON.stringify(piece) : piece);
    const left = text(all.subarray(base + Math.max(0, p - before), base + p));
    const right = text(all.subarray(base + p + 1, base + Math.min(T, p + 1 + after)));
    const sep = tokenizer ? "" : " ";
    contexts.push(`${p - before > 0 ? "…" : ""}${left}${sep}⟦${piece}⟧${sep}${right}${p + 1 + after < T ? "…" : ""}`);
  }
  return { labels, contexts };
}

/** Token id and next-token model loss of rows [0, rows), or null when the context has none. */
export function rowTokens(ctx: AnalysisContext, rows: number): { tokens: Int32Array; losses: Float32Array } | null {
  if (tokenDataMissing(ctx) || !ctx.store) return null;
  const info = ctx.store.rowInfo(0, rows);
  return { tokens: info.token, losses: info.loss };
}

/** Bytes of the per-token arrays an analysis may hold at once (x and one SAE output, float32). */
const IN_MEMORY_BYTES = 1 << 30;

/**
 * Tokens an analysis reads: the first rows of the activations, at most `caps[ctx.profile]` and at most what keeps
 * x and one SAE output within 1 GiB. Rows are whole contexts in store order, and contexts were drawn at random.
 */
export function analysisRows(ctx: AnalysisContext, caps: { full: number; ci: number }, requested?: number): number {
  if (requested !== undefined && !(Number.isSafeInteger(requested) && requested >= 1)) {
    throw new InputError("rows", `must be a positive integer, got ${requested}`);
  }
  const memory = Math.floor(IN_MEMORY_BYTES / (2 * 4 * ctx.d));
  return Math.max(1, Math.min(ctx.rows, requested ?? caps[ctx.profile], memory));
}

/** The first `rows` activations as one float32 [rows, d] array. */
export function readFirstRows(ctx: AnalysisContext, rows: number): Float32Array {
  const d = ctx.d, out = new Float32Array(rows * d);
  let filled = 0;
  for (const chunk of ctx.activations.chunks(4096)) {
    const take = Math.min(chunk.length / d, rows - filled);
    out.set(chunk.subarray(0, take * d), filled * d);
    filled += take;
    if (filled === rows) break;
  }
  if (filled < rows) throw new InputError(ctx.activations.name ?? "activations", `yielded ${filled} rows, expected ${rows}`);
  return out;
}

export interface SaeRows {
  /** Sae(x), float32 [rows, d]. */
  reconstruction: Float32Array;
  /** Active latents per token. */
  l0: Int32Array;
  meanL0: number;
  /** Active latents (only when asked for) and the decoder W_dec [d_sae, d] they need. */
  latents: SparseLatents | null;
  decoder: Float32Array | null;
}

/** Runs one SAE over in-memory rows (loaded, used and disposed here, so one SAE is in memory at a time). */
export async function saeOnRows(entry: SaeEntry, x: Float32Array, d: number, options: { latents?: boolean } = {}): Promise<SaeRows> {
  const sae = await openSae(entry.path);
  try {
    if (sae.d_in !== d) throw new InputError(entry.path, `takes d_in = ${sae.d_in}, the activations have d = ${d}`);
    const f = sae.forward(x, { latents: options.latents ?? false });
    return {
      reconstruction: f.reconstruction, l0: f.l0, meanL0: f.meanL0, latents: f.latents ?? null,
      decoder: options.latents ? requireWholeSae(sae, "reading the active latents' decoder rows").hostWeight("W_dec") ?? null : null,
    };
  } finally {
    sae.dispose();
  }
}
