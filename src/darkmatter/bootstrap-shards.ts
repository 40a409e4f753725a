// The bootstrap round of a sharded decomposition: the intervals a single run reports, computed on shards.
//
// A single run's interval resamples the evaluated rows with b* held fixed: each resample's sums weigh every row's
// squared error under b*, which the first round's shards could not know, and per-resample sufficient statistics
// would cost resamples × d² each. So the intervals take a second round, like the single run's second pass: the
// merged fit is handed to every shard (EvaluationFit), which scores its evaluated rows with it exactly as
// decomposeSaeError's second pass does (HeldOutEvaluation, same SAE batches) and keeps the resamples' weighted sums.
// The resample counts of a row depend on the rows before it (MultinomialResampler draws them in reading order), so
// a shard first draws, without keeping them, the counts of every evaluated row before its range. The sums of all
// shards then add up to the single run's, around shared reference points, and give the same intervals.
import { createHash } from "crypto";
import { InputError } from "../errors";
import { MultinomialResampler } from "../linalg/bootstrap";
import { LinearMap } from "../linalg/least-squares";
import { canonicalJson } from "../io/hash";
import { TEST, TRAIN } from "../linalg/split";
import { ModelSaeInput, passProgress, SaeChunk, SaeInput } from "./common";
import { EvaluationShifts, HeldOutEvaluation } from "./decomposition";
import {
  BootstrapSums, checkSettings, DecompositionShard, foldShards, LazyShard, ShardOptions, shardChunks, shardPlan, ShardRange, ShardSettings, solveMerged,
} from "./decomposition-shards";

export interface BootstrapPlan { resamples: number; seed: number; level: number }

/** What the bootstrap shards need from the first round: the merged fit and where the resamples' sums are centred. */
export interface EvaluationFit {
  settings: ShardSettings;
  bootstrap: BootstrapPlan;
  /** b* and a* together: [d, d + 1] coefficients and the intercept (null without one). */
  joint: LinearMap;
  shifts: EvaluationShifts;
  /** Evaluated rows of all shards (every resample draws this many). */
  evaluatedRows: number;
  droppedNonFinite: number;
  /** [first row, evaluated rows before it] of every first-round shard: where a bootstrap shard may start when rows were dropped. */
  starts: [number, number][];
  /** sha256 of all of the above: the bootstrap shards name the fit they used by it. */
  id: string;
}

export interface BootstrapShard {
  settings: ShardSettings;
  bootstrap: BootstrapPlan;
  range: ShardRange;
  /** EvaluationFit.id of the fit the rows were scored with. */
  fitId: string;
  /** Evaluated rows inside the range. */
  rows: number;
  sums: BootstrapSums;
}

/** The id of an evaluation fit: a hash of every number and setting in it. */
export function evaluationFitId(f: Omit<EvaluationFit, "id">): string {
  const h = createHash("sha256");
  h.update(canonicalJson({ settings: f.settings, bootstrap: f.bootstrap, evaluatedRows: f.evaluatedRows, droppedNonFinite: f.droppedNonFinite,
    starts: f.starts, intercept: f.joint.intercept !== null, inputs: f.joint.inputs, outputs: f.joint.outputs }));
  for (const a of [f.joint.coefficients, f.joint.intercept ?? new Float64Array(0), f.shifts.error, f.shifts.norm, f.shifts.x]) {
    h.update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  }
  return h.digest("hex");
}

/** How many evaluated rows a first-round shard holds (for EvaluationFit.starts). */
export interface ShardRows { range: ShardRange; evaluatedRows: number }

export function shardRows(s: DecompositionShard): ShardRows {
  return { range: s.range, evaluatedRows: (s.evaluated ?? s.fit).rows };
}

/** The evaluation fit of merged first-round shards (`shards`: each one's range and evaluated rows). */
export function evaluationFit(merged: DecompositionShard, shards: readonly ShardRows[], bootstrap: BootstrapPlan): EvaluationFit {
  const { joint } = solveMerged(merged);
  const st = merged.settings, d = st.d, ev = merged.evaluated ?? merged.fit, n = ev.rows;
  if (n === 0) throw new InputError("testRows", "no rows are left to evaluate on");
  const mean = (shift: Float64Array, sum: Float64Array, from: number, to: number) => {
    const out = new Float64Array(to - from);
    for (let j = from; j < to; j++) out[j - from] = shift[j] + sum[j] / n;
    return out;
  };
  const starts: [number, number][] = [];
  let before = 0;
  for (const s of [...shards].sort((a, b) => a.range.start - b.range.start)) {
    starts.push([s.range.start, before]);
    before += s.evaluatedRows;
  }
  if (before !== n) throw new InputError("shards", `hold ${before} evaluated rows, the merged sums ${n}`);
  const f: Omit<EvaluationFit, "id"> = {
    settings: { ...st }, bootstrap: { ...bootstrap },
    joint: { inputs: d, outputs: d + 1, coefficients: joint.coefficients, intercept: joint.intercept },
    shifts: { error: mean(ev.shiftY!, ev.sumY, 0, d), norm: mean(ev.shiftY!, ev.sumY, d, d + 1), x: mean(ev.shiftX!, ev.sumX, 0, d) },
    evaluatedRows: n, droppedNonFinite: merged.droppedNonFinite, starts,
  };
  return { ...f, id: evaluationFitId(f) };
}

/** Copies the listed rows of a chunk into a chunk of their own. */
function pickRows(c: SaeChunk, rows: readonly number[], d: number): Pick<SaeChunk, "count" | "x" | "sae" | "error"> {
  const k = rows.length, x = new Float64Array(k * d), sae = new Float64Array(k * d), error = new Float64Array(k * d);
  rows.forEach((t, i) => {
    x.set(c.x.subarray(t * d, t * d + d), i * d);
    sae.set(c.sae.subarray(t * d, t * d + d), i * d);
    error.set(c.error.subarray(t * d, t * d + d), i * d);
  });
  return { count: k, x, sae, error };
}

/** The bootstrap's sums of rows [start, end) under the merged fit (options as for the first round's shards). */
export function bootstrapShard(given: SaeInput | ModelSaeInput, range: ShardRange, fit: EvaluationFit, options: ShardOptions = {}): BootstrapShard {
  const plan = shardPlan(given, range, options);
  checkSettings("these options", plan.settings, "the evaluation fit", fit.settings);
  const d = plan.settings.d, evalRole = plan.settings.fitOn === "all" ? TRAIN : TEST;
  let offset: number;
  if (fit.droppedNonFinite === 0) {
    offset = 0;
    for (let g = 0; g < range.start; g++) if (plan.roles[g] === evalRole) offset++;
  } else {
    // Rows dropped before the range are known only by count, at the first round's shard boundaries.
    const at = fit.starts.find(([row]) => row === range.start);
    if (!at) {
      throw new InputError("rows", `${fit.droppedNonFinite} row(s) were dropped as non-finite, so a bootstrap shard must start where a first-round ` +
        `shard started (rows ${fit.starts.map(([row]) => row).join(", ")}), not at ${range.start}`);
    }
    offset = at[1];
  }
  const resampler = new MultinomialResampler(fit.evaluatedRows, fit.bootstrap.resamples, fit.bootstrap.seed);
  resampler.skip(offset);
  const evaluation = new HeldOutEvaluation(d, fit.joint, fit.bootstrap, { native: options.native, shifts: fit.shifts });
  const progress = passProgress(options.progress, plan.b - plan.a, 1, `bootstrap of rows ${range.start}–${range.end}`);
  let rows = 0;
  for (const { chunk, own } of shardChunks(plan, evalRole, progress(0, "evaluated rows"))) {
    if (own.length === 0) continue;
    evaluation.add(pickRows(chunk, own, d), resampler.next(own.length));
    rows += own.length;
  }
  const B = fit.bootstrap.resamples;
  const sums = (acc: HeldOutEvaluation["error"], width: number) => acc.bootstrapSums ?? new Float64Array(B * width);
  return {
    settings: plan.settings, bootstrap: { ...fit.bootstrap }, range: { ...plan.range }, fitId: fit.id, rows,
    sums: { error: sums(evaluation.error, 3 * d), norm: sums(evaluation.norm, 3), sae: sums(evaluation.sae, d + 2), nonlinear: sums(evaluation.nonlinear, d + 2) },
  };
}

/** Adds bootstrap shards that cover every row once and were all scored with the fit `fitId` (see foldShards). */
export function mergeBootstrapShards(items: readonly LazyShard<BootstrapShard>[], fitId: string): BootstrapSums {
  let total: BootstrapSums | null = null;
  foldShards(items, (s, { name }) => {
    if (s.fitId !== fitId) {
      throw new InputError(name, `was scored with another fit (${s.fitId.slice(0, 12)}…) than the one the statistics shards give ` +
        `(${fitId.slice(0, 12)}…): rerun the bootstrap round with the fit of these shards`);
    }
    if (!total) { total = { error: s.sums.error.slice(), norm: s.sums.norm.slice(), sae: s.sums.sae.slice(), nonlinear: s.sums.nonlinear.slice() }; return; }
    for (const k of ["error", "norm", "sae", "nonlinear"] as const) {
      const a = total[k], b = s.sums[k];
      if (a.length !== b.length) throw new InputError(name, `holds ${b.length} ${k} sums where the shards before it hold ${a.length}`);
      for (let i = 0; i < a.length; i++) a[i] += b[i];
    }
  });
  return total as unknown as BootstrapSums;
}
