// Named hook points (TransformerLens names) and splices: replacing a hook's value at chosen (sequence, position)
// entries, then letting the forward pass continue from the modified value.
import { tf } from "../backend/index";
import { InputError } from "../errors";

export const HOOK_POINTS = ["hook_resid_pre", "hook_attn_out", "hook_resid_mid", "hook_mlp_out", "hook_resid_post"] as const;
export type HookPoint = (typeof HOOK_POINTS)[number];
/** `blocks.{L}.{point}`; `blocks.L.hook_resid_post` is the same vector as `blocks.{L+1}.hook_resid_pre`. */
export type HookName = `blocks.${number}.${HookPoint}`;

export function hookName(layer: number, point: HookPoint): HookName {
  return `blocks.${layer}.${point}`;
}

/** Parses and validates a hook name against a model's layer count. */
export function parseHookName(name: string, nLayers: number): { layer: number; point: HookPoint } {
  const m = /^blocks\.(\d+)\.(hook_[a-z_]+)$/.exec(name);
  const point = m?.[2] as HookPoint | undefined;
  if (!m || !point || !HOOK_POINTS.includes(point)) {
    throw new InputError("hook", `'${name}' is not a hook name; expected blocks.<layer>.<${HOOK_POINTS.join("|")}>`);
  }
  const layer = Number(m[1]);
  if (layer >= nLayers) throw new InputError("hook", `'${name}': the model has layers 0..${nLayers - 1}`);
  return { layer, point };
}

/** Which (sequence, position) entries a splice replaces. */
export type PositionSelector =
  /** One flag per entry of the [batch, seqLen] token grid, row-major. */
  | { mask: ArrayLike<boolean | number> }
  /** Token positions, replaced in every sequence. */
  | { positions: readonly number[] };

/** Replacement rows for the selected entries: an [n, d] array in row-major (sequence, position) order, or a function. */
export type SpliceValue = Float32Array | tf.Tensor2D | ((original: tf.Tensor2D) => tf.Tensor2D);

export interface Splice {
  hook: HookName;
  /** The entries to replace; default all. */
  at?: PositionSelector;
  /**
   * The new rows, or a function from the original rows [n, d] to new rows [n, d] (called inside the forward's tidy;
   * differentiable when the function is).
   */
  value: SpliceValue;
}

/** Flat row indices (sequence · seqLen + position) a selector picks, ascending; null for "every entry". */
export function selectedRows(at: PositionSelector | undefined, batch: number, seqLen: number): Int32Array | null {
  if (at === undefined) return null;
  const rows: number[] = [];
  if ("mask" in at) {
    if (at.mask.length !== batch * seqLen) {
      throw new InputError("splice mask", `has ${at.mask.length} entries; the tokens are ${batch}×${seqLen} = ${batch * seqLen}`);
    }
    for (let i = 0; i < at.mask.length; i++) if (at.mask[i]) rows.push(i);
  } else {
    const seen = new Set<number>();
    for (const p of at.positions) {
      if (!Number.isInteger(p) || p < 0 || p >= seqLen) throw new InputError("splice positions", `position ${p} is outside 0..${seqLen - 1}`);
      if (seen.has(p)) throw new InputError("splice positions", `position ${p} is listed twice`);
      seen.add(p);
    }
    const sorted = [...seen].sort((a, b) => a - b);
    for (let b = 0; b < batch; b++) for (const p of sorted) rows.push(b * seqLen + p);
  }
  return Int32Array.from(rows);
}

// tf.gradients runs the forward pass in its own tidy, so a gradient function may only use saved tensors, its
// inputs, or tensors it creates itself: the row indices travel as a plain Int32Array and become tensors on demand.
function rowIndex(rows: Int32Array): tf.Tensor2D {
  return tf.tensor2d(rows, [rows.length, 1], "int32");
}

/** table[rows] with a gradient (tf.gather has none on wasm): forward gatherND, backward scatterND (sums repeats). */
export function gatherRows(table: tf.Tensor2D, rows: Int32Array): tf.Tensor2D {
  const shape = table.shape;
  const f = tf.customGrad(((t: tf.Tensor2D) => ({
    value: tf.gatherND(t, rowIndex(rows)) as tf.Tensor2D,
    gradFunc: (dy: tf.Tensor2D) => tf.scatterND(rowIndex(rows), dy, shape),
  })) as unknown as Parameters<typeof tf.customGrad>[0]);
  return f(table) as tf.Tensor2D;
}

/** An [n, d] tensor that is zero except row rows[i] = values[i] (rows distinct); differentiable in `values`. */
export function scatterRows(values: tf.Tensor2D, rows: Int32Array, n: number): tf.Tensor2D {
  const shape: [number, number] = [n, values.shape[1]];
  const f = tf.customGrad(((v: tf.Tensor2D) => ({
    value: tf.scatterND(rowIndex(rows), v, shape) as tf.Tensor2D,
    gradFunc: (dy: tf.Tensor2D) => tf.gatherND(dy, rowIndex(rows)),
  })) as unknown as Parameters<typeof tf.customGrad>[0]);
  return f(values) as tf.Tensor2D;
}

/** x [N, d] with the given rows replaced; exact (selected rows become the new values, others stay bit-identical). */
export function applySplice(x: tf.Tensor2D, splice: Splice, batch: number, seqLen: number): tf.Tensor2D {
  const [n, d] = x.shape;
  const rows = selectedRows(splice.at, batch, seqLen);
  const count = rows ? rows.length : n;
  if (count === 0) return x;
  let value: tf.Tensor2D;
  if (typeof splice.value === "function") {
    const original = rows ? gatherRows(x, rows) : x;
    value = splice.value(original);
  } else if (splice.value instanceof Float32Array) {
    if (splice.value.length !== count * d) {
      throw new InputError(`splice ${splice.hook}`, `value has ${splice.value.length} floats; ${count} rows × d ${d} = ${count * d} expected`);
    }
    value = tf.tensor2d(splice.value, [count, d]);
  } else {
    value = splice.value;
  }
  if (value.rank !== 2 || value.shape[0] !== count || value.shape[1] !== d) {
    throw new InputError(`splice ${splice.hook}`, `value has shape [${value.shape}]; [${count}, ${d}] expected`);
  }
  if (!rows) return value;
  // x·keep + scatter(value): keep is 0 on replaced rows, 1 elsewhere, so both parts are exact.
  const keep = new Float32Array(n).fill(1);
  for (const r of rows) keep[r] = 0;
  return tf.add(tf.mul(x, tf.tensor2d(keep, [n, 1])), scatterRows(value, rows, n)) as tf.Tensor2D;
}
