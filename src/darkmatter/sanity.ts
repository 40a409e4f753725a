// Sanity checks on an SAE's fit to a set of activations. Each check that fails gives a warning that names the SAE and
// suggests the likely cause (the wrong hook or layer, activations not scaled as the SAE expects, a corrupt file), so a
// badly matched SAE does not run silently through an analysis and its claims. Used by the notebooks and the CLI.
import type { DmWarning } from "../warnings";

/** What the checks look at; leave out what is unknown (that check is skipped). */
export interface SaeFitFacts {
  /** How to name the SAE in a warning (its path). */
  sae: string;
  /** Held-out FVU of the SAE on these activations. */
  fvu?: number;
  /** Mean active latents per token measured on these activations, and the nominal one (folder name or k). */
  l0Measured?: number;
  l0Nominal?: number;
  /** Mean ‖x‖ of the activations and mean ‖Sae(x)‖ of the reconstructions. */
  inputNorm?: number;
  reconstructionNorm?: number;
  /** Rows dropped for NaN/±Inf, out of `rows`. */
  droppedNonFinite?: number;
  rows?: number;
  /** Rows the fit was evaluated on, and the number of regressors of the fitted linear map (d, + 1 with an intercept). */
  testRows?: number;
  regressors?: number;
}

/** The thresholds: beyond them a number is more likely a mismatch than a property of the SAE. */
export const SANITY_LIMITS = {
  /** An SAE worse than predicting the mean. */
  maxFvu: 1,
  /** Measured L0 more than this factor away from the nominal one. */
  l0Factor: 3,
  /** Reconstruction norm more than this factor away from the input norm. */
  normFactor: 3,
} as const;

const SCALING_HINT = "activations not scaled as the SAE was trained (e.g. a normalize_activations / norm_scaling_factor " +
  "not applied, or Gemma Scope's raw residual stream vs normalised activations)";

/** The warnings for one SAE on one set of activations (empty when every check passes). */
export function saeFitWarnings(f: SaeFitFacts): DmWarning[] {
  const out: DmWarning[] = [];
  const subject = `SAE ${f.sae}`;
  const num = (x: number | undefined): x is number => typeof x === "number" && Number.isFinite(x);
  if (num(f.fvu) && f.fvu > SANITY_LIMITS.maxFvu) {
    out.push({ code: "fvu-above-1", subject, problem: `FVU ${f.fvu.toPrecision(3)} > 1: it reconstructs these activations worse than their mean does`,
      hint: `likely the wrong hook or layer, or ${SCALING_HINT}` });
  }
  if (num(f.l0Measured) && num(f.l0Nominal) && f.l0Nominal > 0) {
    const ratio = f.l0Measured / f.l0Nominal;
    if (ratio > SANITY_LIMITS.l0Factor || ratio < 1 / SANITY_LIMITS.l0Factor) {
      out.push({ code: "l0-mismatch", subject,
        problem: `measured L0 ${f.l0Measured.toPrecision(4)} is ${ratio > 1 ? ratio.toFixed(1) + "×" : "1/" + (1 / ratio).toFixed(1)} the nominal ${f.l0Nominal}`,
        hint: ratio > 1
          ? `activations larger than the SAE's training data (unscaled?) push many latents over their thresholds; or the wrong layer. Check ${SCALING_HINT}`
          : `activations smaller than the SAE's training data (scaled down or normalised?) leave latents below their thresholds; or the wrong hook or layer` });
    }
  }
  if (num(f.inputNorm) && num(f.reconstructionNorm) && f.inputNorm > 0) {
    const ratio = f.reconstructionNorm / f.inputNorm;
    if (ratio > SANITY_LIMITS.normFactor || ratio < 1 / SANITY_LIMITS.normFactor) {
      out.push({ code: "norm-mismatch", subject,
        problem: `its reconstructions have mean norm ${f.reconstructionNorm.toPrecision(3)}, ${ratio > 1 ? ratio.toFixed(1) + "×" : "1/" + (1 / ratio).toFixed(1)} ` +
          `the activations' mean norm ${f.inputNorm.toPrecision(3)}`,
        hint: `the activations' scale is far from what the SAE expects: ${SCALING_HINT}; or the wrong layer` });
    }
  }
  if (num(f.droppedNonFinite) && f.droppedNonFinite > 0) {
    out.push({ code: "non-finite-dropped", subject,
      problem: `${f.droppedNonFinite}${num(f.rows) ? ` of ${f.rows}` : ""} rows held NaN or ±Inf (in x or in Sae(x)) and were dropped`,
      hint: "the activations file is partly corrupt, or was captured from a run that overflowed (float16); the SAE may also produce Inf on inputs far outside its training scale" });
  }
  if (num(f.testRows) && num(f.regressors) && f.testRows < f.regressors) {
    out.push({ code: "too-few-test-rows", subject,
      problem: `${f.testRows} test tokens for ${f.regressors} regressors of the linear map: the held-out R² and FVU_nonlinear are not meaningful`,
      hint: "give more activations (thousands of tokens per dimension) or fit on fewer training rows" });
  }
  return out;
}

/** Accumulates mean ‖x‖ and mean ‖Sae(x)‖ over row chunks [rows, d] (for the norm check). */
export class NormAccumulator {
  private sumX = 0;
  private sumR = 0;
  private n = 0;

  constructor(private d: number) {}

  add(x: ArrayLike<number>, reconstruction: ArrayLike<number>, rows: number): void {
    const d = this.d;
    for (let r = 0; r < rows; r++) {
      let sx = 0, sr = 0;
      for (let j = r * d; j < (r + 1) * d; j++) { sx += x[j] * x[j]; sr += reconstruction[j] * reconstruction[j]; }
      if (!Number.isFinite(sx) || !Number.isFinite(sr)) continue;
      this.sumX += Math.sqrt(sx);
      this.sumR += Math.sqrt(sr);
      this.n++;
    }
  }

  /** The sums behind the means, for shards of the rows to hand on. */
  get sums(): { sumX: number; sumR: number; rows: number } { return { sumX: this.sumX, sumR: this.sumR, rows: this.n }; }

  /** Adds another accumulator's sums (a shard of the rows). */
  merge(s: { sumX: number; sumR: number; rows: number }): void { this.sumX += s.sumX; this.sumR += s.sumR; this.n += s.rows; }

  /** Mean norms (NaN before any row). */
  get inputNorm(): number { return this.n ? this.sumX / this.n : NaN; }
  get reconstructionNorm(): number { return this.n ? this.sumR / this.n : NaN; }
}
