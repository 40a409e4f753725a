// Predicting one SAE's errors from other components (paper §3.11, v1 Fig. 10b `predicting_from_recons`, TMLR §6.2):
// how much of SaeError, LinearError and NonlinearError of a target SAE is a linear function of another component's
// SAE reconstruction: the same layer's Sae(x), the previous residual layer's, the same layer's MLP output and the
// attention output (hook_z flattened in the paper). [SEC] reports "up to 50 %" of the nonlinear error's variance.
//
// Targets, from the target layer's x and Sae(x): SaeError = x − Sae(x), LinearError = predict(b*, x) with b* fitted
// x → SaeError on the training rows (or given), NonlinearError = SaeError − LinearError. Each predictor is any row
// source aligned token by token with the target's activations (the paper plots Sae_src(x_src); `componentRows` turns
// a source layer's SaeInput into its reconstructions, activations or errors). For every (predictor, target) pair:
// OLS on the training rows, test `r2_mean_over_dims`, with bootstrap intervals over the test tokens (the fit held
// fixed). One Gram per predictor serves its three targets (3·d outputs), so the cost is one streaming pass per stage.
import { InputError } from "../errors";
import { bootstrapPlan, MultinomialResampler } from "../linalg/bootstrap";
import { gatherRows, LeastSquaresFit, NormalEquations, predict } from "../linalg/least-squares";
import { RegressionAccumulator } from "../linalg/metrics";
import { generatedSource, mapSource, RowChunk, RowSource, rowIsFinite, zipChunks } from "../linalg/rows";
import { NO_ROLE, TEST, TRAIN } from "../linalg/split";
import { checkSaeInput, columns, countRoles, Estimate, resolveRoles, SaeInput } from "./common";
import { AnalysisOptions, RowAccounting, warningSink } from "./decomposition";

export const CROSS_TARGETS = ["saeError", "linearError", "nonlinearError"] as const;
export type CrossTarget = (typeof CROSS_TARGETS)[number];

/** A predictor: rows aligned with the target's tokens (row t of every source is the same token). */
export interface CrossSource {
  /** Bar label, e.g. "residual", "previous residual", "MLP", "attention". */
  name: string;
  rows: RowSource;
}

export interface CrossComponentInput {
  /** The target layer's activations and SAE, whose errors are predicted. */
  target: SaeInput;
  sources: readonly CrossSource[];
}

export interface CrossComponentOptions extends AnalysisOptions {
  /** Intercept in the predictor → target fits (default true, the paper's text; its script fits without). */
  intercept?: boolean;
  /** b* of the target SAE (x → SaeError); default: fitted here on the training rows. */
  linearMap?: LeastSquaresFit;
  /** Intercept of b* when fitted here (default: `intercept`). */
  linearMapIntercept?: boolean;
}

/** One bar: how well `source` predicts `target` on the test rows. */
export interface CrossComponentCell {
  source: string;
  target: CrossTarget;
  /** Test `r2_mean_over_dims` (the paper's R²), with its bootstrap interval. */
  r2: Estimate;
  /** Test `fvu` of the same prediction (1 − the variance-weighted R²). */
  fvu: number;
}

export interface CrossComponentResult {
  intercept: boolean;
  d: number;
  rows: RowAccounting;
  sources: { name: string; cols: number }[];
  targets: CrossTarget[];
  /** Source-major: cells[s · 3 + k] is source s, target CROSS_TARGETS[k] (a grouped bar chart's data). */
  cells: CrossComponentCell[];
  /** r2[source][target] = the cell's point estimate. */
  r2: Record<string, Record<CrossTarget, number>>;
  linearMap: { source: "given" | "train"; intercept: boolean };
  bootstrap: { resamples: number; seed: number; level: number } | null;
  warnings: string[];
}

/** A component's rows from its SAE input: Sae(x) (the paper's predictor), x itself, or SaeError(x) = x − Sae(x). */
export function componentRows(input: SaeInput, use: "reconstruction" | "activations" | "error" = "reconstruction", name?: string): RowSource {
  const d = checkSaeInput(input), x = input.activations, s = input.sae;
  const label = name ?? `${x.name ?? "activations"} ${use}`;
  if (use === "activations") return x;
  if (!["reconstruction", "error"].includes(use)) throw new InputError("use", `must be reconstruction, activations or error, got ${String(use)}`);
  if ("reconstruct" in s) {
    return mapSource(x, d, (chunk, rows) => {
      const out = s.reconstruct(Float32Array.from(chunk), rows);
      if (!out || out.length !== rows * d) throw new InputError(label, `reconstruct returned ${out ? out.length : "nothing"} values for ${rows} rows of d = ${d}`);
      return use === "error" ? Float32Array.from(chunk, (v, i) => v - out[i]) : out;
    }, label);
  }
  const given = "reconstructions" in s ? s.reconstructions : s.errors;
  if ((use === "reconstruction") === ("reconstructions" in s)) return given;
  // The other one is x minus the given one (x − Sae = SaeError, x − SaeError = Sae).
  return generatedSource(x.rows, d, function* (rowsPerChunk: number) {
    for (const { data } of zipChunks([x, given], rowsPerChunk)) yield Float64Array.from(data[0], (v, i) => v - data[1][i]);
  }, label);
}

/** Predicts the target SAE's SaeError, LinearError and NonlinearError from each source; see the file comment. */
export function crossComponentPrediction(input: CrossComponentInput, options: CrossComponentOptions = {}): CrossComponentResult {
  const target = input.target, d = checkSaeInput(target), n = target.activations.rows;
  const sources = input.sources;
  if (!sources || sources.length === 0) throw new InputError("sources", "give at least one predictor");
  const names = new Set<string>();
  for (const s of sources) {
    if (!s || typeof s.name !== "string" || s.name === "") throw new InputError("sources", "every source needs a name");
    if (names.has(s.name)) throw new InputError("sources", `the name '${s.name}' is used twice`);
    names.add(s.name);
    if (s.rows.rows !== n) throw new InputError(s.rows.name ?? s.name, `has ${s.rows.rows} rows, the target activations have ${n}`);
  }
  const intercept = options.intercept ?? true;
  const given = options.linearMap;
  if (given && (given.inputs !== d || given.outputs !== d)) {
    throw new InputError("linearMap", `maps ${given.inputs} → ${given.outputs} dims, the target activations have d = ${d}`);
  }
  const mapIntercept = given ? given.intercept !== null : options.linearMapIntercept ?? intercept;
  const { roles, seed } = resolveRoles(n, options);
  const train = countRoles(roles).train;
  const widest = Math.max(given ? 0 : d, ...sources.map((s) => s.rows.cols));
  if (train < widest + 1) throw new InputError("trainRows", `${train} training rows cannot determine fits with ${widest} inputs`);
  const rowsPerChunk = options.rowsPerChunk ?? 2048, dropNonFinite = options.dropNonFinite ?? false, native = options.native;
  const { warnings, warn } = warningSink(options);
  let dropped = 0;
  const passes = given ? 2 : 3;
  let pass = 0;

  // The zipped sources: activations, the target SAE's precomputed rows (if any), then the predictors.
  const ts = target.sae;
  const saeRows = "reconstructions" in ts ? ts.reconstructions : "errors" in ts ? ts.errors : null;
  const all: RowSource[] = [target.activations, ...(saeRows ? [saeRows] : []), ...sources.map((s) => s.rows)];
  const labels = all.map((s, i) => s.name ?? (i === 0 ? "target activations" : saeRows && i === 1 ? "target SAE" : sources[i - (saeRows ? 2 : 1)].name));
  const offset = saeRows ? 2 : 1;

  interface Chunk { k: number; x: Float64Array; error: Float64Array; predictors: Float64Array[] }
  function* read(want: (role: number) => boolean, needError: boolean): Generator<Chunk> {
    for (const { data, start, rows } of zipChunks(all, rowsPerChunk)) {
      const ids: number[] = [];
      for (let t = 0; t < rows; t++) {
        const g = start + t;
        if (roles[g] === NO_ROLE) continue;
        const bad = data.findIndex((c, i) => !rowIsFinite(c, t, all[i].cols));
        if (bad >= 0) {
          if (!dropNonFinite) throw new InputError(labels[bad], `row ${g} holds NaN or ±Inf (pass dropNonFinite to skip such rows and count them)`);
          roles[g] = NO_ROLE;
          dropped++;
          continue;
        }
        if (want(roles[g])) ids.push(t);
      }
      options.progress?.(pass * n + start + rows, passes * n, "cross-component prediction");
      if (ids.length === 0) continue;
      const k = ids.length, x = gatherRows(data[0], d, ids);
      let error = new Float64Array(0);
      if (needError) {
        error = new Float64Array(k * d);
        if ("reconstruct" in ts) {
          const sae = ts.reconstruct(Float32Array.from(x), k);
          if (!sae || sae.length !== k * d) throw new InputError("sae.reconstruct", `returned ${sae ? sae.length : "nothing"} values for ${k} rows of d = ${d}`);
          for (let i = 0; i < k * d; i++) error[i] = x[i] - sae[i];
          for (let t = 0; t < k; t++) {
            if (!rowIsFinite(error, t, d)) throw new InputError("sae.reconstruct", `Sae(x) of row ${start + ids[t]} is not finite although x is`);
          }
        } else {
          const other = gatherRows(data[1], d, ids);
          if ("errors" in ts) error = other;
          else for (let i = 0; i < k * d; i++) error[i] = x[i] - other[i];
        }
      }
      const predictors = sources.map((s, i) => gatherRows(data[offset + i] as RowChunk, s.rows.cols, ids));
      yield { k, x, error, predictors };
    }
  }

  // Stage 1: b* (x → SaeError) on the training rows, unless given.
  let linearMap: LeastSquaresFit;
  if (given) {
    linearMap = given;
  } else {
    const ne = new NormalEquations(d, d, { native });
    for (const c of read((r) => r === TRAIN, true)) ne.add(c.x, c.error, c.k);
    linearMap = ne.solve({ intercept: mapIntercept, rankTolerance: options.rankTolerance, onWarning: (m) => warn(`b*: ${m}`) });
    pass++;
  }

  /** [SaeError | LinearError | NonlinearError] per row: k × 3d. */
  const targets = (c: Chunk): Float64Array => {
    const lin = predict(linearMap, c.x, c.k, { native });
    const y = new Float64Array(c.k * 3 * d);
    for (let t = 0; t < c.k; t++) {
      for (let j = 0; j < d; j++) {
        const e = c.error[t * d + j], l = lin[t * d + j], o = t * 3 * d + j;
        y[o] = e; y[o + d] = l; y[o + 2 * d] = e - l;
      }
    }
    return y;
  };

  // Stage 2: one fit per predictor, all three targets at once.
  const equations = sources.map((s) => new NormalEquations(s.rows.cols, 3 * d, { native }));
  for (const c of read((r) => r === TRAIN, true)) {
    const y = targets(c);
    equations.forEach((ne, i) => ne.add(c.predictors[i], y, c.k));
  }
  pass++;
  if (dropped > 0) warn(`dropped ${dropped} row(s) holding NaN or ±Inf`);
  const fits = equations.map((ne, i) => ne.solve({ intercept, rankTolerance: options.rankTolerance, onWarning: (m) => warn(`${sources[i].name}: ${m}`) }));

  // Stage 3: test metrics per (predictor, target), with a shared resample per test token.
  let testRows = 0;
  for (const r of roles) if (r === TEST) testRows++;
  if (testRows === 0) throw new InputError("testRows", "no rows are left to evaluate on");
  const plan = bootstrapPlan(options.bootstrap);
  const resampler = plan ? new MultinomialResampler(testRows, plan.resamples, plan.seed) : null;
  const accs = sources.map(() => CROSS_TARGETS.map(() => new RegressionAccumulator(d, {
    native, bootstrap: plan ? { resamples: plan.resamples, level: plan.level, perDim: true } : undefined,
  })));
  for (const c of read((r) => r === TEST, true)) {
    const y = targets(c), w = resampler ? resampler.next(c.k) : undefined;
    fits.forEach((fit, i) => {
      const pred = predict(fit, c.predictors[i], c.k, { native });
      CROSS_TARGETS.forEach((_, k) => accs[i][k].add(columns(y, c.k, 3 * d, k * d, d), columns(pred, c.k, 3 * d, k * d, d), c.k, w));
    });
  }

  const cells: CrossComponentCell[] = [];
  const r2: Record<string, Record<CrossTarget, number>> = {};
  sources.forEach((s, i) => {
    r2[s.name] = {} as Record<CrossTarget, number>;
    CROSS_TARGETS.forEach((t, k) => {
      const m = accs[i][k].result();
      cells.push({ source: s.name, target: t, r2: { value: m.r2MeanOverDims, interval: m.intervals?.r2MeanOverDims ?? null }, fvu: m.fvu });
      r2[s.name][t] = m.r2MeanOverDims;
    });
  });
  return {
    intercept, d,
    rows: { total: n, train: fits[0].rows, evaluated: testRows, droppedNonFinite: dropped, seed },
    sources: sources.map((s) => ({ name: s.name, cols: s.rows.cols })),
    targets: [...CROSS_TARGETS], cells, r2,
    linearMap: { source: given ? "given" : "train", intercept: mapIntercept },
    bootstrap: plan, warnings,
  };
}
