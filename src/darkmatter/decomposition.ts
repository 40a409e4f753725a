// The linear/nonlinear decomposition of SAE error (paper §1.1, §2.5, §2.6, §3.1, §3.2):
//   SaeError(x) = x − Sae(x);  LinearError(x) = x·b* (+ bias), b* the least-squares map x → SaeError(x);
//   NonlinearError(x) = SaeError(x) − LinearError(x), so x = Sae(x) + LinearError(x) + NonlinearError(x) exactly.
// Two streaming passes over the activations: the first fits b* and the norm probe a* (x → ‖SaeError‖²) together on
// the training rows (one Gram, d + 1 outputs); the second evaluates on the chosen rows, with bootstrap intervals.
import { InputError } from "../errors";
import { formatEstimate, formatNumber, withSummary } from "../inspect";
import { Progress } from "../progress";
import { bootstrapPlan, BootstrapOptions, MultinomialResampler } from "../linalg/bootstrap";
import { InputGram, LeastSquaresFit, LinearMap, NormalEquations, predict, selectOutputs } from "../linalg/least-squares";
import { RegressionAccumulator, RegressionMetrics } from "../linalg/metrics";
import { NO_ROLE, TEST, TRAIN } from "../linalg/split";
import {
  checkSaeInput, columns, countRoles, Estimate, ModelSaeInput, passProgress, readSaeChunks, resolveRoles, resolveSaeInput, rowSquaredNorms, SaeChunk,
  SaeInput, SplitChoice,
} from "./common";

export interface AnalysisOptions extends SplitChoice {
  /** Bootstrap intervals over the evaluated tokens (default 200 resamples, seed 0, 95 %; false switches off). */
  bootstrap?: BootstrapOptions | false;
  /** Rows per chunk (default 2048). */
  rowsPerChunk?: number;
  /** Skip rows with NaN/±Inf in any input and report how many (default false: InputError). */
  dropNonFinite?: boolean;
  /** See SolveOptions.rankTolerance. */
  rankTolerance?: number;
  /** Warnings (rank deficiency, dropped rows) as they arise; they are also returned in `warnings`. */
  onWarning?: (message: string) => void;
  progress?: Progress;
  /** Use the native BLAS bridge when it loaded (default true). */
  native?: boolean;
}

export interface DecompositionOptions extends AnalysisOptions {
  /**
   * Fit b* and a* with an intercept (default true, as the paper's text says; most of the paper's code fits without
   * one). The result records which was used.
   */
  intercept?: boolean;
  /** Fit on the training rows (default) or in-sample on all rows (paper §2.5's in-sample steps). */
  fitOn?: "train" | "all";
  /** Evaluate on the test rows (default) or on all rows (the power-law script's FVU_nonlinear). */
  evaluateOn?: "test" | "all";
  /**
   * XᵀX of the fitting rows computed once for several SAEs on the same activations (`inputGramFor`); the fit then
   * costs only XᵀSaeError. Ignored with dropNonFinite (an SAE's non-finite outputs would change the rows).
   */
  sharedGram?: InputGram;
}

export interface RowAccounting {
  total: number;
  train: number;
  evaluated: number;
  droppedNonFinite: number;
  /** Split seed (−1 for an explicit split or an in-sample fit). */
  seed: number;
}

export interface DecompositionResult {
  intercept: boolean;
  d: number;
  fitOn: "train" | "all";
  evaluatedOn: "test" | "all";
  rows: RowAccounting;
  /** `r2_mean_over_dims` of LinearError as a prediction of SaeError (§3.2a, "about half"). */
  vectorR2: Estimate;
  /** `r2` of the norm probe x → ‖SaeError‖² (§3.2b, "> 90 %"). */
  normR2: Estimate;
  /** `fvu` of the SAE: fvu(x, Sae(x)). */
  fvu: Estimate;
  /** `fvu_nonlinear`: fvu(x, Sae(x) + LinearError(x)). */
  fvuNonlinear: Estimate;
  /**
   * Mean per evaluated token of ‖SaeError‖², ‖LinearError‖², ‖NonlinearError‖² and 2·LinearError·NonlinearError.
   * saeError = linearError + nonlinearError + crossTerm exactly; in-sample the cross term is 0 (Pythagoras).
   */
  energy: { saeError: number; linearError: number; nonlinearError: number; crossTerm: number };
  /** Every metric of the x → SaeError regression on the evaluated rows. */
  errorPrediction: RegressionMetrics;
  /** Every metric of the x → ‖SaeError‖² regression. */
  normPrediction: RegressionMetrics;
  /** b*: [d, d] coefficients (and intercept). LinearError(x) = predict(linearMap, x). */
  linearMap: LeastSquaresFit;
  /** a*: [d, 1], the norm probe. */
  normProbe: LeastSquaresFit;
  bootstrap: { resamples: number; seed: number; level: number } | null;
  warnings: string[];
}

/** Collects warnings and forwards them to the caller's callback. */
export function warningSink(options: { onWarning?: (m: string) => void }) {
  const warnings: string[] = [];
  return { warnings, warn: (m: string) => { warnings.push(m); options.onWarning?.(m); } };
}

/**
 * The Gram of the activations on the rows `decomposeSaeError` fits on with these options, for every SAE of a family
 * on the same activations (pass it as `sharedGram`): one pass over x, no SAE.
 */
export function inputGramFor(activations: SaeInput["activations"], options: DecompositionOptions = {}): InputGram {
  const n = activations.rows, d = activations.cols;
  const { roles } = resolveRoles(n, options, (options.fitOn ?? "train") === "all");
  const gram = new InputGram(d, { native: options.native });
  const input: SaeInput = { activations, sae: { reconstruct: (x) => x } }; // never called: needSae is false
  for (const c of readSaeChunks(input, { rowsPerChunk: options.rowsPerChunk ?? 2048, roles, want: (r) => r === TRAIN,
    dropNonFinite: options.dropNonFinite ?? false, dropped: { count: 0 }, needSae: false })) gram.add(c.x, c.count);
  return gram;
}

/** Reference points of the bootstrap's weighted sums (shards of one evaluation share them): see AccumulatorBootstrap. */
export interface EvaluationShifts { error: Float64Array; norm: Float64Array; x: Float64Array }

/**
 * The decomposition's second pass: the fitted b* and a* (`joint`, outputs [SaeError | ‖SaeError‖²]) scored on
 * evaluated rows, with the per-token energies and, given resample weights, the bootstrap's weighted sums.
 */
export class HeldOutEvaluation {
  readonly error: RegressionAccumulator;
  readonly norm: RegressionAccumulator;
  readonly sae: RegressionAccumulator;
  readonly nonlinear: RegressionAccumulator;
  /** Σ‖SaeError‖², Σ‖LinearError‖², Σ‖NonlinearError‖², Σ 2·LinearError·NonlinearError. */
  eErr = 0; eLin = 0; eNl = 0; eCross = 0;
  private readonly native: boolean | undefined;

  constructor(readonly d: number, readonly joint: LinearMap, plan: { resamples: number; level: number } | null,
    options: { native?: boolean; shifts?: EvaluationShifts } = {}) {
    const boot = (perDim: boolean, shift?: Float64Array) => (plan ? { resamples: plan.resamples, level: plan.level, perDim, shift } : undefined);
    const native = this.native = options.native, sh = options.shifts;
    this.error = new RegressionAccumulator(d, { bootstrap: boot(true, sh?.error), native });
    this.norm = new RegressionAccumulator(1, { bootstrap: boot(true, sh?.norm), native });
    this.sae = new RegressionAccumulator(d, { bootstrap: boot(false, sh?.x), native });
    this.nonlinear = new RegressionAccumulator(d, { bootstrap: boot(false, sh?.x), native });
  }

  /** Scores a chunk of rows (x, Sae(x), SaeError; `w`: their resample counts, [resamples × count]). */
  add(c: Pick<SaeChunk, "count" | "x" | "sae" | "error">, w?: Float64Array): void {
    const k = c.count, d = this.d;
    const pred = predict(this.joint, c.x, k, { native: this.native });
    const lin = columns(pred, k, d + 1, 0, d), normPred = columns(pred, k, d + 1, d, 1);
    const saePlusLin = new Float64Array(k * d);
    for (let i = 0; i < k * d; i++) {
      const e = c.error[i], l = lin[i], nl = e - l;
      saePlusLin[i] = c.sae[i] + l;
      this.eErr += e * e; this.eLin += l * l; this.eNl += nl * nl; this.eCross += 2 * l * nl;
    }
    this.error.add(c.error, lin, k, w);
    this.norm.add(rowSquaredNorms(c.error, k, d), normPred, k, w);
    this.sae.add(c.x, c.sae, k, w);
    this.nonlinear.add(c.x, saePlusLin, k, w);
  }
}

/** The targets b* and a* are fitted to together: [SaeError (d) | ‖SaeError‖² (1)] per row of the chunk. */
export function jointTargets(c: SaeChunk, d: number): Float64Array {
  const y = new Float64Array(c.count * (d + 1));
  const norms = rowSquaredNorms(c.error, c.count, d);
  for (let t = 0; t < c.count; t++) {
    y.set(c.error.subarray(t * d, t * d + d), t * (d + 1));
    y[t * (d + 1) + d] = norms[t];
  }
  return y;
}

/** Decomposes several SAEs' errors on the same activations, computing XᵀX once (results as `decomposeSaeError`'s). */
export function decomposeSaeFamily(activations: SaeInput["activations"], saes: SaeInput["sae"][], options: DecompositionOptions = {}): DecompositionResult[] {
  const sharedGram = saes.length > 1 && !options.dropNonFinite ? inputGramFor(activations, options) : undefined;
  return saes.map((sae) => decomposeSaeError({ activations, sae }, { ...options, sharedGram }));
}

/** Decomposes the SAE's error into its linear and nonlinear parts and reports the paper's metrics. */
export function decomposeSaeError(given: SaeInput | ModelSaeInput, options: DecompositionOptions = {}): DecompositionResult {
  const input = resolveSaeInput(given);
  const d = checkSaeInput(input);
  const n = input.activations.rows;
  const intercept = options.intercept ?? true;
  const fitOn = options.fitOn ?? "train";
  const evaluatedOn = options.evaluateOn ?? (fitOn === "all" ? "all" : "test");
  if (fitOn === "all" && evaluatedOn === "test") {
    throw new InputError("evaluateOn", "fitting on all rows leaves no test rows; evaluate on 'all' (in-sample) instead");
  }
  const { roles, seed } = resolveRoles(n, options, fitOn === "all");
  const planned = countRoles(roles).train;
  if (planned < d + (intercept ? 1 : 0)) {
    throw new InputError("trainRows", `${planned} training rows cannot determine b* for d = ${d}${intercept ? " with an intercept" : ""}`);
  }
  const rowsPerChunk = options.rowsPerChunk ?? 2048, dropNonFinite = options.dropNonFinite ?? false, native = options.native;
  const { warnings, warn } = warningSink(options);
  const dropped = { count: 0 };
  const progress = passProgress(options.progress, n, 2, "decomposition");

  // Pass 1: b* and a* from one Gram: outputs [SaeError (d) | ‖SaeError‖² (1)].
  const ne = new NormalEquations(d, d + 1, { native, shared: dropNonFinite ? undefined : options.sharedGram });
  for (const c of readSaeChunks(input, { rowsPerChunk, roles, want: (r) => r === TRAIN, dropNonFinite, dropped, progress: progress(0, "fitting b*") })) {
    ne.add(c.x, jointTargets(c, d), c.count);
  }
  if (dropped.count > 0) warn(`dropped ${dropped.count} row(s) holding NaN or ±Inf`);
  const joint = ne.solve({ intercept, rankTolerance: options.rankTolerance, onWarning: warn });
  joint.droppedNonFinite = dropped.count;
  const linearMap = selectOutputs(joint, 0, d), normProbe = selectOutputs(joint, d, d + 1);

  // Pass 2: evaluation.
  const wanted = evaluatedOn === "all" ? (r: number) => r !== NO_ROLE : (r: number) => r === TEST;
  let evalRows = 0;
  for (const r of roles) if (wanted(r)) evalRows++;
  if (evalRows === 0) throw new InputError("testRows", "no rows are left to evaluate on");
  const plan = bootstrapPlan(options.bootstrap);
  const resampler = plan ? new MultinomialResampler(evalRows, plan.resamples, plan.seed) : null;
  const evaluation = new HeldOutEvaluation(d, joint, plan, { native });
  for (const c of readSaeChunks(input, { rowsPerChunk, roles, want: wanted, dropNonFinite, dropped, progress: progress(1, "evaluating") })) {
    evaluation.add(c, resampler ? resampler.next(c.count) : undefined);
  }
  const errorPrediction = evaluation.error.result(), normPrediction = evaluation.norm.result();
  const sae = evaluation.sae.result(), nonlinear = evaluation.nonlinear.result();
  const { eErr, eLin, eNl, eCross } = evaluation;
  const estimate = (value: number, interval: Estimate["interval"] | undefined): Estimate =>
    withSummary({ value, interval: interval ?? null }, (e) => [formatEstimate(e)]);
  return withSummary<DecompositionResult>({
    intercept, d, fitOn, evaluatedOn,
    rows: { total: n, train: joint.rows, evaluated: errorPrediction.rows, droppedNonFinite: dropped.count, seed },
    vectorR2: estimate(errorPrediction.r2MeanOverDims, errorPrediction.intervals?.r2MeanOverDims),
    normR2: estimate(normPrediction.r2 as number, normPrediction.intervals?.r2),
    fvu: estimate(sae.fvu, sae.intervals?.fvu),
    fvuNonlinear: estimate(nonlinear.fvu, nonlinear.intervals?.fvu),
    energy: { saeError: eErr / evalRows, linearError: eLin / evalRows, nonlinearError: eNl / evalRows, crossTerm: eCross / evalRows },
    errorPrediction, normPrediction, linearMap, normProbe,
    bootstrap: plan, warnings,
  }, decompositionSummary);
}

/** The printed form of a decomposition: at most five lines. */
export function decompositionSummary(r: DecompositionResult): string[] {
  const e = r.energy, f = (v: number) => formatNumber(v, 3);
  const level = r.bootstrap ? ` (${Math.round(r.bootstrap.level * 100)} % intervals)` : "";
  return [
    `Decomposition of SaeError: d ${r.d}, fit on ${r.rows.train} ${r.fitOn === "all" ? "(all)" : "training"} rows, evaluated on ${r.rows.evaluated} ${r.evaluatedOn} rows${level}`,
    `  fvu ${formatEstimate(r.fvu)}; fvu_nonlinear ${formatEstimate(r.fvuNonlinear)}`,
    `  vector R² ${formatEstimate(r.vectorR2)}; norm R² ${formatEstimate(r.normR2)}`,
    `  per token: ‖SaeError‖² ${f(e.saeError)} = linear ${f(e.linearError)} + nonlinear ${f(e.nonlinearError)} + cross ${f(e.crossTerm)}`,
    ...(r.warnings.length ? [`  ${r.warnings.length} warning(s): ${r.warnings[0]}`] : []),
  ];
}
