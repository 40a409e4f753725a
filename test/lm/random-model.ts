// Seeded random llama2.c models for tests that must run without ../shared.
import type { LlamaConfig, LlamaWeights } from "../../src/lm/checkpoint";
import { kvDim } from "../../src/lm/checkpoint";
import { normals } from "../helpers/random";

/** A small model with grouped-query attention (2 query heads per kv head) and an unshared classifier. */
export const SMALL_CONFIG: LlamaConfig = {
  dim: 24, hiddenDim: 40, nLayers: 3, nHeads: 4, nKvHeads: 2, vocabSize: 37, seqLen: 32, sharedClassifier: false,
};

export function randomWeights(c: LlamaConfig, seed: number): LlamaWeights {
  let s = seed * 1000;
  // Scaled so that attention patterns and activations are far from uniform/linear (a real test of the forward).
  const mat = (n: number, fanIn: number) => normals(n, ++s).map((x) => x / Math.sqrt(fanIn) * 1.5);
  const gains = (n: number) => normals(n, ++s).map((x) => 1 + 0.3 * x);
  const d = c.dim, h = c.hiddenDim, L = c.nLayers, kv = kvDim(c);
  return {
    config: { ...c },
    tokenEmbedding: normals(c.vocabSize * d, ++s),
    rmsAtt: gains(L * d), wq: mat(L * d * d, d), wk: mat(L * kv * d, d), wv: mat(L * kv * d, d), wo: mat(L * d * d, d),
    rmsFfn: gains(L * d), w1: mat(L * h * d, d), w2: mat(L * d * h, h), w3: mat(L * h * d, d),
    rmsFinal: gains(d),
    wcls: c.sharedClassifier ? null : mat(c.vocabSize * d, d),
  };
}

export function randomTokens(batch: number, length: number, vocab: number, seed: number): number[][] {
  const u = normals(batch * length, seed);
  return Array.from({ length: batch }, (_, b) =>
    Array.from({ length }, (_, t) => Math.floor(Math.abs(u[b * length + t] * 7919)) % vocab));
}
