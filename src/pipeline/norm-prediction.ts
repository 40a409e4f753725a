// Norm prediction (paper §3.4–§3.6) on an analysis context: the norm-prediction test of every error component for
// every SAE, the scalar baselines (token identity, model loss, L0, ‖x‖) against x, and the norm probe on decoder rows
// against each latent's mean active value for the widest SAE at the shared L0. One SAE forward per SAE feeds all three.
import { BaselineName, BASELINES, BaselineResult, normPredictionBaselines } from "../darkmatter/baselines";
import { Estimate } from "../darkmatter/common";
import { NormComponent, NORM_COMPONENTS, normPredictionTest, NormPredictionResult } from "../darkmatter/norm-prediction";
import { pearson, probeVsLatent, ProbeVsLatentResult, runningMean } from "../darkmatter/probe-vs-latent";
import { BootstrapOptions } from "../linalg/bootstrap";
import { arraySource } from "../linalg/rows";
import { Progress, silentProgress } from "../progress";
import type { Claim } from "./claim";
import { COMPONENT_LABELS } from "../viz/figures/common";
import { cached, contentFingerprint } from "./cache";
import { AnalysisContext } from "./context";
import { sharedL0Saes } from "./pertoken";
import { SaeEntry } from "./saes";
import { analysisRows, readFirstRows, rowTokens, saeOnRows, tokenDataMissing, tokenText, TokenText } from "./tokens";

export interface NormPredictionOptions {
  /** Tokens analysed (default: 20,000 in the full profile, 6,000 in ci, and at most all). */
  rows?: number;
  /** Intercept in the x → ‖component‖² regressions and in b* (default true, the paper's text; its violin scripts fit none). */
  intercept?: boolean;
  /** Bootstrap intervals over test tokens (default 100 resamples; false switches them off). */
  bootstrap?: BootstrapOptions | false;
}

export interface SaeNormPrediction {
  sae: SaeEntry;
  /** Mean active latents per token on the analysed tokens. */
  l0Empirical: number;
  /** §3.4: test R² of x → ‖component‖² for every component (b* fitted in-sample on the analysed tokens, step 1). */
  test: NormPredictionResult;
  /**
   * §3.5: R² of predicting ‖SaeError‖² from x and from each scalar baseline (a baseline is null where its data is
   * missing). Measured for the shared-L0 SAEs only (the paper: one SAE per layer); null for the others.
   */
  baselines: BaselineResult | null;
}

export interface ProbeMagnitude {
  sae: SaeEntry;
  /** §3.6: a*·d_i against each active latent's mean active value. */
  result: ProbeVsLatentResult;
  /** Per latent in `result.latents` order: the analysed token where it is most active (for hover text). */
  topRows: Int32Array;
  /** Pearson r of the running means (window 100) of a*·d_i and the mean active value over the first 10,000 latents. */
  runningCorrelation: number;
}

export interface NormPredictionAnalysis {
  /** Tokens analysed (the first `rows` of the activations) of `rowsAvailable`. */
  rows: number;
  rowsAvailable: number;
  /** The shared nominal L0 and the indices into `saes` of its SAEs, one per width (the baseline and probe SAEs). */
  l0: number;
  sharedL0: number[];
  /** Every SAE at the hook. */
  saes: SaeNormPrediction[];
  /** The widest SAE at the shared L0 (the paper's 131k SAE at L0 ≈ 60). */
  probe: ProbeMagnitude;
  /** Why token identity and model loss are not measured (no activation store), or null. */
  tokensMissing: string | null;
  warnings: string[];
}

/** The first `limit` latents (in the result's order) and the running-mean window of the paper's figure. */
const PROBE_LATENTS = 10_000, PROBE_WINDOW = 100;

/** Per latent in `latents` order, the row where it has its largest activation. */
function topActivatingRows(latents: { rowPtr: ArrayLike<number>; indices: ArrayLike<number>; values: ArrayLike<number> }, order: Int32Array, dSae: number): Int32Array {
  const best = new Float32Array(dSae).fill(-Infinity), row = new Int32Array(dSae).fill(-1);
  const rows = latents.rowPtr.length - 1;
  for (let t = 0; t < rows; t++) {
    for (let e = latents.rowPtr[t]; e < latents.rowPtr[t + 1]; e++) {
      const i = latents.indices[e];
      if (latents.values[e] > best[i]) { best[i] = latents.values[e]; row[i] = t; }
    }
  }
  return Int32Array.from(order, (i) => row[i]);
}

/**
 * §3.4–§3.6 on the context. Each SAE runs once over the first `rows` tokens (cached per SAE); its reconstructions feed
 * the norm-prediction test (b* refitted in-sample on those tokens, as §3.4 step 1 prescribes) and the baselines, and
 * for the probe SAE its latents feed the probe.
 */
export async function normPredictionFamily(ctx: AnalysisContext, options: NormPredictionOptions = {}, progress: Progress = silentProgress): Promise<NormPredictionAnalysis> {
  const selection = await sharedL0Saes(ctx);
  const rows = analysisRows(ctx, { full: 20_000, ci: 6_000 }, options.rows);
  const intercept = options.intercept ?? true;
  const bootstrap = options.bootstrap ?? { resamples: 100, seed: 0 };
  const probeSae = selection.saes[selection.saes.length - 1];
  const tokens = rowTokens(ctx, rows);
  let x: Float32Array | null = null;
  const saes: SaeNormPrediction[] = [];
  let probe: ProbeMagnitude | null = null;
  for (const [i, entry] of ctx.saes.entries()) {
    progress(i, ctx.saes.length, `norm prediction: SAE width ${entry.width}, L0 ${entry.l0 ?? "?"}`);
    const withProbe = entry === probeSae, withBaselines = selection.saes.includes(entry);
    const key = { sae: contentFingerprint(entry.path), activations: ctx.activationsKey, rows, intercept, bootstrap, withProbe, withBaselines, tokens: tokens !== null };
    const one = await cached("norm-prediction", key, async () => {
      x ??= readFirstRows(ctx, rows);
      const out = await saeOnRows(entry, x, ctx.d, { latents: withProbe });
      const input = { activations: arraySource(x, ctx.d, "activations"), sae: { reconstructions: arraySource(out.reconstruction, ctx.d, "Sae(x)") } };
      const test = normPredictionTest(input, { intercept, bootstrap });
      const baselines = withBaselines
        ? normPredictionBaselines({ ...input, tokens: tokens?.tokens, modelLoss: tokens?.losses, l0: out.l0 }, { bootstrap }) : null;
      let magnitude: Omit<ProbeMagnitude, "sae"> | null = null;
      if (withProbe && out.latents && out.decoder) {
        const result = probeVsLatent({ decoder: out.decoder, d: ctx.d, latents: out.latents }, { bootstrap });
        const n = Math.min(PROBE_LATENTS, result.latents.length), w = Math.min(PROBE_WINDOW, Math.max(1, n));
        magnitude = {
          result, topRows: topActivatingRows(out.latents, result.latents, out.latents.d_sae),
          runningCorrelation: pearson(runningMean(result.meanActive.subarray(0, n), w), runningMean(result.probe.subarray(0, n), w)),
        };
      }
      return { l0Empirical: out.meanL0, test, baselines, probe: magnitude };
    }, __filename);
    saes.push({ sae: entry, l0Empirical: one.l0Empirical, test: one.test, baselines: one.baselines });
    if (one.probe) probe = { sae: entry, ...one.probe };
  }
  progress(ctx.saes.length, ctx.saes.length, "norm prediction done");
  if (!probe) throw new Error("the probe SAE was not analysed"); // unreachable: probeSae is one of ctx.saes
  return {
    rows, rowsAvailable: ctx.rows, l0: selection.l0, sharedL0: selection.saes.map((s) => ctx.saes.indexOf(s)), saes, probe,
    tokensMissing: tokenDataMissing(ctx), warnings: selection.warnings,
  };
}

const label = (s: SaeEntry) => `width ${s.width}, L0 ${s.l0 ?? "?"}`;

/** Every SAE's norm-prediction test, labelled, for the violin figure and its rows. */
export function normPredictionLabelled(a: NormPredictionAnalysis): { label: string; result: NormPredictionResult }[] {
  return a.saes.map((s) => ({ label: label(s.sae), result: s.test }));
}

/** The baseline results of the shared-L0 SAEs, one per width. */
export function baselineEntries(a: NormPredictionAnalysis): { label: string; width: number; result: BaselineResult }[] {
  return a.sharedL0.map((i) => ({ label: label(a.saes[i].sae), width: a.saes[i].sae.width, result: a.saes[i].baselines as BaselineResult }));
}

/** One row per SAE: test R² of x → ‖component‖² for every component. */
export function normPredictionTableRows(a: NormPredictionAnalysis): Record<string, number | string | null>[] {
  return a.saes.map((s) => {
    const row: Record<string, number | string | null> = { width: s.sae.width, "L0 (nominal)": s.sae.l0 ?? null, "L0 (measured)": s.l0Empirical };
    for (const c of NORM_COMPONENTS) row[`r2: ${COMPONENT_LABELS[c]}`] = s.test.components[c].value;
    return row;
  });
}

const BASELINE_COLUMNS: Record<BaselineName, string> = {
  x: "x", tokenIdentity: "token identity (in-sample)", modelLoss: "model loss", l0: "L0", xNorm: "‖x‖",
};

/** One row per shared-L0 SAE: the R² of each predictor of ‖SaeError‖² (blank where its data is missing). */
export function baselineTableRows(a: NormPredictionAnalysis): Record<string, number | string | null>[] {
  return baselineEntries(a).map((e) => {
    const row: Record<string, number | string | null> = { SAE: e.label };
    for (const b of BASELINES) row[`r2: ${BASELINE_COLUMNS[b]}`] = e.result.baselines[b]?.value ?? null;
    return row;
  });
}

/** Hover text for the probe figure: each latent's most-activating token and its context (null without tokens). */
export function probeTokenText(ctx: AnalysisContext, a: NormPredictionAnalysis): TokenText | null {
  return tokenText(ctx, a.probe.topRows, { before: 10, after: 3 });
}

const median = (xs: number[]) => {
  const s = xs.filter(Number.isFinite).sort((p, q) => p - q);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const f3 = (v: number) => (Number.isFinite(v) ? v.toFixed(3) : "n/a");
const value = (e: Estimate | null) => (e ? e.value : NaN);

/** Thresholds of the §3.4–§3.6 verdicts (the paper gives no numbers: [GAP]). */
export const NORM_THRESHOLDS = {
  /** §3.4: NonlinearError's R² is the lowest of Sae(x), SaeError, LinearError, NonlinearError in at least this share of SAEs. */
  nonlinearLowestShare: 0.8,
  /** §3.5: "far better": x's R² exceeds every scalar baseline's by at least this, for every SAE. */
  baselineMargin: 0.1,
  /** §3.6: "tracks": Pearson r of a*·d_i and the mean active value over the active latents is at least this. */
  probeCorrelation: 0.5,
} as const;

const COMPARED: NormComponent[] = ["sae", "saeError", "linearError", "nonlinearError"];
const SCALARS: Exclude<BaselineName, "x">[] = ["tokenIdentity", "modelLoss", "l0", "xNorm"];

/** The paper's §3.4–§3.6 claims, each decided from the measurements with the thresholds above. */
export function normPredictionClaims(a: NormPredictionAnalysis): Claim[] {
  const t = NORM_THRESHOLDS;
  // §3.4
  const decided = a.saes.filter((s) => COMPARED.every((c) => Number.isFinite(s.test.components[c].value)));
  const lowest = decided.filter((s) => COMPARED.slice(0, 3).every((c) => s.test.components.nonlinearError.value < s.test.components[c].value));
  const medians = NORM_COMPONENTS.map((c) => `${c} ${f3(median(a.saes.map((s) => s.test.components[c].value)))}`).join(", ");
  const share = decided.length ? lowest.length / decided.length : NaN;
  const lowestCounts = new Map<NormComponent, number>();
  for (const s of decided) {
    const min = COMPARED.reduce((m, c) => (s.test.components[c].value < s.test.components[m].value ? c : m));
    lowestCounts.set(min, (lowestCounts.get(min) ?? 0) + 1);
  }
  const whichLowest = [...lowestCounts.entries()].sort((x, y) => y[1] - x[1]).map(([c, k]) => `${c} ${k}`).join(", ");
  // §3.5
  const compared = baselineEntries(a);
  const missing = SCALARS.filter((b) => compared.some((e) => e.result.baselines[b] === null));
  const margins = compared.map(({ result, label: sae }) => {
    const scalar = SCALARS.filter((b) => result.baselines[b] !== null).map((b) => ({ b, r2: value(result.baselines[b]) }));
    const best = scalar.reduce((m, c) => (c.r2 > m.r2 ? c : m), { b: "none" as string, r2: -Infinity });
    return { sae, x: value(result.baselines.x), best, margin: value(result.baselines.x) - best.r2 };
  });
  const worst = margins.length ? margins.reduce((m, c) => (!(c.margin >= m.margin) ? c : m), margins[0]) : null;
  const fails = margins.some((m) => !(m.margin >= t.baselineMargin));
  // §3.6
  const p = a.probe;
  return [
    {
      claim: "NonlinearError's squared norm is less linearly predictable from x than those of Sae(x), SaeError and LinearError " +
        `(its test R² is the lowest of the four in ≥ ${100 * t.nonlinearLowestShare} % of SAEs)`,
      measured: `lowest in ${lowest.length} of ${decided.length} SAEs (lowest of the four: ${whichLowest || "none"}); median test R² over ${a.saes.length} SAEs: ${medians}`,
      holds: decided.length === 0 ? null : share >= t.nonlinearLowestShare,
    },
    {
      claim: `x predicts the squared SAE error norm far better than every scalar baseline (token identity, model loss, L0, ‖x‖): ` +
        `R² of x exceeds each by ≥ ${t.baselineMargin} for every SAE at the shared L0`,
      measured: !worst ? "no SAE shares one L0 with the others, so no baseline was compared" :
        `${margins.length} SAEs at L0 ${a.l0}: median R² of x ${f3(median(margins.map((m) => m.x)))}; smallest margin ${f3(worst.margin)} (${worst.sae}: ` +
        `x ${f3(worst.x)} vs ${worst.best.b} ${f3(worst.best.r2)})` + (missing.length ? `; not measured: ${missing.join(", ")} (${a.tokensMissing ?? "data missing"})` : ""),
      holds: !worst ? null : fails ? false : missing.length ? null : true,
    },
    {
      claim: `The norm probe on each decoder row tracks the latent's typical active magnitude (Pearson r of a*·d_i and mean active value ≥ ${t.probeCorrelation})`,
      measured: `${label(p.sae)}: r = ${f3(p.result.correlation)} over ${p.result.latents.length} active latents ` +
        `(running means: r = ${f3(p.runningCorrelation)}); probe test R² ${f3(p.result.probeR2.value)}`,
      holds: Number.isFinite(p.result.correlation) ? p.result.correlation >= t.probeCorrelation : null,
    },
  ];
}
