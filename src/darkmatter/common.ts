// What the dark-matter analyses share: how an SAE plugs in (any function or precomputed rows, so this module never
// depends on a particular SAE implementation), how rows are split, and the typed estimate records they return.
import { InputError } from "../errors";
import { Progress } from "../progress";
import { Interval } from "../linalg/bootstrap";
import { RowChunk, RowSource, rowIsFinite, zipChunks } from "../linalg/rows";
import { NO_ROLE, TEST, TRAIN, trainTestSplit, TrainTestSplit } from "../linalg/split";

/** Sae(x) for `rows` row-major activations: returns `rows × d` reconstructions. */
export type ReconstructFn = (x: Float32Array, rows: number) => Float32Array;

/**
 * The SAE side of an analysis, in whichever form is at hand: a reconstruction function (any SAE), precomputed
 * reconstructions Sae(x), or precomputed errors SaeError(x) = x − Sae(x) (the paper's sign; note that the paper's
 * cache stores Sae(x) − x, which must be negated first).
 */
export type SaeOutputs = { reconstruct: ReconstructFn } | { reconstructions: RowSource } | { errors: RowSource };

export interface SaeInput {
  /** Activations x, [tokens, d]. */
  activations: RowSource;
  /** The SAE's outputs on those activations. */
  sae: SaeOutputs;
}

/** An SAE object with a forward pass (`dm.sae.Sae` fits): analyses call it as a reconstruction function. */
export interface SaeModelLike {
  readonly d_in: number;
  forward(x: Float32Array, options?: { latents?: boolean }): { reconstruction: Float32Array };
}

/** Activations (any RowSource: an ActivationTable, a store's rows, an array) with an SAE object. */
export interface ModelSaeInput {
  /** Activations x, [tokens, d]: an ActivationTable, a store's rows or an array source. */
  activations: RowSource;
  /** The SAE (e.g. from `dm.sae.loadSae`): its forward pass gives the reconstructions. */
  sae: SaeModelLike;
}

/** The SaeInput an analysis reads: an SAE object becomes its reconstruction function. */
export function resolveSaeInput(input: SaeInput | ModelSaeInput): SaeInput {
  const s = input.sae as SaeOutputs | SaeModelLike;
  if (s && typeof (s as SaeModelLike).forward === "function" && !("reconstruct" in s)) {
    const model = s as SaeModelLike;
    if (model.d_in !== input.activations.cols) {
      throw new InputError(input.activations.name ?? "activations", `rows have ${input.activations.cols} values but the SAE's d_in is ${model.d_in}`);
    }
    return { activations: input.activations, sae: { reconstruct: (x) => model.forward(x, { latents: false }).reconstruction } };
  }
  return input as SaeInput;
}

/** A metric with its bootstrap interval over the evaluated tokens (null when the bootstrap is off). */
export interface Estimate {
  value: number;
  interval: Interval | null;
}

/** How rows are divided between fitting and evaluation. */
export interface SplitChoice {
  /** A ready split (overrides trainRows/trainFraction/testRows/seed). */
  split?: TrainTestSplit;
  /** Training rows: the first `trainRows` of a seeded permutation. Default: 150,000 (the paper) when there are more
   * rows than that, else 60 % of the rows. */
  trainRows?: number;
  trainFraction?: number;
  /** Cap on test rows (the paper's 1-offset runs evaluate 150,000). Default: all the rest. */
  testRows?: number;
  /** Permutation seed (default 0). */
  seed?: number;
}

/** The paper's 150,000 training rows when available; otherwise 60 % (the paper's 150,000 of 246,900). */
export function defaultTrainRows(rows: number): number {
  return rows > 150_000 ? 150_000 : Math.round(0.6 * rows);
}

/** A fresh roles array (TRAIN/TEST/NO_ROLE per row) for the choice; `fitOnAll` makes every row TRAIN. */
export function resolveRoles(rows: number, choice: SplitChoice, fitOnAll = false): { roles: Uint8Array; seed: number } {
  if (fitOnAll) return { roles: new Uint8Array(rows).fill(TRAIN), seed: -1 };
  if (choice.split) {
    if (choice.split.rows !== rows) throw new InputError("split", `covers ${choice.split.rows} rows, the activations have ${rows}`);
    return { roles: Uint8Array.from(choice.split.roles), seed: choice.split.seed };
  }
  const split = choice.trainFraction !== undefined
    ? trainTestSplit(rows, { trainFraction: choice.trainFraction, testRows: choice.testRows, seed: choice.seed })
    : trainTestSplit(rows, { trainRows: choice.trainRows ?? defaultTrainRows(rows), testRows: choice.testRows, seed: choice.seed });
  return { roles: split.roles, seed: split.seed };
}

export function countRoles(roles: Uint8Array): { train: number; test: number } {
  let train = 0, test = 0;
  for (const r of roles) { if (r === TRAIN) train++; else if (r === TEST) test++; }
  return { train, test };
}

/** One chunk of the rows an analysis asked for, compacted: x, Sae(x) and SaeError(x) as float64 [count, d]
 * (sae and error are empty when the reader was told the SAE is not needed). */
export interface SaeChunk {
  /** Global row index of each compacted row. */
  rowIds: number[];
  count: number;
  x: Float64Array;
  sae: Float64Array;
  error: Float64Array;
}

export interface SaeReadOptions {
  rowsPerChunk: number;
  /** Per row; rows found non-finite are set to NO_ROLE here when `dropNonFinite`. */
  roles: Uint8Array;
  /** Which roles to return rows for. */
  want: (role: number) => boolean;
  dropNonFinite: boolean;
  /** Incremented per dropped row. */
  dropped: { count: number };
  /** false: return only x (sae and error empty), skipping the SAE (default true). */
  needSae?: boolean;
  progress?: (rowsRead: number) => void;
}

function activationName(input: SaeInput): string { return input.activations.name ?? "activations"; }

/** Checks that the SAE outputs fit the activations before anything is read. */
export function checkSaeInput(input: SaeInput): number {
  const x = input.activations, d = x.cols, name = activationName(input);
  const s = input.sae;
  if ("reconstruct" in s) {
    if (typeof s.reconstruct !== "function") throw new InputError("sae.reconstruct", "must be a function");
  } else {
    const src = "reconstructions" in s ? s.reconstructions : s.errors;
    const what = "reconstructions" in s ? "reconstructions" : "errors";
    if (src.cols !== d) throw new InputError(src.name ?? `sae.${what}`, `has ${src.cols} columns but ${name} has d = ${d}`);
    if (src.rows !== x.rows) throw new InputError(src.name ?? `sae.${what}`, `has ${src.rows} rows but ${name} has ${x.rows}`);
  }
  return d;
}

/**
 * Reads activations and SAE outputs chunk by chunk. Every row with a role is checked for NaN/±Inf (an InputError,
 * or dropped and counted with `dropNonFinite`); rows whose role is wanted are returned, and only those go through
 * the SAE, so a reconstruction function runs once per row per pass that needs it.
 */
export function* readSaeChunks(input: SaeInput, opts: SaeReadOptions): Generator<SaeChunk> {
  const d = checkSaeInput(input);
  const s = input.sae, name = activationName(input);
  const sources: RowSource[] = [input.activations];
  let sourceName = "";
  if ("reconstructions" in s) { sources.push(s.reconstructions); sourceName = s.reconstructions.name ?? "sae.reconstructions"; }
  if ("errors" in s) { sources.push(s.errors); sourceName = s.errors.name ?? "sae.errors"; }
  for (const { data, start, rows } of zipChunks(sources, opts.rowsPerChunk)) {
    const ids: number[] = [];
    for (let t = 0; t < rows; t++) {
      const g = start + t, role = opts.roles[g];
      if (role === NO_ROLE) continue;
      const bad = !rowIsFinite(data[0], t, d) ? name : data.length > 1 && !rowIsFinite(data[1], t, d) ? sourceName : null;
      if (bad) {
        if (!opts.dropNonFinite) throw new InputError(bad, `row ${g} holds NaN or ±Inf (pass dropNonFinite to skip such rows and count them)`);
        opts.roles[g] = NO_ROLE;
        opts.dropped.count++;
        continue;
      }
      if (opts.want(role)) ids.push(t);
    }
    opts.progress?.(start + rows);
    if (ids.length === 0) continue;
    const k = ids.length;
    const x = gather(data[0], d, ids);
    let sae: Float64Array, error: Float64Array;
    if (opts.needSae === false) {
      sae = error = new Float64Array(0);
    } else if ("reconstruct" in s) {
      const out = s.reconstruct(Float32Array.from(x), k);
      if (!out || out.length !== k * d) {
        throw new InputError("sae.reconstruct", `returned ${out ? out.length : "nothing"} values for ${k} rows of d = ${d}`);
      }
      sae = Float64Array.from(out);
      error = new Float64Array(k * d);
      for (let i = 0; i < k * d; i++) error[i] = x[i] - sae[i];
      for (let t = 0; t < k; t++) {
        if (!rowIsFinite(sae, t, d)) throw new InputError("sae.reconstruct", `Sae(x) of row ${start + ids[t]} is not finite although x is`);
      }
    } else if ("reconstructions" in s) {
      sae = gather(data[1], d, ids);
      error = new Float64Array(k * d);
      for (let i = 0; i < k * d; i++) error[i] = x[i] - sae[i];
    } else {
      error = gather(data[1], d, ids);
      sae = new Float64Array(k * d);
      for (let i = 0; i < k * d; i++) sae[i] = x[i] - error[i];
    }
    yield { rowIds: ids.map((t) => start + t), count: k, x, sae, error };
  }
}

function gather(data: RowChunk, cols: number, ids: number[]): Float64Array {
  const out = new Float64Array(ids.length * cols);
  for (let t = 0; t < ids.length; t++) out.set(data.subarray(ids[t] * cols, ids[t] * cols + cols), t * cols);
  return out;
}

/** Squared L2 norm of each row of row-major [rows, cols]. */
export function rowSquaredNorms(data: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const out = new Float64Array(rows);
  for (let t = 0; t < rows; t++) {
    let s = 0;
    for (let j = 0; j < cols; j++) { const v = data[t * cols + j]; s += v * v; }
    out[t] = s;
  }
  return out;
}

/** Column block [from, from + width) of row-major [rows, cols] as a compact array. */
export function columns(data: Float64Array, rows: number, cols: number, from: number, width: number): Float64Array {
  const out = new Float64Array(rows * width);
  for (let t = 0; t < rows; t++) out.set(data.subarray(t * cols + from, t * cols + from + width), t * width);
  return out;
}

/** Progress over several passes of `rows` rows each. */
export function passProgress(progress: Progress | undefined, rows: number, passes: number, label: string) {
  return (pass: number, what: string) => (rowsRead: number) => progress?.(pass * rows + rowsRead, passes * rows, `${label}: ${what}`);
}
