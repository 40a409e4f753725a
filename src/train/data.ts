// Where training rows come from. A TrainingData is any row-addressable table of d-wide float rows; the trainer reads
// batches of (seeded, shuffled) row indices from it. Targets other than the raw activations (SaeError, LinearError,
// NonlinearError) are computed per batch with `mapTarget`, so they never need to be materialised.
import { InputError } from "../errors";
import { permutation } from "../linalg/random";

export interface TrainingData {
  /** Values per row. */
  readonly d: number;
  /** Number of rows. */
  readonly rows: number;
  /** What the rows are, for logs ("x", "SaeError of …"). */
  readonly description: string;
  /** Writes rows `indices` (ascending, each in [0, rows)) into `out` as [indices.length, d], row-major. */
  read(indices: Int32Array, out: Float32Array): void | Promise<void>;
}

function checkShape(source: string, d: number, rows: number): void {
  if (!Number.isInteger(d) || d < 1) throw new InputError(source, `row width d must be a positive integer, got ${d}`);
  if (!Number.isInteger(rows) || rows < 0) throw new InputError(source, `row count must be a non-negative integer, got ${rows}`);
}

function checkIndices(source: string, indices: Int32Array, rows: number): void {
  for (let i = 0; i < indices.length; i++) {
    if (!(indices[i] >= 0 && indices[i] < rows)) throw new InputError(source, `row index ${indices[i]} is outside [0, ${rows})`);
  }
}

/** Rows of an in-memory row-major array x [x.length / d, d]. */
export function arrayData(x: Float32Array, d: number, description = "x"): TrainingData {
  checkShape("arrayData", d, 0);
  if (x.length % d !== 0) throw new InputError("arrayData", `array length ${x.length} is not a multiple of d = ${d}`);
  const rows = x.length / d;
  return {
    d, rows, description,
    read(indices, out) {
      checkIndices("arrayData", indices, rows);
      for (let i = 0; i < indices.length; i++) out.set(x.subarray(indices[i] * d, indices[i] * d + d), i * d);
    },
  };
}

/**
 * Rows of a source that reads contiguous ranges (an activation store on disk): each run of consecutive indices in
 * a batch is one `readRange(start, count)` call, which must return count·d values.
 */
export function rangeData(d: number, rows: number,
  readRange: (start: number, count: number) => Float32Array | Promise<Float32Array>, description = "x"): TrainingData {
  checkShape("rangeData", d, rows);
  return {
    d, rows, description,
    async read(indices, out) {
      checkIndices("rangeData", indices, rows);
      let i = 0;
      while (i < indices.length) {
        let end = i + 1;
        while (end < indices.length && indices[end] === indices[end - 1] + 1) end++;
        const count = end - i;
        const chunk = await readRange(indices[i], count);
        if (chunk.length !== count * d) {
          throw new InputError(`rangeData (${description})`, `readRange(${indices[i]}, ${count}) returned ${chunk.length} values, expected ${count * d}`);
        }
        out.set(chunk, i * d);
        i = end;
      }
    },
  };
}

/**
 * A source whose rows are fn(rows of `source`), computed per batch: fn receives the batch [rows, source.d] and
 * returns [rows, dOut] (default dOut = source.d). This is how the error targets are trained on without storing them.
 */
export function mapTarget(source: TrainingData,
  fn: (x: Float32Array, rows: number) => Float32Array | Promise<Float32Array>,
  options: { d?: number; description?: string } = {}): TrainingData {
  const d = options.d ?? source.d;
  checkShape("mapTarget", d, source.rows);
  const description = options.description ?? `f(${source.description})`;
  return {
    d, rows: source.rows, description,
    async read(indices, out) {
      const x = new Float32Array(indices.length * source.d);
      await source.read(indices, x);
      const y = await fn(x, indices.length);
      if (y.length !== indices.length * d) {
        throw new InputError(`mapTarget (${description})`, `the transform returned ${y.length} values for ${indices.length} rows, expected ${indices.length * d}`);
      }
      out.set(y);
    },
  };
}

/** The rows `indices` of `source`, in that order (indices must be ascending for sources that read ranges). */
export function subsetRows(source: TrainingData, indices: ArrayLike<number>, description = source.description): TrainingData {
  const map = Int32Array.from(indices);
  checkIndices(`subsetRows (${source.description})`, map, source.rows);
  return {
    d: source.d, rows: map.length, description,
    read(rows, out) {
      checkIndices(`subsetRows (${description})`, rows, map.length);
      return source.read(rows.map((r) => map[r]), out);
    },
  };
}

/** A seeded random split into training rows and `heldOutRows` held-out rows (both kept in ascending row order). */
export function splitHeldOut(source: TrainingData, heldOutRows: number, seed = 0): { train: TrainingData; heldOut: TrainingData } {
  if (!Number.isInteger(heldOutRows) || heldOutRows < 1 || heldOutRows >= source.rows) {
    throw new InputError("splitHeldOut heldOutRows", `must be an integer in [1, ${source.rows - 1}] for ${source.rows} rows, got ${heldOutRows}`);
  }
  const perm = permutation(source.rows, seed);
  const held = perm.slice(0, heldOutRows).sort();
  const train = perm.slice(heldOutRows).sort();
  return {
    train: subsetRows(source, train, `${source.description} (train)`),
    heldOut: subsetRows(source, held, `${source.description} (held out)`),
  };
}
