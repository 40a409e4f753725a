// Each architecture's activation rule on tiny hand-computed cases (W_enc = W_dec = I, so pre = x + bias), on every
// backend: ReLU, JumpReLU's strict threshold, TopK ties, gated gating, and b_dec subtraction.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import { availableBackends, initBackend, tf } from "../../src/backend/index";
import { Sae } from "../../src/sae/index";
import { denseOf, identitySae } from "./helpers";

function latentsOf(sae: Sae, rows: number[][]): number[][] {
  const f = denseOf(sae.encode(Float32Array.from(rows.flat())));
  return rows.map((_, r) => Array.from(f.subarray(r * sae.d_sae, (r + 1) * sae.d_sae)));
}

for (const backend of availableBackends()) {
  test(`relu on ${backend}: max(pre, 0)`, async () => {
    await initBackend(backend);
    const sae = identitySae("relu", 4, { b_enc: Float32Array.of(0, 0, 1, -1) });
    assert.deepEqual(latentsOf(sae, [[-1, 0, 2, 0.5]]), [[0, 0, 3, 0]]);
    sae.dispose();
  });

  test(`jumprelu on ${backend}: active only when pre > θ (strict), value = pre`, async () => {
    await initBackend(backend);
    const sae = identitySae("jumprelu", 5, { threshold: Float32Array.of(1, 1, 1, 0, 0.5) });
    // pre equal to θ is inactive; just above is active with its own value (not pre − θ); a zero threshold acts as relu.
    assert.deepEqual(latentsOf(sae, [[1, 1.0000001, 0.5, 0, 0.75]]), [[0, Math.fround(1.0000001), 0, 0, 0.75]]);
    assert.deepEqual(latentsOf(sae, [[3, -2, 2, 1e-3, -0.75]]), [[3, 0, 2, Math.fround(1e-3), 0]]);
    sae.dispose();
    // A scalar threshold is shared by every latent; a negative one still never passes negative pre-activations
    // (SAELens: relu(pre) · 1[pre > θ]).
    const scalar = identitySae("jumprelu", 3, { threshold: Float32Array.of(-0.5) });
    assert.deepEqual(latentsOf(scalar, [[-0.25, 0.25, -1]]), [[0, 0.25, 0]]);
    assert.deepEqual(scalar.summary().threshold, { scalar: -0.5 });
    scalar.dispose();
  });

  test(`topk on ${backend}: k largest positive entries, ties to the lower index`, async () => {
    await initBackend(backend);
    const sae = identitySae("topk", 5, { k: 2 });
    assert.deepEqual(latentsOf(sae, [
      [3, 1, 3, 2, 3], // three-way tie at the top: latents 0 and 2 win
      [1, 5, 5, 5, 5], // tie among the top four: lowest indices 1 and 2
      [-1, 0.5, -2, -3, 0], // one positive value: only it is active (zeros are not latents)
      [-1, -1, -1, -1, -1], // nothing positive: nothing active
      [0, 4, 2, 2, 3], // distinct: 1 and 4
    ]), [
      [3, 0, 3, 0, 0],
      [0, 5, 5, 0, 0],
      [0, 0.5, 0, 0, 0],
      [0, 0, 0, 0, 0],
      [0, 4, 0, 0, 3],
    ]);
    const l0 = sae.forward(Float32Array.of(3, 1, 3, 2, 3, -1, 0.5, -2, -3, 0)).l0;
    assert.deepEqual(Array.from(l0), [2, 1]);
    sae.dispose();
  });

  test(`gated on ${backend}: gate from W_enc + b_gate, magnitude from W_enc·exp(r_mag) + b_mag`, async () => {
    await initBackend(backend);
    const sae = identitySae("gated", 4, {
      b_gate: Float32Array.of(0, 0, -1, 0), b_mag: Float32Array.of(0, -3, 0, 0.5), r_mag: Float32Array.of(0, 0, 0, Math.log(2)),
    });
    // latent 0: gate 2 > 0, mag 2 → 2. latent 1: gate open, mag 2 − 3 < 0 → 0. latent 2: gate 0.5 − 1 < 0 → 0 though
    // mag 0.5 > 0. latent 3: gate 1.5 > 0, mag 1.5·2 + 0.5 = 3.5.
    const [row] = latentsOf(sae, [[2, 2, 0.5, 1.5]]);
    assert.deepEqual(row.slice(0, 3), [2, 0, 0]);
    assert.ok(Math.abs(row[3] - 3.5) < 1e-6, `latent 3 = ${row[3]}`);
    // gate exactly 0 is closed (strict), whatever the magnitude
    assert.deepEqual(latentsOf(sae, [[0, 0, 1, 0]])[0], [0, 0, 0, 0]);
    sae.dispose();
  });

  test(`apply_b_dec_to_input on ${backend}: b_dec is subtracted before encoding and added after decoding`, async () => {
    await initBackend(backend);
    const b_dec = Float32Array.of(1, -1, 0.5);
    const on = identitySae("relu", 3, { b_dec, applyBDecToInput: true });
    const off = identitySae("relu", 3, { b_dec: b_dec.slice(), applyBDecToInput: false });
    const x = Float32Array.of(2, 0, 0.25);
    // on: pre = x − b_dec = [1, 1, −0.25] → f = [1, 1, 0] → x̂ = f + b_dec = [2, 0, 0.5]
    const a = on.forward(x);
    assert.deepEqual(Array.from(a.reconstruction), [2, 0, 0.5]);
    assert.deepEqual(Array.from(a.error), [0, 0, -0.25]);
    // off: pre = x → f = [2, 0, 0.25] → x̂ = [3, −1, 0.75]
    assert.deepEqual(Array.from(off.forward(x).reconstruction), [3, -1, 0.75]);
    on.dispose();
    off.dispose();
  });

  test(`encodeDense and decodeDense on ${backend} agree with the sparse path and are differentiable in f`, async () => {
    await initBackend(backend);
    const sae = identitySae("topk", 4, { k: 2, b_dec: Float32Array.of(0.5, 0, 0, 0) });
    const x = tf.tensor2d([[1, 3, 2, -1], [0, 0, 5, 4]]);
    const f = sae.encodeDense(x);
    assert.deepEqual(Array.from(f.dataSync()), [0, 3, 2, 0, 0, 0, 5, 4]);
    const xhat = sae.decodeDense(f);
    assert.deepEqual(Array.from(xhat.dataSync()), [0.5, 3, 2, 0, 0.5, 0, 5, 4]);
    const g = tf.grad((ff: tf.Tensor) => tf.sum(sae.decodeDense(ff as tf.Tensor2D)))(f);
    assert.deepEqual(Array.from(g.dataSync()), new Array(8).fill(1));
    tf.dispose([x, f, xhat, g]);
    sae.dispose();
  });
}
