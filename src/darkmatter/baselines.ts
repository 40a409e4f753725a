// Norm-prediction baselines (paper §3.5): how well does x predict the squared SAE error norm compared with scalar
// features a skeptic might propose? Each predictor is fitted with an intercept on the training rows and scored by
// test R², except token identity (the mean target per token id), which the paper scores in-sample on every row.
import { InputError } from "../errors";
import { bootstrapPlan, MultinomialResampler } from "../linalg/bootstrap";
import { NormalEquations, predict } from "../linalg/least-squares";
import { RegressionAccumulator } from "../linalg/metrics";
import { NO_ROLE, TEST, TRAIN } from "../linalg/split";
import { checkSaeInput, countRoles, Estimate, passProgress, readSaeChunks, resolveRoles, rowSquaredNorms, SaeInput } from "./common";
import { AnalysisOptions, RowAccounting, warningSink } from "./decomposition";

export interface BaselineInput extends SaeInput {
  /** Token id per row (for the token-identity baseline). */
  tokens?: ArrayLike<number>;
  /** The model's next-token loss per row. */
  modelLoss?: ArrayLike<number>;
  /** The SAE's L0 (active latents) per row. */
  l0?: ArrayLike<number>;
}

export const BASELINES = ["x", "tokenIdentity", "modelLoss", "l0", "xNorm"] as const;
export type BaselineName = (typeof BASELINES)[number];

export interface BaselineResult {
  /** Always true: the paper fits every baseline with an intercept. */
  intercept: true;
  d: number;
  rows: RowAccounting;
  /**
   * `r2` of predicting ‖SaeError‖² from each predictor; null for predictors whose data was not given. Test R² for
   * all but tokenIdentity, which is in-sample over every non-dropped row and has no interval.
   */
  baselines: Record<BaselineName, Estimate | null>;
  bootstrap: { resamples: number; seed: number; level: number } | null;
  warnings: string[];
}

function checkPerRow(values: ArrayLike<number> | undefined, name: string, rows: number, integer: boolean): void {
  if (values === undefined) return;
  if (values.length !== rows) throw new InputError(name, `has ${values.length} values, the activations have ${rows} rows`);
  if (integer) {
    for (let i = 0; i < rows; i++) {
      if (!Number.isSafeInteger(values[i]) || values[i] < 0) throw new InputError(name, `row ${i}: ${values[i]} is not a token id`);
    }
  }
}

/** Runs the §3.5 comparison: x (with intercept) against token identity, model loss, L0 and ‖x‖ as predictors of ‖SaeError‖². */
export function normPredictionBaselines(input: BaselineInput, options: AnalysisOptions = {}): BaselineResult {
  const d = checkSaeInput(input);
  const n = input.activations.rows;
  checkPerRow(input.tokens, "tokens", n, true);
  checkPerRow(input.modelLoss, "modelLoss", n, false);
  checkPerRow(input.l0, "l0", n, false);
  const { roles, seed } = resolveRoles(n, options);
  const rowsPerChunk = options.rowsPerChunk ?? 2048, dropNonFinite = options.dropNonFinite ?? false, native = options.native;
  const { warnings, warn } = warningSink(options);
  const dropped = { count: 0 };
  // Non-finite scalar features: an error, or the row is dropped from every baseline (so all share the same rows).
  for (const [name, values] of [["modelLoss", input.modelLoss], ["l0", input.l0]] as const) {
    if (!values) continue;
    for (let i = 0; i < n; i++) {
      if (roles[i] === NO_ROLE || Number.isFinite(values[i])) continue;
      if (!dropNonFinite) throw new InputError(name, `row ${i} is not finite (pass dropNonFinite to skip such rows and count them)`);
      roles[i] = NO_ROLE;
      dropped.count++;
    }
  }
  if (countRoles(roles).train < d + 1) throw new InputError("trainRows", `too few training rows for d = ${d}`);
  const progress = passProgress(options.progress, n, 2, "norm baselines");

  // Pass 1: the target and ‖x‖ for every row; x → target on the training rows.
  const target = new Float64Array(n), xNorm = new Float64Array(n);
  const ne = new NormalEquations(d, 1, { native });
  for (const c of readSaeChunks(input, { rowsPerChunk, roles, want: (r) => r !== NO_ROLE, dropNonFinite, dropped, progress: progress(0, "targets") })) {
    const t = rowSquaredNorms(c.error, c.count, d), xn = rowSquaredNorms(c.x, c.count, d);
    const train: number[] = [];
    c.rowIds.forEach((g, i) => {
      target[g] = t[i];
      xNorm[g] = Math.sqrt(xn[i]);
      if (roles[g] === TRAIN) train.push(i);
    });
    if (train.length > 0) {
      ne.add(c.x, t, c.count, train);
    }
  }
  if (dropped.count > 0) warn(`dropped ${dropped.count} row(s) holding NaN or ±Inf`);
  const probe = ne.solve({ intercept: true, rankTolerance: options.rankTolerance, onWarning: warn });

  let evalRows = 0;
  for (const r of roles) if (r === TEST) evalRows++;
  if (evalRows === 0) throw new InputError("testRows", "no rows are left to evaluate on");
  const plan = bootstrapPlan(options.bootstrap);
  // Every baseline is scored on the same test rows with the same resamples (same seed), so intervals are paired.
  const accumulator = () => new RegressionAccumulator(1, {
    native, bootstrap: plan ? { resamples: plan.resamples, level: plan.level, perDim: true } : undefined,
  });
  const resampler = () => (plan ? new MultinomialResampler(evalRows, plan.resamples, plan.seed) : null);
  const estimate = (acc: RegressionAccumulator): Estimate => {
    const r = acc.result();
    return { value: r.r2 as number, interval: r.intervals?.r2 ?? null };
  };

  // Pass 2: x's test predictions (the SAE is not needed again: the targets are stored).
  const xAcc = accumulator(), xResampler = resampler();
  for (const c of readSaeChunks(input, { rowsPerChunk, roles, want: (r) => r === TEST, dropNonFinite, dropped, needSae: false, progress: progress(1, "evaluating") })) {
    const pred = predict(probe, c.x, c.count, { native });
    const t = Float64Array.from(c.rowIds, (g) => target[g]);
    xAcc.add(t, pred, c.count, xResampler ? xResampler.next(c.count) : undefined);
  }

  // Scalar predictors: one-feature least squares with an intercept, in memory.
  const scalar = (feature: ArrayLike<number>, name: string): Estimate => {
    const fit = new NormalEquations(1, 1, { native: false });
    const fx: number[] = [], fy: number[] = [];
    for (let i = 0; i < n; i++) if (roles[i] === TRAIN) { fx.push(feature[i]); fy.push(target[i]); }
    fit.add(Float64Array.from(fx), Float64Array.from(fy), fx.length);
    const model = fit.solve({ intercept: true, onWarning: (m) => warn(`${name} baseline: ${m}`) });
    const acc = accumulator(), rs = resampler();
    const chunk = 4096;
    let tx: number[] = [], ty: number[] = [];
    const flush = () => {
      if (tx.length === 0) return;
      acc.add(Float64Array.from(ty), predict(model, Float64Array.from(tx), tx.length, { native: false }), tx.length, rs ? rs.next(tx.length) : undefined);
      tx = []; ty = [];
    };
    for (let i = 0; i < n; i++) {
      if (roles[i] !== TEST) continue;
      tx.push(feature[i]); ty.push(target[i]);
      if (tx.length === chunk) flush();
    }
    flush();
    return estimate(acc);
  };

  let tokenIdentity: Estimate | null = null;
  if (input.tokens) {
    const sums = new Map<number, { sum: number; count: number }>();
    for (let i = 0; i < n; i++) {
      if (roles[i] === NO_ROLE) continue;
      const s = sums.get(input.tokens[i]) ?? { sum: 0, count: 0 };
      s.sum += target[i]; s.count++;
      sums.set(input.tokens[i], s);
    }
    const ys: number[] = [], ps: number[] = [];
    for (let i = 0; i < n; i++) {
      if (roles[i] === NO_ROLE) continue;
      const s = sums.get(input.tokens[i])!;
      ys.push(target[i]); ps.push(s.sum / s.count);
    }
    const acc = new RegressionAccumulator(1, { native });
    acc.add(ys, ps, ys.length);
    tokenIdentity = { value: acc.result().r2 as number, interval: null };
  }

  return {
    intercept: true, d,
    rows: { total: n, train: probe.rows, evaluated: evalRows, droppedNonFinite: dropped.count, seed },
    baselines: {
      x: estimate(xAcc),
      tokenIdentity,
      modelLoss: input.modelLoss ? scalar(input.modelLoss, "modelLoss") : null,
      l0: input.l0 ? scalar(input.l0, "l0") : null,
      xNorm: scalar(xNorm, "xNorm"),
    },
    bootstrap: plan, warnings,
  };
}
