// What an SAE is trained on (paper §3.8): the activations x themselves, or one of the error components of a
// reference SAE, computed per batch and never stored:
//   error     = SaeError(x)       = x − Sae(x)
//   linear    = LinearError(x)    = predict(b*, x), b* the least-squares map x → SaeError(x)
//   nonlinear = NonlinearError(x) = SaeError(x) − LinearError(x)
// b* is fitted once per (store hook, reference SAE), on the training rows of the SAE's own train/held-out split by
// default, so the held-out evaluation never sees rows the map was fitted on; with an intercept by default, as the
// paper's text says (its training script fits none: pass intercept false for that variant).
import { createHash } from "crypto";
import * as path from "path";
import type { ActivationStore } from "../activations/index";
import { decomposeSaeError } from "../darkmatter/decomposition";
import { InputError } from "../errors";
import { formatNumber, withSummary } from "../inspect";
import { LeastSquaresFit, predict } from "../linalg/least-squares";
import { permutation } from "../linalg/random";
import { arraySource, generatedSource, RowSource } from "../linalg/rows";
import { explicitSplit } from "../linalg/split";
import type { Progress } from "../progress";
import type { Sae } from "../sae/index";
import { arrayData, mapTarget, rangeData, subsetRows, TrainingData } from "../train/index";

export const TARGET_KINDS = ["x", "error", "linear", "nonlinear"] as const;
export type TargetKind = typeof TARGET_KINDS[number];

const TARGET_NAMES: Record<TargetKind, string> = { x: "x", error: "SaeError", linear: "LinearError", nonlinear: "NonlinearError" };

export function checkTargetKind(v: unknown, source = "target"): TargetKind {
  if (typeof v !== "string" || !(TARGET_KINDS as readonly string[]).includes(v)) {
    throw new InputError(source, `must be one of ${TARGET_KINDS.join(", ")}, got ${JSON.stringify(v)}`);
  }
  return v as TargetKind;
}

/** Activation rows in the two forms the pipeline reads: batches by index (training) and a front-to-back stream (the b* fit). */
export interface ActivationRows {
  d: number;
  rows: number;
  /** For logs and provenance ("store <key> blocks.3.hook_resid_post"). */
  name: string;
  data: TrainingData;
  source: RowSource;
  /** Where the rows come from, for provenance (absent for in-memory arrays). */
  store?: { dir: string; key: string; hook: string };
}

/** Rows of an in-memory row-major array [rows, d]. */
export function arrayRows(x: Float32Array, d: number, name = "x"): ActivationRows {
  const data = arrayData(x, d, name);
  return { d, rows: data.rows, name, data, source: arraySource(x, d, name) };
}

/** Hooks smaller than this are read into memory once: random batches from memory are ~15× faster than from disk. */
export const IN_MEMORY_BYTES = 512 * 1024 ** 2;

/** The rows of one hook of an activation store (read into memory when they take at most `maxMemoryBytes`). */
export function storeRows(store: ActivationStore, hook: string, options: { maxMemoryBytes?: number } = {}): ActivationRows {
  if (!store.hooks.includes(hook)) throw new InputError("hook", `the store ${store.dir} has no hook ${hook} (it has ${store.hooks.join(", ")})`);
  const name = `${hook} of store ${store.manifest.key}`;
  const provenance = { dir: path.resolve(store.dir), key: store.manifest.key, hook };
  if (store.rows * store.d * 4 <= (options.maxMemoryBytes ?? IN_MEMORY_BYTES)) {
    const x = store.readRows(hook, 0, store.rows).x;
    return { ...arrayRows(x, store.d, name), store: provenance };
  }
  const data = rangeData(store.d, store.rows, (start, count) => store.readRows(hook, start, count).x, name);
  const source = generatedSource(store.rows, store.d, function* (rowsPerChunk) {
    for (const c of store.chunks(hook, rowsPerChunk)) yield c.x;
  }, name);
  return { d: store.d, rows: store.rows, name, data, source, store: provenance };
}

/** A seeded split of row indices into training and held-out rows (each ascending). */
export interface RowSplit {
  rows: number;
  seed: number;
  train: Int32Array;
  heldOut: Int32Array;
}

/** `heldOutRows` rows drawn by a seeded permutation are held out; the rest train. */
export function heldOutSplit(rows: number, heldOutRows: number, seed: number): RowSplit {
  if (!Number.isSafeInteger(heldOutRows) || heldOutRows < 1 || heldOutRows >= rows) {
    throw new InputError("heldOutRows", `must be an integer in [1, ${rows - 1}] for ${rows} rows, got ${heldOutRows}`);
  }
  if (!Number.isInteger(seed)) throw new InputError("seed", `must be an integer, got ${seed}`);
  const perm = permutation(rows, seed);
  return { rows, seed, heldOut: Int32Array.from(perm.subarray(0, heldOutRows)).sort(), train: Int32Array.from(perm.subarray(heldOutRows)).sort() };
}

/** sha256 of an SAE's architecture, sizes and every weight: its identity, wherever it was loaded from. */
export function saeFingerprint(sae: Sae): string {
  const h = createHash("sha256").update(JSON.stringify({ a: sae.architecture, d: sae.d_in, n: sae.d_sae, k: sae.k ?? null, b: sae.applyBDecToInput }));
  for (const name of sae.weightNames()) {
    const w = sae.hostWeight(name)!;
    h.update(name).update(new Uint8Array(w.buffer, w.byteOffset, w.byteLength));
  }
  return h.digest("hex");
}

/** The three error components of a batch x [rows, d] (float32; linear + nonlinear = error up to float32 rounding). */
export interface ErrorComponents {
  /** SaeError = x − Sae(x). */
  error: Float32Array;
  /** LinearError = x·b* (+ intercept): the part of the error x predicts linearly. */
  linear: Float32Array;
  /** NonlinearError = SaeError − LinearError. */
  nonlinear: Float32Array;
}

/** SaeError, LinearError = predict(b*, x) and NonlinearError = SaeError − LinearError (the difference taken in float64). */
export function errorComponents(x: Float32Array, rows: number, sae: Sae, linearMap: LeastSquaresFit): ErrorComponents {
  const error = sae.forward(x, { latents: false }).error;
  const lin = predict(linearMap, x, rows);
  const linear = new Float32Array(lin.length), nonlinear = new Float32Array(lin.length);
  for (let i = 0; i < lin.length; i++) {
    linear[i] = lin[i];
    nonlinear[i] = error[i] - lin[i];
  }
  return withSummary<ErrorComponents>({ error, linear, nonlinear }, (c) => componentsSummary(c, rows));
}

/** The printed form of error components: the mean squared norm per row of each, not the arrays. */
function componentsSummary(c: ErrorComponents, rows: number): string[] {
  const meanSq = (a: Float32Array) => {
    let s = 0;
    for (let i = 0; i < a.length; i++) s += a[i] * a[i];
    return formatNumber(rows ? s / rows : NaN, 3);
  };
  return [`ErrorComponents ${rows} rows × ${rows ? c.error.length / rows : 0}: mean ‖·‖² per row: ` +
    `SaeError ${meanSq(c.error)}, LinearError ${meanSq(c.linear)}, NonlinearError ${meanSq(c.nonlinear)}`,
    "  .error = .linear + .nonlinear: Float32Array [rows × d] each (ActivationTable.withValues labels them by token)"];
}

export interface LinearMapOptions {
  /** Fit b* with an intercept (default true: the paper's text; its training script fits none). */
  intercept?: boolean;
  /** Fit on the training rows of the split (default) or in-sample on every row (the paper's §3.8 probe). */
  fitOn?: "train" | "all";
}

/** How b* was fitted and how well the reference SAE's error splits, measured on the held-out rows (or in-sample). */
export interface LinearMapReport {
  intercept: boolean;
  fitOn: "train" | "all";
  fitRows: number;
  evaluatedOn: "heldOut" | "all";
  evaluatedRows: number;
  /** r2_mean_over_dims of LinearError as a prediction of SaeError. */
  vectorR2: number;
  /** FVU of the reference SAE and FVU_nonlinear = fvu(x, Sae(x) + LinearError(x)). */
  referenceFvu: number;
  referenceFvuNonlinear: number;
  /** Mean per token of ‖SaeError‖², ‖LinearError‖², ‖NonlinearError‖². */
  energy: { saeError: number; linearError: number; nonlinearError: number };
  rank: number;
  conditionEstimate: number;
  warnings: string[];
}

export function resolveLinearMapOptions(o: LinearMapOptions = {}): Required<LinearMapOptions> {
  const intercept = o.intercept ?? true, fitOn = o.fitOn ?? "train";
  if (typeof intercept !== "boolean") throw new InputError("linearMap.intercept", `must be true or false, got ${JSON.stringify(intercept)}`);
  if (fitOn !== "train" && fitOn !== "all") throw new InputError("linearMap.fitOn", `must be "train" or "all", got ${JSON.stringify(fitOn)}`);
  return { intercept, fitOn };
}

/** Fits b*: x → SaeError(x) of `sae` on the split's training rows (or all rows), and evaluates it on the held-out rows. */
export function fitLinearMap(rows: ActivationRows, sae: Sae, split: RowSplit, options: LinearMapOptions & { progress?: Progress } = {}):
  { fit: LeastSquaresFit; report: LinearMapReport } {
  const { intercept, fitOn } = resolveLinearMapOptions(options);
  if (sae.d_in !== rows.d) throw new InputError("reference SAE", `has d_in = ${sae.d_in} but ${rows.name} has d = ${rows.d}`);
  if (split.rows !== rows.rows) throw new InputError("split", `covers ${split.rows} rows, ${rows.name} has ${rows.rows}`);
  const r = decomposeSaeError(
    { activations: rows.source, sae: { reconstruct: (x) => sae.forward(x, { latents: false }).reconstruction } },
    {
      intercept, bootstrap: false, progress: options.progress,
      ...(fitOn === "all" ? { fitOn: "all", evaluateOn: "all" } : { split: explicitSplit(rows.rows, split.train, split.heldOut) }),
    });
  const report: LinearMapReport = {
    intercept, fitOn, fitRows: r.rows.train, evaluatedOn: fitOn === "all" ? "all" : "heldOut", evaluatedRows: r.rows.evaluated,
    vectorR2: r.vectorR2.value, referenceFvu: r.fvu.value, referenceFvuNonlinear: r.fvuNonlinear.value,
    energy: { saeError: r.energy.saeError, linearError: r.energy.linearError, nonlinearError: r.energy.nonlinearError },
    rank: r.linearMap.rank, conditionEstimate: r.linearMap.conditionEstimate, warnings: r.warnings,
  };
  return { fit: r.linearMap, report };
}

/** What a saved SAE records about its training rows. */
export interface TargetProvenance {
  target: TargetKind;
  /** "LinearError of <reference> on <rows>". */
  description: string;
  rows: { name: string; count: number; d: number; store?: { dir: string; key: string; hook: string } };
  split: { seed: number; trainRows: number; heldOutRows: number };
  reference?: { path: string | null; sha256: string; architecture: string; d_sae: number; k?: number };
  /** The b* fit (linear and nonlinear targets only). */
  linearMap?: LinearMapReport;
}

/** The rows an SAE trains and is evaluated on, with their provenance. */
export interface TargetRows {
  target: TargetKind;
  d: number;
  /** Every row, transformed. */
  all: TrainingData;
  train: TrainingData;
  heldOut: TrainingData;
  linearMap: LeastSquaresFit | null;
  provenance: TargetProvenance;
}

export interface TargetOptions {
  target: TargetKind;
  split: RowSplit;
  /** The reference SAE (every target but x). */
  reference?: Sae;
  /** Where the reference was loaded from (provenance). */
  referencePath?: string;
  /** A b* already fitted for this reference and split (shared by the linear and nonlinear targets). */
  linearMap?: { fit: LeastSquaresFit; report: LinearMapReport };
  linearMapOptions?: LinearMapOptions;
  progress?: Progress;
}

/** The training target over `rows`: x itself or an error component of the reference SAE, computed per batch. */
export function makeTarget(rows: ActivationRows, options: TargetOptions): TargetRows {
  const target = checkTargetKind(options.target);
  const { split, reference } = options;
  if (split.rows !== rows.rows) throw new InputError("split", `covers ${split.rows} rows, ${rows.name} has ${rows.rows}`);
  let map: { fit: LeastSquaresFit; report: LinearMapReport } | null = null;
  let refInfo: TargetProvenance["reference"];
  let all = rows.data;
  if (target !== "x") {
    if (!reference) throw new InputError("reference SAE", `target ${target} needs a reference SAE whose error it is`);
    if (reference.d_in !== rows.d) throw new InputError("reference SAE", `has d_in = ${reference.d_in} but ${rows.name} has d = ${rows.d}`);
    const refPath = options.referencePath ?? reference.metadata.path ?? null;
    refInfo = { path: refPath, sha256: saeFingerprint(reference), architecture: reference.architecture, d_sae: reference.d_sae, ...(reference.k !== undefined ? { k: reference.k } : {}) };
    if (target !== "error") {
      map = options.linearMap ?? fitLinearMap(rows, reference, split, { ...options.linearMapOptions, progress: options.progress });
      if (map.fit.inputs !== rows.d || map.fit.outputs !== rows.d) {
        throw new InputError("linearMap", `maps ${map.fit.inputs} → ${map.fit.outputs} values, the rows have d = ${rows.d}`);
      }
    }
    const fit = map?.fit;
    // LinearError needs only b*; the other two run the reference SAE on the batch.
    const transform = target === "error" ? (x: Float32Array) => reference.forward(x, { latents: false }).error
      : target === "linear" ? (x: Float32Array, n: number) => Float32Array.from(predict(fit!, x, n))
        : (x: Float32Array, n: number) => errorComponents(x, n, reference, fit!).nonlinear;
    all = mapTarget(rows.data, transform, { description: `${TARGET_NAMES[target]} of ${refPath ?? "the reference SAE"} on ${rows.name}` });
  }
  const description = target === "x" ? rows.name : all.description;
  return {
    target, d: rows.d, all,
    train: subsetRows(all, split.train, `${description} (train)`),
    heldOut: subsetRows(all, split.heldOut, `${description} (held out)`),
    linearMap: map?.fit ?? null,
    provenance: {
      target, description,
      rows: { name: rows.name, count: rows.rows, d: rows.d, ...(rows.store ? { store: rows.store } : {}) },
      split: { seed: split.seed, trainRows: split.train.length, heldOutRows: split.heldOut.length },
      ...(refInfo ? { reference: refInfo } : {}),
      ...(map ? { linearMap: map.report } : {}),
    },
  };
}
