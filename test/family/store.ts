// A small two-hook activation store from the tiny random model of test/activations/tiny.ts (d = 16, 1,080 rows),
// built once per test file into a temporary folder.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { type ActivationStore, buildActivationStore, type StoreConfig } from "../../src/activations";
import { initBackend } from "../../src/backend";
import { Sae } from "../../src/sae";
import { normals } from "../helpers/random";
import { tiny } from "../activations/tiny";

export const HOOKS = ["blocks.0.hook_resid_post", "blocks.1.hook_resid_post"];
export const STORE_CONFIG: StoreConfig = { hooks: HOOKS, contexts: 40, ctx: 32, skip: 4, seed: 5, corpusPart: "all", contextsPerChunk: 16 };

export interface TinyStore { root: string; store: ActivationStore; cleanup(): void }

export async function tinyStore(): Promise<TinyStore> {
  await initBackend();
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "dm-family-"));
  const t = tiny();
  const built = buildActivationStore({ weights: t.weights, tokenizer: t.tokenizer, corpus: t.corpus }, { root: path.join(root, "stores"), config: STORE_CONFIG });
  const store = built.store!;
  return { root, store, cleanup: () => { store.close(); fs.rmSync(root, { recursive: true, force: true }); } };
}

/** A seeded random TopK SAE (weights of the right scale to reconstruct something, not trained). */
export function randomSae(d: number, n: number, k: number, seed: number, metadata?: { hookName: string; layer: number }): Sae {
  const W_dec = normals(n * d, seed);
  for (let j = 0; j < n; j++) {
    let s = 0;
    for (let t = 0; t < d; t++) s += W_dec[j * d + t] ** 2;
    for (let t = 0; t < d; t++) W_dec[j * d + t] /= Math.sqrt(s);
  }
  const W_enc = new Float32Array(d * n);
  for (let t = 0; t < d; t++) for (let j = 0; j < n; j++) W_enc[t * n + j] = W_dec[j * d + t];
  const b_enc = normals(n, seed + 1).map((v) => 0.1 * v);
  const b_dec = normals(d, seed + 2).map((v) => 0.1 * v);
  return new Sae({ architecture: "topk", d_in: d, d_sae: n, k, applyBDecToInput: true, weights: { W_enc, W_dec, b_enc, b_dec }, metadata });
}
