// The norm-prediction test across error components (paper §3.4). A vector that is a sparse sum of near-orthogonal
// features with typical magnitudes has a squared norm that is close to linear in the vector, so "how well does a
// linear map of x predict ‖v‖²" is a signature of sparse-feature structure; the claim is that NonlinearError scores
// lower than x, Sae(x), SaeError and LinearError.
import { InputError } from "../errors";
import { bootstrapPlan, MultinomialResampler } from "../linalg/bootstrap";
import { LeastSquaresFit, NormalEquations, predict } from "../linalg/least-squares";
import { RegressionAccumulator } from "../linalg/metrics";
import { NO_ROLE, TEST, TRAIN } from "../linalg/split";
import { checkSaeInput, columns, countRoles, Estimate, passProgress, readSaeChunks, resolveRoles, SaeInput } from "./common";
import { AnalysisOptions, RowAccounting, warningSink } from "./decomposition";

/**
 * The components whose squared norms are predicted from x. `saePlusNonlinear` = Sae(x) + NonlinearError(x), the
 * component v1 labels "Sae(x) − NonlinearError(x)" (v1 writes NonlinearError with the opposite sign, §1.1).
 */
export const NORM_COMPONENTS = ["x", "sae", "saeError", "linearError", "nonlinearError", "saePlusNonlinear"] as const;
export type NormComponent = (typeof NORM_COMPONENTS)[number];

export interface NormPredictionOptions extends AnalysisOptions {
  /** Intercept in every regression from x (default true, the paper's text; its violin scripts fit without). */
  intercept?: boolean;
  /** A fitted b* (x → SaeError, e.g. `decomposeSaeError(...).linearMap`); default: fitted here. */
  linearMap?: LeastSquaresFit;
  /** Where b* is fitted when not given: in-sample on all rows (default, paper §3.4 step 1) or on the training rows. */
  linearMapFitOn?: "all" | "train";
  /** Added to every squared-norm target (default 0; the paper's violin scripts add 1, which matters only without an intercept). */
  targetOffset?: number;
}

export interface NormPredictionResult {
  intercept: boolean;
  d: number;
  rows: RowAccounting;
  /** Where b* came from, and whether it had an intercept. */
  linearMap: { source: "given" | "all" | "train"; intercept: boolean };
  /** Test `r2` of x → ‖component‖² per component. */
  components: Record<NormComponent, Estimate>;
  bootstrap: { resamples: number; seed: number; level: number } | null;
  warnings: string[];
}

const K = NORM_COMPONENTS.length;

/** Runs the §3.4 norm-prediction test: three streaming passes (b* if not given, the component fits, evaluation). */
export function normPredictionTest(input: SaeInput, options: NormPredictionOptions = {}): NormPredictionResult {
  const d = checkSaeInput(input);
  const n = input.activations.rows;
  const intercept = options.intercept ?? true, offset = options.targetOffset ?? 0;
  if (!Number.isFinite(offset)) throw new InputError("targetOffset", `must be finite, got ${offset}`);
  const given = options.linearMap;
  if (given && (given.inputs !== d || given.outputs !== d)) {
    throw new InputError("linearMap", `maps ${given.inputs} → ${given.outputs} dims, the activations have d = ${d}`);
  }
  const { roles, seed } = resolveRoles(n, options);
  if (countRoles(roles).train < d + (intercept ? 1 : 0)) throw new InputError("trainRows", `too few training rows for d = ${d}`);
  const rowsPerChunk = options.rowsPerChunk ?? 2048, dropNonFinite = options.dropNonFinite ?? false, native = options.native;
  const { warnings, warn } = warningSink(options);
  const dropped = { count: 0 };
  const source = given ? "given" : options.linearMapFitOn ?? "all";
  const progress = passProgress(options.progress, n, given ? 2 : 3, "norm prediction");
  let pass = 0;

  let linearMap: LeastSquaresFit;
  if (given) {
    linearMap = given;
  } else {
    const ne = new NormalEquations(d, d, { native });
    const want = source === "all" ? (r: number) => r !== NO_ROLE : (r: number) => r === TRAIN;
    for (const c of readSaeChunks(input, { rowsPerChunk, roles, want, dropNonFinite, dropped, progress: progress(pass, "fitting b*") })) {
      ne.add(c.x, c.error, c.count);
    }
    linearMap = ne.solve({ intercept, rankTolerance: options.rankTolerance, onWarning: warn });
    pass++;
  }

  /** Squared norms (+ offset) of every component for a chunk: [count, K]. */
  const targets = (c: { count: number; x: Float64Array; sae: Float64Array; error: Float64Array }): Float64Array => {
    const lin = predict(linearMap, c.x, c.count, { native });
    const out = new Float64Array(c.count * K);
    for (let t = 0; t < c.count; t++) {
      let nx = 0, ns = 0, ne2 = 0, nl = 0, nn = 0, nsn = 0;
      for (let j = 0; j < d; j++) {
        const i = t * d + j;
        const x = c.x[i], s = c.sae[i], e = c.error[i], l = lin[i], nonlin = e - l, sn = s + nonlin;
        nx += x * x; ns += s * s; ne2 += e * e; nl += l * l; nn += nonlin * nonlin; nsn += sn * sn;
      }
      out.set([nx + offset, ns + offset, ne2 + offset, nl + offset, nn + offset, nsn + offset], t * K);
    }
    return out;
  };

  const fitNe = new NormalEquations(d, K, { native });
  for (const c of readSaeChunks(input, { rowsPerChunk, roles, want: (r) => r === TRAIN, dropNonFinite, dropped, progress: progress(pass, "fitting norm probes") })) {
    fitNe.add(c.x, targets(c), c.count);
  }
  pass++;
  if (dropped.count > 0) warn(`dropped ${dropped.count} row(s) holding NaN or ±Inf`);
  const probes = fitNe.solve({ intercept, rankTolerance: options.rankTolerance, onWarning: warn });

  let evalRows = 0;
  for (const r of roles) if (r === TEST) evalRows++;
  if (evalRows === 0) throw new InputError("testRows", "no rows are left to evaluate on");
  const plan = bootstrapPlan(options.bootstrap);
  const resampler = plan ? new MultinomialResampler(evalRows, plan.resamples, plan.seed) : null;
  const accs = NORM_COMPONENTS.map(() => new RegressionAccumulator(1, {
    native, bootstrap: plan ? { resamples: plan.resamples, level: plan.level, perDim: true } : undefined,
  }));
  for (const c of readSaeChunks(input, { rowsPerChunk, roles, want: (r) => r === TEST, dropNonFinite, dropped, progress: progress(pass, "evaluating") })) {
    const t = targets(c), pred = predict(probes, c.x, c.count, { native });
    const w = resampler ? resampler.next(c.count) : undefined;
    accs.forEach((acc, k) => acc.add(columns(t, c.count, K, k, 1), columns(pred, c.count, K, k, 1), c.count, w));
  }
  const components = {} as Record<NormComponent, Estimate>;
  NORM_COMPONENTS.forEach((name, k) => {
    const r = accs[k].result();
    components[name] = { value: r.r2 as number, interval: r.intervals?.r2 ?? null };
  });
  return {
    intercept, d,
    rows: { total: n, train: probes.rows, evaluated: evalRows, droppedNonFinite: dropped.count, seed },
    linearMap: { source, intercept: linearMap.intercept !== null },
    components, bootstrap: plan, warnings,
  };
}
