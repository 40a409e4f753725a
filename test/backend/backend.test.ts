import { test } from "node:test";
import * as assert from "node:assert/strict";
import { availableBackends, initBackend, matMul, matMulNT, matMulTN, tf, loadNativeBlas } from "../../src/backend";
import { normals } from "../helpers/random";

/** Float64 reference product of row-major a[m,k] and b[k,n]. */
function refMatMul(a: Float32Array, b: Float32Array, m: number, k: number, n: number): Float64Array {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++) for (let p = 0; p < k; p++) {
    const aip = a[i * k + p];
    for (let j = 0; j < n; j++) c[i * n + j] += aip * b[p * n + j];
  }
  return c;
}

function transpose(x: Float32Array, rows: number, cols: number): Float32Array {
  const t = new Float32Array(x.length);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) t[j * rows + i] = x[i * cols + j];
  return t;
}

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  let worst = 0;
  for (let i = 0; i < actual.length; i++) worst = Math.max(worst, Math.abs(actual[i] - expected[i]) / (1 + Math.abs(expected[i])));
  assert.ok(worst < tol, `${what}: max relative error ${worst} ≥ ${tol}`);
}

test("the native BLAS addon loads or says why not", () => {
  const { blas, reason } = loadNativeBlas();
  assert.ok(reason.length > 0);
  if (blas) assert.match(blas.config().config, /OpenBLAS/);
});

test("DARKMATTER_BACKEND values are validated", async () => {
  await assert.rejects(initBackend("gpu" as never), /not a backend/);
});

for (const name of availableBackends()) {
  test(`matmul on ${name}: products, transposes, batches and gradients agree with float64`, async () => {
    const info = await initBackend(name);
    assert.equal(info.name, name);
    for (const [m, k, n] of [[1, 1, 1], [3, 5, 2], [37, 64, 19], [128, 33, 70]]) {
      const a = normals(m * k, m * 100 + k), b = normals(k * n, n * 7 + 3);
      const expected = refMatMul(a, b, m, k, n);
      const ta = tf.tensor2d(a, [m, k]), tb = tf.tensor2d(b, [k, n]);
      assertClose(matMul(ta, tb).dataSync(), expected, 1e-4, `matMul ${m}x${k}x${n}`);
      assertClose(tf.matMul(tf.tensor2d(transpose(a, m, k), [k, m]), tb, true, false).dataSync(), expected, 1e-4, "transposeA");
      assertClose(tf.matMul(ta, tf.tensor2d(transpose(b, k, n), [n, k]), false, true).dataSync(), expected, 1e-4, "transposeB");
      assertClose(matMulNT(ta, tf.tensor2d(transpose(b, k, n), [n, k])).dataSync(), expected, 1e-4, "matMulNT");
      assertClose(matMulTN(tf.tensor2d(transpose(a, m, k), [k, m]), tb).dataSync(), expected, 1e-4, "matMulTN");
      tf.dispose([ta, tb]);
    }
    // batched, and a single matrix broadcast against a batch
    const a3 = normals(2 * 4 * 3, 1), b3 = normals(2 * 3 * 5, 2);
    const out = tf.matMul(tf.tensor3d(a3, [2, 4, 3]), tf.tensor3d(b3, [2, 3, 5])).dataSync();
    for (let i = 0; i < 2; i++) {
      assertClose(out.slice(i * 20, i * 20 + 20), refMatMul(a3.slice(i * 12, i * 12 + 12), b3.slice(i * 15, i * 15 + 15), 4, 3, 5), 1e-4, `batch ${i}`);
    }
    const bcast = tf.matMul(tf.tensor3d(a3.slice(0, 12), [1, 4, 3]), tf.tensor3d(b3, [2, 3, 5])).dataSync();
    assertClose(bcast.slice(20, 40), refMatMul(a3.slice(0, 12), b3.slice(15, 30), 4, 3, 5), 1e-4, "broadcast batch");
    // gradients of sum(w ⊙ (a·b)): d/da = w·bᵀ, d/db = aᵀ·w
    const [m, k, n] = [6, 4, 5];
    const a = normals(m * k, 11), b = normals(k * n, 12), w = normals(m * n, 13);
    const tw = tf.tensor2d(w, [m, n]);
    const grads = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(matMul(x as tf.Tensor2D, y as tf.Tensor2D), tw)));
    const [ga, gb] = grads([tf.tensor2d(a, [m, k]), tf.tensor2d(b, [k, n])]);
    assertClose(ga.dataSync(), refMatMul(w, transpose(b, k, n), m, n, k), 1e-4, "grad a");
    assertClose(gb.dataSync(), refMatMul(transpose(a, m, k), w, k, m, n), 1e-4, "grad b");
    assert.throws(() => tf.matMul(tf.zeros([2, 3]), tf.zeros([4, 2])), /inner|match/i);
  });
}
