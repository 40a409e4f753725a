// The chunked forward pass: any chunking gives the same result, tensors and arrays give the same result, encode/decode
// compose to forward, FVU follows its formula, and bad inputs are rejected with InputError.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as path from "path";
import { availableBackends, initBackend, tf } from "../../src/backend/index";
import { InputError } from "../../src/errors";
import { ForwardOptions, FvuAccumulator, Sae, chunkRowsFor, ensureBackendCapacity, loadSae } from "../../src/sae/index";
import { normals } from "../helpers/random";
import { FIXTURES, assertClose, identitySae, loadReference } from "./helpers";

/** A random JumpReLU SAE with about a third of latents active on standard-normal inputs. */
function randomSae(d_in: number, d_sae: number, seed: number, applyBDecToInput = true): Sae {
  const scale = (a: Float32Array, s: number) => a.map((v) => v * s);
  return new Sae({
    architecture: "jumprelu", d_in, d_sae, applyBDecToInput,
    weights: {
      W_enc: scale(normals(d_in * d_sae, seed), 1 / Math.sqrt(d_in)), W_dec: scale(normals(d_sae * d_in, seed + 1), 1 / Math.sqrt(d_sae)),
      b_enc: scale(normals(d_sae, seed + 2), 0.1), b_dec: scale(normals(d_in, seed + 3), 0.1), threshold: new Float32Array(d_sae).fill(0.4),
    },
  });
}

for (const backend of availableBackends()) {
  test(`chunked forward equals one chunk on ${backend}`, async () => {
    await initBackend(backend);
    const sae = randomSae(12, 40, 1);
    const x = normals(37 * 12, 7);
    const whole = sae.forward(x, { chunkRows: 37 });
    const variants: ForwardOptions[] = [{ chunkRows: 1 }, { chunkRows: 5 }, { chunkRows: 36 }, { memoryBudgetBytes: 4 * 4 * 40 * 3 }, {},
      // Both decode paths (SIMD adds of the active decoder rows, and the matmul) on every backend.
      { decodePath: "sparse" }, { decodePath: "sparse", chunkRows: 5 }, { decodePath: "dense", chunkRows: 3 }, { decodePath: "sparse", latents: false }];
    for (const options of variants) {
      // BLAS may round differently for different row counts, so values agree to float32 accuracy, not bitwise.
      const part = sae.forward(x, options);
      const what = JSON.stringify(options);
      assertClose(part.reconstruction, whole.reconstruction, 1e-6, `reconstruction with ${what}`);
      assertClose(part.error, whole.error, 1e-6, `error with ${what}`);
      assert.deepEqual(part.l0, whole.l0);
      if (options.latents === false) {
        assert.equal(part.latents, undefined);
      } else {
        assert.deepEqual(part.latents!.rowPtr, whole.latents!.rowPtr);
        assert.deepEqual(part.latents!.indices, whole.latents!.indices);
        assertClose(part.latents!.values, whole.latents!.values, 1e-6, `latent values with ${what}`);
      }
      assert.ok(Math.abs(part.fvu - whole.fvu) < 1e-6 * whole.fvu, `fvu ${part.fvu} vs ${whole.fvu}`);
    }
    assert.ok(whole.meanL0 > 3 && whole.meanL0 < 37, `a useful test needs some but not all latents active (mean L0 ${whole.meanL0})`);
    sae.dispose();
  });

  test(`tensor input, encode and decode agree with forward on ${backend}`, async () => {
    await initBackend(backend);
    const sae = randomSae(8, 24, 11);
    const x = normals(19 * 8, 3);
    const out = sae.forward(x, { chunkRows: 6 });
    const xt = tf.tensor2d(x, [19, 8]);
    const viaTensor = sae.forward(xt, { chunkRows: 6 });
    assert.deepEqual(viaTensor.reconstruction, out.reconstruction);
    assert.deepEqual(viaTensor.latents, out.latents);
    assert.ok(!xt.isDisposed, "the caller's tensor is left alone");
    xt.dispose();
    const latents = sae.encode(x, { chunkRows: 6 });
    assert.deepEqual(latents, out.latents);
    for (let r = 0; r < latents.rows; r++) {
      for (let p = latents.rowPtr[r] + 1; p < latents.rowPtr[r + 1]; p++) assert.ok(latents.indices[p] > latents.indices[p - 1], "indices ascend within a row");
    }
    assertClose(sae.decode(latents, { chunkRows: 5 }), out.reconstruction, 1e-6, "decode(encode(x))");
    assertClose(sae.decode(latents, { decodePath: "sparse" }), out.reconstruction, 1e-6, "sparse decode(encode(x))");
    assertClose(sae.decode(latents, { decodePath: "dense", chunkRows: 4 }), out.reconstruction, 1e-6, "dense decode(encode(x))");
    sae.dispose();
  });
}

test("FVU: the golden case from formats-and-metrics §3, in one block and streamed", () => {
  // x = [[2,0],[0,4]], x̂ = [[2,1],[0,3]]: centred sum of squares 10, residual sum of squares 2 → 0.2.
  const x = Float32Array.of(2, 0, 0, 4), err = Float32Array.of(0, -1, 0, 1);
  const one = new FvuAccumulator(2);
  one.add(x, err);
  assert.equal(one.centredSumOfSquares, 10);
  assert.equal(one.residualSumOfSquares, 2);
  assert.equal(one.fvu(), 0.2);
  const streamed = new FvuAccumulator(2);
  streamed.add(x.subarray(0, 2), err.subarray(0, 2));
  streamed.add(x.subarray(2), err.subarray(2));
  assert.equal(streamed.fvu(), 0.2);
  // Predicting the per-dimension mean explains nothing; a single row has no variance.
  const mean = new FvuAccumulator(2);
  mean.add(x, Float32Array.of(1, -2, -1, 2));
  assert.equal(mean.fvu(), 1);
  const single = new FvuAccumulator(2);
  single.add(Float32Array.of(1, 2), Float32Array.of(0, 0));
  assert.ok(Number.isNaN(single.fvu()));
});

test("FVU stays exact when the mean dwarfs the spread", () => {
  // Rows 1e6 ± 1 in float32 are exact; a naive Σx² − n·x̄² would lose the variance to cancellation.
  const rows = 1000, x = new Float32Array(rows), err = new Float32Array(rows);
  for (let i = 0; i < rows; i++) { x[i] = 1e6 + (i % 2 ? 1 : -1); err[i] = 0.5; }
  const acc = new FvuAccumulator(1);
  for (let i = 0; i < rows; i += 7) acc.add(x.subarray(i, Math.min(rows, i + 7)), err.subarray(i, Math.min(rows, i + 7)));
  assert.ok(Math.abs(acc.centredSumOfSquares - rows) < 1e-6, `centred sum ${acc.centredSumOfSquares}`);
  assert.ok(Math.abs(acc.fvu() - 0.25) < 1e-9);
});

test("chunk size follows the memory budget", () => {
  assert.equal(chunkRowsFor(16384, { memoryBudgetBytes: 256 * 1024 ** 2 }), 1024);
  assert.equal(chunkRowsFor(2 ** 20, { memoryBudgetBytes: 256 * 1024 ** 2 }), 16);
  assert.equal(chunkRowsFor(2 ** 24, { memoryBudgetBytes: 1 }), 1, "at least one row");
  assert.equal(chunkRowsFor(100, { chunkRows: 3 }), 3);
  assert.throws(() => chunkRowsFor(100, { chunkRows: 0 }), InputError);
  assert.throws(() => chunkRowsFor(100, { memoryBudgetBytes: -5 }), InputError);
});

test("bad inputs to forward, encode and decode are InputErrors", async () => {
  await initBackend();
  const sae = identitySae("relu", 3);
  assert.throws(() => sae.forward(new Float32Array(7)), /whole number of rows/);
  assert.throws(() => sae.forward(Float32Array.of(1, NaN, 0)), (e: unknown) => e instanceof InputError && /row 0 .*NaN.*column 1/.test(e.message));
  assert.throws(() => sae.forward(Float32Array.of(0, 0, 0, 1, Infinity, 0)), /row 1 .*Infinity/);
  const wide = tf.zeros([2, 4]) as tf.Tensor2D;
  assert.throws(() => sae.forward(wide), /4 columns but the SAE's d_in is 3/);
  wide.dispose();
  const good = { rows: 1, d_sae: 3, rowPtr: Int32Array.of(0, 1), indices: Int32Array.of(2), values: Float32Array.of(1) };
  assert.deepEqual(Array.from(sae.decode(good)), [0, 0, 1]);
  assert.throws(() => sae.decode({ ...good, indices: Int32Array.of(3) }), /outside 0..2/);
  assert.throws(() => sae.decode({ ...good, d_sae: 4 }), /over 4 latents/);
  assert.throws(() => sae.decode({ ...good, rowPtr: Int32Array.of(0, 2) }), /rowPtr must run/);
  assert.throws(() => sae.decode({ ...good, values: Float32Array.of(NaN) }), /not finite/);
  const empty = sae.forward(new Float32Array(0));
  assert.equal(empty.rows, 0);
  assert.ok(Number.isNaN(empty.fvu));
  sae.dispose();
  assert.throws(() => sae.forward(Float32Array.of(1, 2, 3)), /disposed/);
});

test("the SAE constructor validates architecture, sizes, shapes and values", async () => {
  await initBackend();
  const W = new Float32Array(6), b2 = new Float32Array(2), b3 = new Float32Array(3);
  const base = { architecture: "relu" as const, d_in: 2, d_sae: 3, applyBDecToInput: false, weights: { W_enc: W, W_dec: W, b_enc: b3, b_dec: b2 } };
  new Sae(base).dispose();
  assert.throws(() => new Sae({ ...base, architecture: "softmax" as never }), /unknown architecture/);
  assert.throws(() => new Sae({ ...base, d_sae: 0 }), /d_sae must be a positive integer/);
  assert.throws(() => new Sae({ ...base, weights: { ...base.weights, b_enc: b2 } }), /b_enc has 2 values but shape \[3\]/);
  assert.throws(() => new Sae({ ...base, weights: { ...base.weights, W_enc: new Float32Array(5) } }), /W_enc has 5 values/);
  assert.throws(() => new Sae({ ...base, weights: { ...base.weights, b_dec: Float32Array.of(0, NaN) } }), /b_dec has a non-finite value/);
  assert.throws(() => new Sae({ ...base, architecture: "jumprelu" }), /needs weight threshold/);
  assert.throws(() => new Sae({ ...base, architecture: "topk" }), /k must be a positive integer/);
  assert.throws(() => new Sae({ ...base, architecture: "topk", k: 4 }), /k = 4 exceeds d_sae = 3/);
  assert.throws(() => new Sae({ ...base, k: 2 }), /only meaningful for topk/);
  assert.throws(() => new Sae({ ...base, weights: { ...base.weights, threshold: b3 } }), /threshold is not used by relu/);
  assert.throws(() => new Sae({ ...base, weights: { ...base.weights, W_enc: tf.zeros([3, 2]) } }), /W_enc has shape \[3, 2\], expected \[2, 3\]/);
  assert.throws(() => new Sae({ ...base, weights: { ...base.weights, W_dec: tf.fill([3, 2], Infinity) } }), /W_dec has 6 non-finite values/);
});

test("FVU accumulated over streamed blocks equals the reference FVU of the whole batch", async () => {
  await initBackend();
  const ref = loadReference("saelens-v6-jumprelu");
  const sae = await loadSae(path.join(FIXTURES, "saelens-v6-jumprelu"));
  const acc = new FvuAccumulator(ref.d_in);
  for (let r0 = 0; r0 < ref.rows; r0 += 5) {
    const x = ref.x.subarray(r0 * ref.d_in, Math.min(ref.rows, r0 + 5) * ref.d_in);
    acc.add(x, sae.forward(x).error);
  }
  assert.ok(Math.abs(acc.fvu() - ref.fvu) < 1e-5 * ref.fvu);
  sae.dispose();
});

test("the wasm heap's 4 GiB limit is checked before weights are allocated", async () => {
  for (const backend of availableBackends().filter((b) => b === "wasm" || b === "wasm-blas")) {
    await initBackend(backend);
    assert.throws(() => ensureBackendCapacity("big.safetensors", 4.5 * 1024 ** 3), (e: unknown) =>
      e instanceof InputError && /big\.safetensors/.test(e.message) && /at most 4 GiB/.test(e.message));
    ensureBackendCapacity("small.safetensors", 1024 ** 2);
  }
});
