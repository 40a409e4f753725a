// Token ids given as a tensor file ([contexts, ctx] integers, e.g. a .npy): the contexts of an activation store used
// exactly as given, so a store can be built on the same tokens another tool used.
import { InputError } from "../errors";
import { openTensorFile } from "../io/open";

export interface TokenGrid {
  tokens: Int32Array;
  count: number;
  ctx: number;
  source: string;
}

/** Reads a [contexts, ctx] int32 (or int64 with values that fit) token tensor. */
export function readTokenContexts(file: string): TokenGrid {
  const f = openTensorFile(file);
  try {
    if (f.entries.length !== 1) throw new InputError(file, `holds ${f.entries.length} tensors; one [contexts, ctx] token tensor is needed`);
    const e = f.entries[0];
    if (e.shape.length !== 2 || e.shape[0] < 1 || e.shape[1] < 2) {
      throw new InputError(file, `token ids must have shape [contexts, ctx] with ctx ≥ 2, got [${e.shape.join(", ")}]`);
    }
    const t = f.read(e.name);
    let tokens: Int32Array;
    if (t.dtype === "int32") tokens = t.data as Int32Array;
    else if (t.dtype === "int64") {
      const big = t.data as BigInt64Array;
      tokens = new Int32Array(big.length);
      for (let i = 0; i < big.length; i++) {
        if (big[i] < 0n || big[i] > 2147483647n) throw new InputError(file, `token ${big[i]} at element ${i} is not a token id`);
        tokens[i] = Number(big[i]);
      }
    } else throw new InputError(file, `token ids must be int32 (or int64), got ${t.dtype}`);
    const bad = tokens.findIndex((x) => x < 0);
    if (bad >= 0) throw new InputError(file, `token ${tokens[bad]} at element ${bad} is negative`);
    return { tokens, count: e.shape[0], ctx: e.shape[1], source: file };
  } finally {
    f.close();
  }
}
