// Per-token scaling (paper §3.3): per-token norms of SaeError, LinearError and NonlinearError for one SAE per width
// at a shared L0, how well one width's per-token error norm predicts another's, what adding the nonlinear norm
// explains, and how much each norm moves across widths — with the paper's claims checked against the numbers.
import { matchedL0 } from "../darkmatter/contours";
import {
  AcrossWidthVariation, acrossWidthVariation, PAPER_TRACE_WINDOW, perTokenPredictability, PerTokenNorms, PerTokenPredictability,
  perTokenTraces, PerTokenTraces,
} from "../darkmatter/pertoken";
import { InputError } from "../errors";
import { LeastSquaresFit, predict } from "../linalg/least-squares";
import { Progress, silentProgress } from "../progress";
import type { Claim } from "./claim";
import { cached, contentFingerprint } from "./cache";
import { AnalysisContext } from "./context";
import { decomposeFamily, FAMILY_DECOMPOSITION } from "./decompose-family";
import { mostSharedL0, SaeEntry } from "./saes";
import { analysisRows, readFirstRows, saeOnRows } from "./tokens";

export interface SharedL0Selection {
  /** The nominal L0 shared by most SAEs (ties: the smallest), as notebook 03's width scaling picks it. */
  l0: number;
  /** One SAE per width: the one whose nominal L0 is closest to `l0`, sorted by width. */
  saes: SaeEntry[];
  /** Widths without an SAE at exactly `l0`, and what was used instead. */
  warnings: string[];
}

/**
 * One SAE per width at the most shared nominal L0 (the rule of `widthScaling`). SAEs whose files do not state an L0
 * are placed by their L0 measured on the first 2,048 tokens.
 */
export async function sharedL0Saes(ctx: AnalysisContext): Promise<SharedL0Selection> {
  if (ctx.saes.length === 0) throw new InputError("saes", "the context has no SAE at the analysed hook");
  let sample: Float32Array | null = null;
  const points: { width: number; l0Nominal: number; entry: SaeEntry }[] = [];
  for (const entry of ctx.saes) {
    let l0 = entry.l0;
    if (l0 === undefined) {
      sample ??= readFirstRows(ctx, Math.min(ctx.rows, 2048));
      l0 = (await saeOnRows(entry, sample, ctx.d)).meanL0;
    }
    points.push({ width: entry.width, l0Nominal: l0, entry });
  }
  const l0 = mostSharedL0(points.map((p) => p.l0Nominal))!;
  const matched = matchedL0(points, l0, { by: "nominal", tolerance: 0 });
  return { l0, saes: matched.map((m) => m.point.entry), warnings: matched.flatMap((m) => (m.warning ? [m.warning] : [])) };
}

export interface PerTokenOptions {
  /** Tokens analysed (default: 40,000 in the full profile, 12,000 in ci, and at most all). */
  rows?: number;
  /** The traces' window (default: the paper's tokens 10092…10191 when there are that many, else the first 100). */
  window?: { start: number; length: number };
}

export interface PerTokenScaling {
  /** The shared nominal L0 and the SAEs used, one per width. */
  l0: number;
  widths: number[];
  saes: SaeEntry[];
  /** Tokens analysed (the first `rows` of the activations) of `rowsAvailable`. */
  rows: number;
  rowsAvailable: number;
  /** Per-token unsquared norms per width (float64, one entry per analysed token). */
  norms: PerTokenNorms[];
  /** The pairwise ‖e_j‖ ~ ‖e_i‖ (+ ‖NonlinearError_i‖) regressions (§3.3 steps 2–3). */
  predictability: PerTokenPredictability;
  /** Norms over a window of consecutive tokens (§3.3 step 4). */
  traces: PerTokenTraces;
  /** Across-width spread of each component's per-token norm. */
  variation: { saeError: AcrossWidthVariation; linearError: AcrossWidthVariation | null; nonlinearError: AcrossWidthVariation | null };
  /** Where b* came from (the family decomposition, fitted on its training split of all tokens). */
  linearMap: { intercept: boolean; trainRows: number };
  warnings: string[];
}

interface NormArrays { saeError: Float64Array; linearError: Float64Array; nonlinearError: Float64Array }

/** Per-token ‖SaeError‖, ‖LinearError‖ = ‖b*ᵀx‖ and ‖NonlinearError‖ = ‖SaeError − LinearError‖ of one SAE. */
async function errorNorms(entry: SaeEntry, x: Float32Array, d: number, linearMap: LeastSquaresFit): Promise<NormArrays> {
  const n = x.length / d;
  const { reconstruction } = await saeOnRows(entry, x, d);
  const out = { saeError: new Float64Array(n), linearError: new Float64Array(n), nonlinearError: new Float64Array(n) };
  const step = 4096;
  for (let start = 0; start < n; start += step) {
    const count = Math.min(step, n - start);
    const lin = predict(linearMap, x.subarray(start * d, (start + count) * d), count);
    for (let t = 0; t < count; t++) {
      let se = 0, sl = 0, sn = 0;
      for (let j = 0; j < d; j++) {
        const i = (start + t) * d + j;
        const e = x[i] - reconstruction[i], l = lin[t * d + j], nl = e - l;
        se += e * e; sl += l * l; sn += nl * nl;
      }
      out.saeError[start + t] = Math.sqrt(se);
      out.linearError[start + t] = Math.sqrt(sl);
      out.nonlinearError[start + t] = Math.sqrt(sn);
    }
  }
  return out;
}

/**
 * §3.3 on the context: one SAE per width at the shared L0, b* from the family decomposition, per-token norms on the
 * first `rows` tokens (cached per SAE), then the pairwise regressions, the traces and the across-width spread.
 */
export async function perTokenScaling(ctx: AnalysisContext, options: PerTokenOptions = {}, progress: Progress = silentProgress): Promise<PerTokenScaling> {
  const selection = await sharedL0Saes(ctx);
  const decomps = await decomposeFamily(ctx, { ...FAMILY_DECOMPOSITION, saes: selection.saes }, progress);
  const rows = analysisRows(ctx, { full: 40_000, ci: 12_000 }, options.rows);
  if (rows < 4) throw new InputError("rows", `per-token regressions need at least 4 tokens, the activations have ${rows}`);
  let x: Float32Array | null = null;
  const norms: PerTokenNorms[] = [];
  for (const [i, dec] of decomps.entries()) {
    progress(i, decomps.length, `per-token norms of width ${dec.sae.width}`);
    const key = { sae: contentFingerprint(dec.sae.path), activations: ctx.activationsKey, rows, decomposition: FAMILY_DECOMPOSITION };
    const arrays = await cached("pertoken-norms", key, async () => {
      x ??= readFirstRows(ctx, rows);
      return errorNorms(dec.sae, x, ctx.d, dec.result.linearMap);
    }, __filename);
    norms.push({ width: dec.sae.width, ...arrays });
  }
  progress(decomps.length, decomps.length, "per-token norms done");
  const window = options.window ?? (rows >= PAPER_TRACE_WINDOW.start + PAPER_TRACE_WINDOW.length
    ? { ...PAPER_TRACE_WINDOW } : { start: 0, length: Math.min(PAPER_TRACE_WINDOW.length, rows) });
  const predictability = perTokenPredictability(norms);
  const first = decomps[0]?.result.linearMap;
  return {
    l0: selection.l0, widths: norms.map((w) => w.width), saes: selection.saes, rows, rowsAvailable: ctx.rows, norms,
    predictability, traces: perTokenTraces(norms, window), variation: acrossWidthVariation(norms),
    linearMap: { intercept: first ? first.intercept !== null : true, trainRows: first ? first.rows : 0 },
    warnings: [...selection.warnings, ...predictability.warnings],
  };
}

const mean = (xs: ArrayLike<number>) => { let s = 0; for (let i = 0; i < xs.length; i++) s += xs[i]; return s / xs.length; };

/** One row per width: the SAE used and the mean per-token norm of each component. */
export function perTokenNormRows(r: PerTokenScaling): Record<string, number | string>[] {
  return r.norms.map((w, i) => ({
    width: w.width, "L0 (nominal)": r.saes[i].l0 ?? "", "mean ‖SaeError‖": mean(w.saeError),
    "mean ‖LinearError‖": w.linearError ? mean(w.linearError) : NaN, "mean ‖NonlinearError‖": w.nonlinearError ? mean(w.nonlinearError) : NaN,
  }));
}

const median = (xs: number[]) => {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const f3 = (v: number) => (Number.isFinite(v) ? v.toFixed(3) : "n/a");

/** The off-diagonal upper triangle (predictor width < target width) of a width × width matrix. */
function upperPairs(m: number[][]): number[] {
  const out: number[] = [];
  for (let i = 0; i < m.length; i++) for (let j = i + 1; j < m.length; j++) out.push(m[i][j]);
  return out;
}

const transpose = (m: number[][]) => m.map((row, i) => row.map((_, j) => m[j][i]));

/** Thresholds of the §3.3 verdicts (the paper gives no numbers: [GAP]). */
export const PER_TOKEN_THRESHOLDS = {
  /** "Predicts well": the median test R² over width pairs is at least this. */
  crossWidthR2: 0.5,
  /** "Improves the prediction": the median percent of remaining variance explained exceeds this. */
  percentExplained: 10,
  /** "Nearly constant across widths": NonlinearError's relative spread is below this fraction of LinearError's. */
  spreadRatio: 0.5,
} as const;

/** §3.3's claims, each decided from the measurements with the thresholds above (null with fewer than 2 widths). */
export function perTokenClaims(r: PerTokenScaling): Claim[] {
  const t = PER_TOKEN_THRESHOLDS, k = r.widths.length;
  const pairs = upperPairs(r.predictability.r2);
  const medR2 = median(pairs);
  const adjacent = r.predictability.r2.slice(0, -1).map((row, i) => row[i + 1]);
  const pct = r.predictability.percentRemainingExplained ? upperPairs(r.predictability.percentRemainingExplained) : [];
  const medPct = median(pct);
  const reverse = r.predictability.percentRemainingExplained ? upperPairs(transpose(r.predictability.percentRemainingExplained)) : [];
  const v = r.variation;
  const lin = v.linearError?.relativeSpread ?? NaN, nl = v.nonlinearError?.relativeSpread ?? NaN, sae = v.saeError.relativeSpread;
  const decided = <T>(ok: boolean, value: T) => (ok ? value : null);
  return [
    {
      claim: "Larger SAEs mostly struggle on the same tokens as smaller ones: one width's per-token ‖SaeError‖ predicts another's well " +
        `(median test R² of ‖e_j‖ ~ ‖e_i‖ + 1 over width pairs ≥ ${t.crossWidthR2})`,
      measured: k < 2 ? `only ${k} width` : `median R² ${f3(medR2)} over ${pairs.length} pairs (range ${f3(Math.min(...pairs))}–${f3(Math.max(...pairs))}; ` +
        `adjacent widths ${adjacent.map(f3).join(", ")}) on ${r.predictability.tokens.test} test tokens, L0 ${r.l0}`,
      holds: decided(k >= 2 && Number.isFinite(medR2), medR2 >= t.crossWidthR2),
    },
    {
      claim: "Adding the predictor width's ‖NonlinearError‖ improves the cross-width prediction " +
        `(median percent of remaining variance explained > ${t.percentExplained} %)`,
      measured: k < 2 ? `only ${k} width` : `median ${f3(medPct)} % over ${pct.length} pairs, smaller width predicting larger (range ` +
        `${f3(Math.min(...pct))}–${f3(Math.max(...pct))} %); the other direction (not in the paper's triangle): median ${f3(median(reverse))} %`,
      holds: decided(k >= 2 && Number.isFinite(medPct), medPct > t.percentExplained),
    },
    {
      claim: "The per-token norm of NonlinearError is nearly constant across widths while LinearError's varies " +
        `(NonlinearError's across-width spread < ${t.spreadRatio} × LinearError's)`,
      measured: k < 2 ? `only ${k} width` : `mean across-width std / mean norm: NonlinearError ${f3(nl)}, LinearError ${f3(lin)}, SaeError ${f3(sae)}`,
      holds: decided(k >= 2 && Number.isFinite(nl) && Number.isFinite(lin), nl < t.spreadRatio * lin),
    },
  ];
}
