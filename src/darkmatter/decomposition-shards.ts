// The decomposition of SaeError (decomposition.ts) on a shard of the rows, and finished from the merged shards.
//
// A shard [start, end) keeps the sufficient statistics of both of the decomposition's regressions: the normal
// equations x → [SaeError | ‖SaeError‖²] on its fitting rows (what b* and a* are solved from) and the same sums, plus
// Σy², on its evaluated rows. Every held-out metric is a quadratic in the fitted map, so these sums give the point
// estimates exactly once the merged fit is known: SSE_j = Σ(y_j − x̃β̃_j)² = Σy_j² − 2β̃_jᵀX̃ᵀy_j + β̃_jᵀX̃ᵀX̃β̃_j.
//
// Accuracy: the expansion cancels down to Σ(y − ŷ)², so a metric agrees with the single run's to about 1e-16 of
// the sums it is computed from (Σ(y − ȳ)²): to ~1e-12 relative for any SAE whose error is not almost exactly
// linear; a quantity that is 0 in exact arithmetic (the in-sample cross term) agrees only in absolute terms.
//
// What makes a merge equal a single run: a row's role comes from the global split (its index and the seed), and
// the SAE sees the same batches as in a single run. Sae(x) in float32 depends on the batch it is computed in (BLAS
// blocking), so a shard reads the whole chunks of the single run's chunk grid that its range touches and runs the
// SAE on each chunk's compacted rows of one role, as decomposeSaeError does, keeping only the rows in its range.
import { InputError } from "../errors";
import { Progress } from "../progress";
import { Interval } from "../linalg/bootstrap";
import { getKernels } from "../linalg/kernels";
import { LeastSquaresFit, mergeNormalEquationStates, NormalEquations, NormalEquationsState, selectOutputs } from "../linalg/least-squares";
import { bootstrapIntervals, constantMask, regressionMetrics } from "../linalg/metrics";
import { sliceRows } from "../linalg/rows";
import { NO_ROLE, TEST, TRAIN } from "../linalg/split";
import { formatEstimate, withSummary } from "../inspect";
import {
  checkSaeInput, countRoles, Estimate, ModelSaeInput, passProgress, readSaeChunks, resolveRoles, resolveSaeInput, SaeChunk, SaeInput, SaeOutputs,
  SplitChoice,
} from "./common";
import { decompositionSummary, DecompositionResult, jointTargets, warningSink } from "./decomposition";

export interface ShardRange { start: number; end: number }

/** Everything that decides a shard's numbers besides its rows; shards merge only when these agree exactly. */
export interface ShardSettings {
  rows: number;
  d: number;
  intercept: boolean;
  fitOn: "train" | "all";
  evaluatedOn: "test" | "all";
  /** Split seed (−1 in-sample) and the split's fitting and evaluated row counts over all rows. */
  seed: number;
  trainRows: number;
  testRows: number;
  dropNonFinite: boolean;
  /** The chunk grid the SAE's batches follow. */
  rowsPerChunk: number;
}

export interface DecompositionShard {
  settings: ShardSettings;
  range: ShardRange;
  /** x → [SaeError | ‖SaeError‖²] on the fitting rows of the range (target squares tracked). */
  fit: NormalEquationsState;
  /** The same on the evaluated rows; null when those are the fitting rows (in-sample). */
  evaluated: NormalEquationsState | null;
  droppedNonFinite: number;
}

export interface ShardOptions extends SplitChoice {
  intercept?: boolean;
  fitOn?: "train" | "all";
  rowsPerChunk?: number;
  dropNonFinite?: boolean;
  native?: boolean;
  progress?: Progress;
  /** Called for each chunk a pass reads, with the chunk's indices of the rows inside the range (for side sums). */
  observe?: (chunk: SaeChunk, own: readonly number[]) => void;
}

/** The rows [a, b) of an SAE input (activations and precomputed SAE outputs alike). */
function sliceSaeInput(input: SaeInput, a: number, b: number): SaeInput {
  const s = input.sae;
  const sae: SaeOutputs = "reconstruct" in s ? s : "reconstructions" in s ? { reconstructions: sliceRows(s.reconstructions, a, b) }
    : { errors: sliceRows(s.errors, a, b) };
  return { activations: sliceRows(input.activations, a, b), sae };
}

/** How a shard reads its rows: the global roles, the single run's whole chunks [a, b) around the range, settings. */
export interface ShardPlan {
  input: SaeInput;
  settings: ShardSettings;
  range: ShardRange;
  /** Roles of all rows, from the split of all rows (rows dropped as non-finite become NO_ROLE as they are read). */
  roles: Uint8Array;
  a: number;
  b: number;
  /** Rows [a, b) of the input and their roles (a view of `roles`). */
  sliced: SaeInput;
  local: Uint8Array;
}

/** The plan of a shard of a decomposeSaeError run with these options (checks the range and the split). */
export function shardPlan(given: SaeInput | ModelSaeInput, range: ShardRange, options: ShardOptions = {}): ShardPlan {
  const input = resolveSaeInput(given);
  const d = checkSaeInput(input);
  const n = input.activations.rows;
  const { start, end } = range;
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end <= start || end > n) {
    throw new InputError("rows", `[${start}, ${end}) is not a non-empty range of the ${n} rows`);
  }
  const intercept = options.intercept ?? true, fitOn = options.fitOn ?? "train";
  const { roles, seed } = resolveRoles(n, options, fitOn === "all");
  const counts = countRoles(roles);
  if (counts.train < d + (intercept ? 1 : 0)) { // as decomposeSaeError: fail in every shard, not only at the merge
    throw new InputError("trainRows", `${counts.train} training rows cannot determine b* for d = ${d}${intercept ? " with an intercept" : ""}`);
  }
  const rowsPerChunk = options.rowsPerChunk ?? 2048, dropNonFinite = options.dropNonFinite ?? false;
  if (!Number.isSafeInteger(rowsPerChunk) || rowsPerChunk < 1) throw new InputError("rowsPerChunk", `must be a positive integer, got ${rowsPerChunk}`);
  const a = Math.floor(start / rowsPerChunk) * rowsPerChunk, b = Math.min(n, Math.ceil(end / rowsPerChunk) * rowsPerChunk);
  return {
    input, range: { start, end }, roles, a, b, sliced: sliceSaeInput(input, a, b), local: roles.subarray(a, b),
    settings: {
      rows: n, d, intercept, fitOn, evaluatedOn: fitOn === "all" ? "all" : "test", seed, trainRows: counts.train,
      testRows: fitOn === "all" ? counts.train : counts.test, dropNonFinite, rowsPerChunk,
    },
  };
}

/**
 * Reads the plan's chunks holding rows of one role, as decomposeSaeError's pass over that role does (same chunks,
 * same SAE batches), with the chunk's indices of the rows inside the range.
 */
export function* shardChunks(plan: ShardPlan, role: number, progress?: (rowsRead: number) => void): Generator<{ chunk: SaeChunk; own: number[] }> {
  const { a, range: { start, end } } = plan;
  for (const chunk of readSaeChunks(plan.sliced, { rowsPerChunk: plan.settings.rowsPerChunk, roles: plan.local, want: (r) => r === role,
    dropNonFinite: plan.settings.dropNonFinite, dropped: { count: 0 }, progress })) {
    const own: number[] = [];
    for (let t = 0; t < chunk.count; t++) { const g = a + chunk.rowIds[t]; if (g >= start && g < end) own.push(t); }
    yield { chunk, own };
  }
}

/** The sufficient statistics of rows [start, end) of a decomposeSaeError run with these options. */
export function decompositionShard(given: SaeInput | ModelSaeInput, range: ShardRange, options: ShardOptions = {}): DecompositionShard {
  const plan = shardPlan(given, range, options);
  const { settings, a } = plan, d = settings.d;
  const before = plan.local.slice();
  const progress = passProgress(options.progress, plan.b - a, settings.fitOn === "all" ? 1 : 2, `decomposition of rows ${range.start}–${range.end}`);
  const pass = (role: number, index: number, what: string): NormalEquationsState => {
    const ne = new NormalEquations(d, d + 1, { native: options.native, targetSquares: true });
    for (const { chunk, own } of shardChunks(plan, role, progress(index, what))) {
      options.observe?.(chunk, own);
      if (own.length > 0) ne.add(chunk.x, jointTargets(chunk, d), chunk.count, own);
    }
    return ne.state();
  };
  const fit = pass(TRAIN, 0, "fitting rows");
  const evaluated = settings.fitOn === "all" ? null : pass(TEST, 1, "evaluated rows");
  let droppedNonFinite = 0;
  for (let g = range.start; g < range.end; g++) if (before[g - a] !== NO_ROLE && plan.local[g - a] === NO_ROLE) droppedNonFinite++;
  return { settings, range: { ...plan.range }, fit, evaluated, droppedNonFinite };
}

/** Same settings (named by `name` in the error), or an InputError saying which differ. */
export function checkSettings(name: string, s: ShardSettings, other: string, o: ShardSettings): void {
  const diff = (Object.keys(o) as (keyof ShardSettings)[]).filter((k) => s[k] !== o[k]);
  if (diff.length > 0) {
    throw new InputError(name, `was computed with other settings than ${other} (${diff.map((k) => `${k} ${JSON.stringify(s[k])} vs ${JSON.stringify(o[k])}`).join(", ")})`);
  }
}

/** Named ranges sorted by start, checked to cover [0, rows) exactly once: overlaps and gaps name their files. */
export function checkCoverage<T extends { name: string; range: ShardRange }>(items: readonly T[], rows: number): T[] {
  const sorted = [...items].sort((p, q) => p.range.start - q.range.start || p.range.end - q.range.end);
  let covered = 0, prev: string | null = null;
  for (const s of sorted) {
    const { start, end } = s.range;
    if (start < covered) throw new InputError(s.name, `rows [${start}, ${end}) overlap ${prev}'s (which end at ${covered})`);
    if (start > covered) throw new InputError(s.name, `rows [${covered}, ${start}) are in no shard (a gap ${prev ? `after ${prev}` : "at the start"})`);
    covered = end;
    prev = s.name;
  }
  if (covered !== rows) throw new InputError(prev as string, `rows [${covered}, ${rows}) are in no shard (a gap at the end; the activations have ${rows} rows)`);
  return sorted;
}

/** A shard known by its settings and range, its sums read only when it is merged (from a file, one at a time). */
export interface LazyShard<T> {
  /** Names the shard in errors (its file). */
  name: string;
  settings: ShardSettings;
  range: ShardRange;
  load(): T;
}

/** A shard in memory as a LazyShard. */
export function loadedShard<T extends { settings: ShardSettings; range: ShardRange }>(name: string, shard: T): LazyShard<T> {
  return { name, settings: shard.settings, range: shard.range, load: () => shard };
}

/**
 * Checks that the shards share their settings and cover every row exactly once, then loads them one at a time in
 * row order (so that a merge neither depends on the order they are given in nor holds more than one at once).
 */
export function foldShards<T>(items: readonly LazyShard<T>[], add: (shard: T, item: LazyShard<T>) => void): void {
  if (items.length === 0) throw new InputError("shards", "none given");
  for (const s of items) checkSettings(s.name, s.settings, items[0].name, items[0].settings);
  for (const s of checkCoverage(items, items[0].settings.rows)) add(s.load(), s);
}

/** Merges shards that together cover every row exactly once (see foldShards). */
export function mergeDecompositionShards(items: readonly LazyShard<DecompositionShard>[]): DecompositionShard {
  let out: DecompositionShard | null = null;
  foldShards(items, (s) => {
    if (!out) { out = { ...s, range: { start: 0, end: s.settings.rows } }; return; }
    out.fit = mergeNormalEquationStates(out.fit, s.fit);
    out.evaluated = out.evaluated && s.evaluated ? mergeNormalEquationStates(out.evaluated, s.evaluated) : null;
    out.droppedNonFinite += s.droppedNonFinite;
  });
  return out as unknown as DecompositionShard;
}

/** The bootstrap's weighted sums of HeldOutEvaluation's four accumulators, [resamples × width] each. */
export interface BootstrapSums { error: Float64Array; norm: Float64Array; sae: Float64Array; nonlinear: Float64Array }

export interface FinishOptions {
  rankTolerance?: number;
  onWarning?: (message: string) => void;
  native?: boolean;
  /** The merged bootstrap shards' sums, for intervals; without them the result has none (bootstrap null). */
  bootstrap?: { plan: { resamples: number; seed: number; level: number }; sums: BootstrapSums };
}

/** b* and a* from merged shards, solved as decomposeSaeError solves them (warnings in the same order). */
export function solveMerged(merged: DecompositionShard, options: FinishOptions = {}): { joint: LeastSquaresFit; warnings: string[] } {
  const st = merged.settings;
  if (merged.range.start !== 0 || merged.range.end !== st.rows) throw new InputError("shards", `cover rows [${merged.range.start}, ${merged.range.end}), not all ${st.rows}`);
  const { warnings, warn } = warningSink(options);
  if (merged.droppedNonFinite > 0) warn(`dropped ${merged.droppedNonFinite} row(s) holding NaN or ±Inf`);
  const joint = NormalEquations.fromState(merged.fit, { native: options.native }).solve({ intercept: st.intercept, rankTolerance: options.rankTolerance, onWarning: warn });
  joint.droppedNonFinite = merged.droppedNonFinite;
  return { joint, warnings };
}

/**
 * The decomposition of all rows from merged shards: b* and a* solved as decomposeSaeError solves them, every metric
 * from the evaluated rows' sums, the intervals from the bootstrap shards' sums when given. `normalizedMse` (a
 * per-row ratio) is not in the sums and comes out NaN.
 */
export function finishDecomposition(merged: DecompositionShard, options: FinishOptions = {}): DecompositionResult {
  const st = merged.settings, d = st.d;
  const { joint, warnings } = solveMerged(merged, options);
  const ev = merged.evaluated ?? merged.fit;
  if (ev.rows === 0) throw new InputError("testRows", "no rows are left to evaluate on");
  const m = heldOutSums(ev, joint.coefficients, joint.intercept, options.native);
  const p = d + 1, n = ev.rows;
  const errorSums = { rows: n, mean: m.mean.slice(0, d), m2: m.m2.slice(0, d), sse: m.sse.slice(0, d), ratioSum: NaN };
  const normSums = { rows: n, mean: m.mean.slice(d, p), m2: m.m2.slice(d, p), sse: m.sse.slice(d, p), ratioSum: NaN };
  const errorPrediction = regressionMetrics(errorSums), normPrediction = regressionMetrics(normSums);
  // fvu(x, Sae(x)) and fvu(x, Sae(x) + LinearError) share the denominator Σ‖x − x̄‖².
  let sstX = 0, sseNl = 0, lin = 0, linErr = 0;
  for (let i = 0; i < d; i++) sstX += ev.gxx[i * d + i] - (ev.sumX[i] * ev.sumX[i]) / n;
  for (let j = 0; j < d; j++) { sseNl += m.sse[j]; lin += m.predSq[j]; linErr += m.predY[j]; }
  const sumSqErr = n * ev.shiftY![d] + ev.sumY[d]; // Σ‖SaeError‖² is the norm target's sum
  const bs = options.bootstrap;
  let iv: { vectorR2: Interval | null; normR2: Interval | null; fvu: Interval; fvuNonlinear: Interval } | undefined;
  if (bs) {
    const boot = (perDim: boolean) => ({ resamples: bs.plan.resamples, level: bs.plan.level, perDim });
    const noMask = new Uint8Array(d);
    iv = {
      vectorR2: bootstrapIntervals(bs.sums.error, boot(true), d, n, constantMask(n, errorSums.mean, errorSums.m2)).r2MeanOverDims,
      normR2: bootstrapIntervals(bs.sums.norm, boot(true), 1, n, constantMask(n, normSums.mean, normSums.m2)).r2,
      fvu: bootstrapIntervals(bs.sums.sae, boot(false), d, n, noMask).fvu,
      fvuNonlinear: bootstrapIntervals(bs.sums.nonlinear, boot(false), d, n, noMask).fvu,
    };
  }
  const estimate = (value: number, interval: Interval | null | undefined): Estimate => withSummary({ value, interval: interval ?? null }, (e) => [formatEstimate(e)]);
  return withSummary<DecompositionResult>({
    intercept: st.intercept, d, fitOn: st.fitOn, evaluatedOn: st.evaluatedOn,
    rows: { total: st.rows, train: joint.rows, evaluated: n, droppedNonFinite: merged.droppedNonFinite, seed: st.seed },
    vectorR2: estimate(errorPrediction.r2MeanOverDims, iv?.vectorR2),
    normR2: estimate(normPrediction.r2 as number, iv?.normR2),
    fvu: estimate(sumSqErr / sstX, iv?.fvu),
    fvuNonlinear: estimate(sseNl / sstX, iv?.fvuNonlinear),
    energy: { saeError: sumSqErr / n, linearError: lin / n, nonlinearError: sseNl / n, crossTerm: (2 * (linErr - lin)) / n },
    errorPrediction, normPrediction,
    linearMap: selectOutputs(joint, 0, d), normProbe: selectOutputs(joint, d, d + 1),
    bootstrap: bs ? { ...bs.plan } : null, warnings,
  }, decompositionSummary);
}

/**
 * Per output j of a fit ŷ = xβ + c on rows summarised by `s` (sums around shifts x̄ₛ, ȳₛ): the targets' mean and
 * centred sum of squares, Σ(y − ŷ)², Σŷ² and Σŷy. With x' = x − x̄ₛ, y' = y − ȳₛ and k = c + x̄ₛβ: ŷ = x'β + k,
 * and each sum is a quadratic in β through Σx'x'ᵀ, Σx'y', Σx', Σy', Σy'².
 */
export function heldOutSums(s: NormalEquationsState, beta: Float64Array, intercept: Float64Array | null, native?: boolean) {
  const d = s.inputs, p = s.outputs, n = s.rows;
  const sx = s.shiftX!, sy = s.shiftY!, q = s.sumSqY;
  if (!q) throw new Error("heldOutSums: the state does not track target squares");
  const g = new Float64Array(d * d); // the symmetric Gram from its upper triangle
  for (let i = 0; i < d; i++) for (let j = i; j < d; j++) g[i * d + j] = g[j * d + i] = s.gxx[i * d + j];
  const gb = new Float64Array(d * p);
  getKernels(native ?? true).gemmNN(d, p, d, g, beta, gb, false);
  const mean = new Float64Array(p), m2 = new Float64Array(p), sse = new Float64Array(p), predSq = new Float64Array(p), predY = new Float64Array(p);
  for (let j = 0; j < p; j++) {
    let k = intercept ? intercept[j] : 0, quad = 0, cross = 0, lin = 0;
    for (let i = 0; i < d; i++) {
      const bij = beta[i * p + j];
      k += sx[i] * bij;
      quad += bij * gb[i * p + j];
      cross += bij * s.gxy[i * p + j];
      lin += bij * s.sumX[i];
    }
    const kc = k - sy[j]; // ŷ − ȳₛ = x'β + kc
    mean[j] = sy[j] + s.sumY[j] / n;
    m2[j] = q[j] - (s.sumY[j] * s.sumY[j]) / n;
    // Sums of squares: a value below 0 is the rounding of one that is 0 (an exactly linear error).
    sse[j] = Math.max(0, q[j] - 2 * cross - 2 * kc * s.sumY[j] + quad + 2 * kc * lin + n * kc * kc);
    predSq[j] = Math.max(0, quad + 2 * k * lin + n * k * k);
    predY[j] = cross + sy[j] * lin + k * s.sumY[j] + n * k * sy[j];
  }
  return { mean, m2, sse, predSq, predY };
}

