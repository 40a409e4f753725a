// The synthetic test of the linear/nonlinear split (paper §3.7, v1 Figure 15 and Table 1) on an analysis context:
// x := Sae(acts) for the first tokens of the activations, latents ablated 0–50 %, activation noise σ_a and
// reconstruction noise σ_r in units of the per-dimension std of x, and the verdicts on the paper's claims.
import { syntheticExperiment, SyntheticExperimentResult, SyntheticOptions as ExperimentOptions } from "../darkmatter/synthetic";
import { InputError } from "../errors";
import { Progress, silentProgress } from "../progress";
import type { Claim } from "./claim";
import { openSae, requireWholeSae } from "../sae/index";
import { cached, contentFingerprint } from "./cache";
import { AnalysisContext } from "./context";
import { middleWidth, SaeEntry } from "./saes";

/** The paper's token count (first 50,000 tokens of its activations). */
export const PAPER_SYNTHETIC_TOKENS = 50_000;

/**
 * Default tokens: what keeps b* (d² parameters, fitted in-sample) as well determined as the paper's, whose tokens per
 * dimension are 50,000 / 3584 ≈ 14. "full" uses ≥ 64 per dimension (at least 8,192), "ci" ≥ 16 (at least 2,048),
 * both capped at the paper's 50,000. Each configuration streams the tokens twice, so the cost is linear in them.
 */
export function defaultSyntheticTokens(profile: "full" | "ci", d: number): number {
  return Math.min(PAPER_SYNTHETIC_TOKENS, profile === "ci" ? Math.max(2_048, 16 * d) : Math.max(8_192, 64 * d));
}

/**
 * The SAE of median width and, at that width, median nominal L0 (ties to the larger): the paper picks one mid-size
 * SAE with a moderately high L0 (16k, L0 68 on Gemma 2 9B for §3.7; 16k, L0 82 on 2B as §3.8's reference).
 */
export function middleSae(saes: readonly SaeEntry[]): SaeEntry {
  if (saes.length === 0) throw new InputError("saes", "no SAE to pick from");
  const width = middleWidth(saes);
  const atWidth = saes.filter((s) => s.width === width).sort((a, b) => (a.l0 ?? 0) - (b.l0 ?? 0));
  return atWidth[Math.floor(atWidth.length / 2)];
}

export interface SyntheticTestOptions {
  /** The SAE whose outputs are the synthetic activations (default: `middleSae(ctx.saes)`). */
  sae?: SaeEntry;
  /** First tokens used (default `defaultSyntheticTokens(profile, d)`; at most the rows available). */
  tokens?: number;
  /** σ unit, seed, intercept (defaults: σ = 4 is one per-dim std of x, seed 0, no intercept as in the paper). */
  noiseUnit?: ExperimentOptions["noiseUnit"];
  seed?: number;
  intercept?: boolean;
  /** Run encode() on the clean x = Sae(acts), as the paper does (default true); false takes encode(x) = f(acts). */
  encodeCleanX?: boolean;
  ablatedPercents?: number[];
  linePanels?: [number, number][];
  gridLevels?: number[];
}

export interface SyntheticTest {
  sae: SaeEntry;
  profile: "full" | "ci";
  /** Tokens used, and the paper's count for comparison. */
  tokens: number;
  paperTokens: number;
  /** Whether encode() ran on the clean x (the paper) or the codes were reused. */
  encodeCleanX: boolean;
  /** Mean active latents per token of f(acts) and of encode(x). */
  l0Codes: number;
  l0Encoded: number;
  result: SyntheticExperimentResult;
  wallTimeS: number;
}

/** Concatenates per-chunk CSR latents. */
function concatCsr(parts: { rowPtr: Int32Array; indices: Int32Array; values: Float32Array }[]) {
  let rows = 0, nnz = 0;
  for (const p of parts) { rows += p.rowPtr.length - 1; nnz += p.indices.length; }
  const rowPtr = new Int32Array(rows + 1), indices = new Int32Array(nnz), values = new Float32Array(nnz);
  let r = 0, e = 0;
  for (const p of parts) {
    const n = p.rowPtr.length - 1;
    for (let t = 1; t <= n; t++) rowPtr[r + t] = e + p.rowPtr[t];
    indices.set(p.indices, e);
    values.set(p.values, e);
    r += n;
    e += p.indices.length;
  }
  return { rowPtr, indices, values };
}

/**
 * §3.7 on `ctx`: the line panels over % ablated, the σ_a × σ_r grid and Table 1's correlations. Cached by the SAE's
 * contents, the activations, the token count and every option.
 */
export async function syntheticTest(ctx: AnalysisContext, options: SyntheticTestOptions = {}, progress: Progress = silentProgress): Promise<SyntheticTest> {
  const entry = options.sae ?? middleSae(ctx.saes);
  const want = options.tokens ?? defaultSyntheticTokens(ctx.profile, ctx.d);
  if (!Number.isSafeInteger(want) || want < 2) throw new InputError("tokens", `must be an integer ≥ 2, got ${want}`);
  const tokens = Math.min(want, ctx.rows);
  const settings = {
    tokens, encodeCleanX: options.encodeCleanX ?? true, noiseUnit: options.noiseUnit ?? "paper", seed: options.seed ?? 0,
    intercept: options.intercept ?? false, ablatedPercents: options.ablatedPercents, linePanels: options.linePanels, gridLevels: options.gridLevels,
  };
  const key = { sae: contentFingerprint(entry.path), activations: ctx.activationsKey, settings };
  const out = await cached("synthetic-test", key, async () => {
    const started = Date.now();
    const sae = requireWholeSae(await openSae(entry.path), "the synthetic-activations experiment (it decodes ablated latents)");
    try {
      if (sae.d_in !== ctx.d) throw new InputError(entry.path, `has d_in = ${sae.d_in} but the activations have d = ${ctx.d}`);
      // f(acts) for the first `tokens` rows, and encode(x) for the clean x = Sae(acts) = decode(f(acts)).
      const codes = [], encoded = [];
      let seen = 0;
      for (const chunk of ctx.activations.chunks(4096)) {
        const rows = Math.min(chunk.length / ctx.d, tokens - seen);
        if (rows <= 0) break;
        const x = Float32Array.from(chunk.subarray(0, rows * ctx.d));
        const f = sae.forward(x, { latents: true });
        codes.push(f.latents!);
        if (settings.encodeCleanX) encoded.push(sae.encode(f.reconstruction));
        seen += rows;
        progress(seen, tokens, "encoding x := Sae(acts)");
        if (seen >= tokens) break;
      }
      const codeCsr = concatCsr(codes);
      const encodedCsr = settings.encodeCleanX ? concatCsr(encoded) : undefined;
      const result = syntheticExperiment({
        decoder: sae.hostWeight("W_dec")!, latents: sae.d_sae, d: sae.d_in, bias: sae.hostWeight("b_dec") ?? null,
        codes: codeCsr, encoded: encodedCsr,
      }, {
        maxTokens: tokens, noiseUnit: settings.noiseUnit, seed: settings.seed, intercept: settings.intercept,
        ablatedPercents: settings.ablatedPercents, linePanels: settings.linePanels, gridLevels: settings.gridLevels,
        progress: (done, total) => progress(done, total, "synthetic configurations"),
      });
      const l0 = (c: { indices: Int32Array } | undefined) => (c ? c.indices.length / tokens : NaN);
      return {
        tokens, paperTokens: PAPER_SYNTHETIC_TOKENS, encodeCleanX: settings.encodeCleanX,
        l0Codes: l0(codeCsr), l0Encoded: l0(encodedCsr ?? codeCsr), result, wallTimeS: (Date.now() - started) / 1000,
      };
    } finally {
      sae.dispose();
    }
  }, __filename);
  progress(1, 1, "synthetic test done");
  return { ...out, sae: entry, profile: ctx.profile };
}

const f3 = (x: number) => x.toFixed(3);

/** Thresholds of the verdicts: a "strong" correlation, a "weak" one, and "nearly unchanged" under ablation. */
export const SYNTHETIC_THRESHOLDS = { strong: 0.5, weak: 0.3, ablationLinearShare: 0.75 } as const;

/**
 * §3.7's claims, from the measured numbers:
 *  1. activation noise appears as linear error: pearson(σ_a, estimated linear error) ≥ 0.5;
 *  2. reconstruction noise appears as nonlinear error: pearson(σ_r, estimated nonlinear error) ≥ 0.5;
 *  3. the off-diagonal correlations are weak: both |r| < 0.3;
 *  4. ablating latents produces mostly linear error: in every line panel, from the least to the most ablated level
 *     fvu(Sae) rises and at least 75 % of that rise is estimated linear error (fvu_nonlinear moves by ≤ 25 % of it).
 */
/** A verdict, or undecided (null) when a measurement it rests on is not a number. */
const decided = (xs: number[], holds: () => boolean): boolean | null => (xs.every(Number.isFinite) ? holds() : null);

export function syntheticClaims(t: Pick<SyntheticTest, "result">): Claim[] {
  const [[aLin, aNl], [rLin, rNl]] = t.result.correlation.values;
  const { strong, weak, ablationLinearShare } = SYNTHETIC_THRESHOLDS;
  const panels = t.result.lines.map((l) => {
    const pts = [...l.points].sort((a, b) => a.ablatedPercent - b.ablatedPercent);
    const lo = pts[0], hi = pts[pts.length - 1];
    const rise = hi.fvuRecon - lo.fvuRecon, nonlinearMove = hi.fvuLinear - lo.fvuLinear;
    const linearShare = rise > 0 ? 1 - Math.abs(nonlinearMove) / rise : NaN;
    return { l, lo, hi, rise, nonlinearMove, linearShare, ok: rise > 0 && linearShare >= ablationLinearShare };
  });
  return [
    { claim: "Activation noise (σ_a) appears as estimated linear error (Table 1: strong positive correlation)",
      measured: `pearson(σ_a, estimated linear error) = ${f3(aLin)} over ${t.result.grid.points.length} grid cells (strong: ≥ ${strong})`,
      holds: decided([aLin], () => aLin >= strong) },
    { claim: "Reconstruction noise (σ_r) appears as estimated nonlinear error (Table 1: strong positive correlation)",
      measured: `pearson(σ_r, estimated nonlinear error) = ${f3(rNl)} (strong: ≥ ${strong})`,
      holds: decided([rNl], () => rNl >= strong) },
    { claim: "The off-diagonal correlations of Table 1 are weak",
      measured: `pearson(σ_a, nonlinear) = ${f3(aNl)}, pearson(σ_r, linear) = ${f3(rLin)} (weak: |r| < ${weak})`,
      holds: decided([aNl, rLin], () => Math.abs(aNl) < weak && Math.abs(rLin) < weak) },
    { claim: "Ablating latents raises fvu of Sae(x) while fvu_nonlinear stays nearly unchanged (ablation produces mostly linear error)",
      measured: panels.map((p) => `σ_a=${p.l.sigmaActivation}, σ_r=${p.l.sigmaReconstruction}: ${p.lo.ablatedPercent}→${p.hi.ablatedPercent} % ablated, ` +
        `fvu ${f3(p.lo.fvuRecon)}→${f3(p.hi.fvuRecon)}, fvu_nonlinear ${f3(p.lo.fvuLinear)}→${f3(p.hi.fvuLinear)} ` +
        `(linear share of the rise ${Number.isFinite(p.linearShare) ? f3(p.linearShare) : "n/a"}; needs ≥ ${ablationLinearShare})`).join("; "),
      holds: panels.length > 0 ? decided(panels.flatMap((p) => [p.lo.fvuRecon, p.hi.fvuRecon, p.lo.fvuLinear, p.hi.fvuLinear]), () => panels.every((p) => p.ok)) : null },
  ];
}

/** Headline numbers for the notebook's record. */
export function syntheticNumbers(t: SyntheticTest): Record<string, unknown> {
  const r = t.result;
  return {
    sae: t.sae.path, width: t.sae.width, l0: t.sae.l0, tokens: t.tokens, stdX: r.stdX, noiseUnit: r.noiseUnit,
    correlation: r.correlation.values, gridLevels: r.grid.levels,
    estimatedLinearError: r.grid.estimatedLinearError, estimatedNonlinearError: r.grid.estimatedNonlinearError,
    lines: r.lines.map((l) => ({ sigmaActivation: l.sigmaActivation, sigmaReconstruction: l.sigmaReconstruction,
      ablatedPercent: l.points.map((p) => p.ablatedPercent), fvuRecon: l.points.map((p) => p.fvuRecon), fvuLinear: l.points.map((p) => p.fvuLinear) })),
  };
}

/** What was scaled down or chosen here versus the paper, as table rows. */
export function syntheticSetupRows(t: SyntheticTest): { item: string; here: string; paper: string }[] {
  const r = t.result;
  return [
    { item: "SAE", here: `width ${t.sae.width}, nominal L0 ${t.sae.l0 ?? "?"} (${t.sae.path})`, paper: "Gemma Scope 9B L20, 16k, L0 68" },
    { item: "tokens", here: t.tokens.toLocaleString("en-US"), paper: t.paperTokens.toLocaleString("en-US") },
    { item: "encode() on", here: t.encodeCleanX ? "the clean x = Sae(acts)" : "acts (codes reused)", paper: "the clean x" },
    { item: "L0 of f(acts) / of encode(x)", here: `${f3(t.l0Codes)} / ${f3(t.l0Encoded)}`, paper: "—" },
    { item: "σ unit", here: `σ = 4 is one per-dim std of x (std ${r.stdX.toPrecision(4)}, unit ${r.noiseUnit.toPrecision(4)})`, paper: "absolute on Gemma 2 9B (per-dim std a few units)" },
    { item: "b*", here: `OLS on all ${t.tokens} tokens, ${r.intercept ? "with" : "no"} intercept`, paper: "OLS on all 50k tokens, no intercept" },
  ];
}
