// Which rows each training step reads: every epoch visits a seeded permutation of the rows (or the rows in order).
import { deriveSeed, permutation } from "../linalg/random";

/** The row indices (ascending) of batch `step`: epoch e visits a seeded permutation (or the rows in order). */
export function batchPlan(rows: number, batch: number, shuffle: boolean, seed: number): (step: number) => Int32Array {
  const perEpoch = Math.floor(rows / batch);
  let epoch = -1;
  let order: Uint32Array | null = null;
  return (step) => {
    const e = Math.floor(step / perEpoch), b = step - e * perEpoch;
    if (shuffle && e !== epoch) {
      order = permutation(rows, deriveSeed(seed, 100 + e));
      epoch = e;
    }
    const out = new Int32Array(batch);
    if (order) {
      for (let i = 0; i < batch; i++) out[i] = order[b * batch + i];
      out.sort();
    } else {
      for (let i = 0; i < batch; i++) out[i] = b * batch + i;
    }
    return out;
  };
}
