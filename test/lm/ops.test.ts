// The fused native kernels of the forward pass (wasm-blas) against the same pieces in plain tfjs ops (wasm backend):
// values and gradients, on shapes that cross the attention kernel's row blocks, with grouped-query attention, and
// with extreme inputs for the kernels' exp. Skipped where the native addon is not built.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import { availableBackends, initBackend, loadNativeBlas, tf } from "../../src/backend/index";
import type { LlamaConfig } from "../../src/lm/checkpoint";
import { nativeKernelsActive } from "../../src/lm/native-kernels";
import { attentionGeometry, crossEntropyRows, rmsNorm, selfAttention, swiglu } from "../../src/lm/ops";
import { normals } from "../helpers/random";

const skip = !availableBackends().includes("wasm-blas") && "the native BLAS addon is not built";

function worstRelative(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]) / (1 + Math.abs(b[i])));
  return m;
}

/** Value and gradients (of Σ out ⊙ probe) of `op` on `inputs`, as arrays, on the given backend. */
async function valueAndGrads(backend: "wasm-blas" | "wasm", inputs: Float32Array[], shapes: number[][],
  op: (...xs: tf.Tensor[]) => tf.Tensor, probeSeed: number): Promise<{ value: Float32Array; grads: Float32Array[] }> {
  await initBackend(backend);
  assert.equal(nativeKernelsActive(), backend === "wasm-blas");
  return tf.tidy(() => {
    const xs = inputs.map((a, i) => tf.tensor(a, shapes[i]));
    const value = op(...xs);
    const probe = tf.tensor(normals(value.size, probeSeed), value.shape);
    const grads = tf.grads((...ys: tf.Tensor[]) => tf.sum(tf.mul(op(...ys), probe)))(xs);
    return { value: value.dataSync() as Float32Array, grads: grads.map((g) => g.dataSync() as Float32Array) };
  });
}

async function compare(what: string, inputs: Float32Array[], shapes: number[][], op: (...xs: tf.Tensor[]) => tf.Tensor,
  tolerance = 1e-5): Promise<void> {
  const native = await valueAndGrads("wasm-blas", inputs, shapes, op, 99);
  const reference = await valueAndGrads("wasm", inputs, shapes, op, 99);
  assert.ok(native.value.every(Number.isFinite), `${what}: non-finite values`);
  const v = worstRelative(native.value, reference.value);
  assert.ok(v < tolerance, `${what}: values differ by ${v}`);
  native.grads.forEach((g, i) => {
    const e = worstRelative(g, reference.grads[i]);
    assert.ok(e < 10 * tolerance, `${what}: gradient ${i} differs by ${e}`);
  });
}

test("fused RMSNorm and SwiGLU match the tfjs ops, values and gradients", { skip }, async () => {
  const rows = 37, d = 24;
  const x = normals(rows * d, 1), w = normals(d, 2).map((v) => 1 + 0.3 * v);
  await compare("rmsNorm", [x, w], [[rows, d], [d]], (a, b) => rmsNorm(a as tf.Tensor2D, b as tf.Tensor1D));
  const g = normals(rows * d, 3).map((v, i) => (i % 11 === 0 ? v * 60 : v * 3)), u = normals(rows * d, 4);
  await compare("swiglu", [g, u], [[rows, d], [rows, d]], (a, b) => swiglu(a as tf.Tensor2D, b as tf.Tensor2D));
});

test("fused cross-entropy matches the tfjs ops, including rows with huge logits", { skip }, async () => {
  const rows = 9, V = 301;
  const z = normals(rows * V, 5).map((v, i) => (Math.floor(i / V) === 3 ? v * 40 : v * 4));
  z[5 * V + 17] = 80; // one dominant logit: that row's loss is ~0 for target 17
  const targets = Int32Array.from({ length: rows }, (_, r) => (r * 53 + 17) % V);
  targets[5] = 17;
  await compare("crossEntropy", [z], [[rows, V]], (a) => crossEntropyRows(a as tf.Tensor2D, targets));
  const bad = loadNativeBlas().blas as unknown as { crossEntropy(r: number, v: number, z: Float32Array, t: Int32Array, l: Float32Array): void };
  assert.throws(() => bad.crossEntropy(1, V, z, Int32Array.of(V), new Float32Array(1)), /target outside/);
});

test("fused causal attention matches the tfjs attention (GQA, several row blocks, odd lengths)", { skip }, async () => {
  const configs: LlamaConfig[] = [
    { dim: 24, hiddenDim: 40, nLayers: 1, nHeads: 4, nKvHeads: 2, vocabSize: 10, seqLen: 200, sharedClassifier: true },
    { dim: 32, hiddenDim: 40, nLayers: 1, nHeads: 2, nKvHeads: 2, vocabSize: 10, seqLen: 200, sharedClassifier: true },
  ];
  for (const c of configs) {
    const kv = (c.dim / c.nHeads) * c.nKvHeads;
    for (const [B, T] of [[2, 1], [3, 7], [2, 150]]) {
      const q = normals(B * T * c.dim, B * T + 1).map((v) => 2 * v), k = normals(B * T * kv, B * T + 2).map((v) => 2 * v);
      const v = normals(B * T * kv, B * T + 3);
      await compare(`attention ${c.nHeads}/${c.nKvHeads} heads, ${B}×${T}`, [q, k, v], [[B * T, c.dim], [B * T, kv], [B * T, kv]],
        (a, b, e) => selfAttention(a as tf.Tensor2D, b as tf.Tensor2D, e as tf.Tensor2D, attentionGeometry(c, B, T, 0, false)));
    }
  }
});

test("the fused kernels run only while wasm-blas is the active backend", { skip }, async () => {
  await initBackend("wasm");
  assert.equal(nativeKernelsActive(), false);
  await initBackend("wasm-blas");
  assert.equal(nativeKernelsActive(), true);
});
