import { test } from "node:test";
import * as assert from "node:assert/strict";
import { availableBackends, initBackend, tf } from "../../src/backend/index";
import { InputError } from "../../src/errors";
import type { LlamaWeights, WeightName } from "../../src/lm/checkpoint";
import { HookName } from "../../src/lm/hooks";
import {
  disposeParams, disposeKvCache, emptyKvCache, forward, forwardTensors, paramVariables, toTensors, toTrainable, toWeights,
} from "../../src/lm/model";
import { randomTokens, randomWeights, SMALL_CONFIG } from "./random-model";
import { referenceForward } from "./reference";

const B = 3, T = 11, V = SMALL_CONFIG.vocabSize, D = SMALL_CONFIG.dim;

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Mean next-token CE of the float64 reference over a batch. */
function referenceMeanLoss(w: LlamaWeights, batch: number[][]): number {
  let total = 0, n = 0;
  for (const seq of batch) {
    const { logits } = referenceForward(w, seq);
    for (let t = 0; t + 1 < seq.length; t++) {
      const row = logits[t];
      const max = Math.max(...row);
      let z = 0;
      for (const v of row) z += Math.exp(v - max);
      total += Math.log(z) + max - row[seq[t + 1]];
      n++;
    }
  }
  return total / n;
}

test("batched logits, loss and hooks agree with the float64 reference (GQA, unshared classifier)", async () => {
  await initBackend();
  for (const shared of [false, true]) {
    const w = randomWeights({ ...SMALL_CONFIG, sharedClassifier: shared }, 21);
    const params = toTensors(w);
    const tokens = randomTokens(B, T, V, 8);
    const hooks: HookName[] = ["blocks.0.hook_resid_post", "blocks.2.hook_resid_post"];
    const r = forward(params, tokens, { logits: true, capture: hooks });
    let worstLogit = 0, worstResid = 0;
    for (let b = 0; b < B; b++) {
      const ref = referenceForward(w, tokens[b]);
      for (let t = 0; t < T; t++) {
        worstLogit = Math.max(worstLogit, maxAbsDiff(r.logits!.subarray((b * T + t) * V, (b * T + t + 1) * V), ref.logits[t]));
        for (const [i, l] of [[0, 0], [1, 2]]) {
          const cap = r.captured.get(hooks[i])!;
          worstResid = Math.max(worstResid, maxAbsDiff(cap.subarray((b * T + t) * D, (b * T + t + 1) * D), ref.residPost[l][t]));
        }
      }
    }
    assert.ok(worstLogit < 1e-4, `logits differ by ${worstLogit}`);
    assert.ok(worstResid < 1e-4, `resid_post differs by ${worstResid}`);
    // Per-token loss: shape [B, T-1], its mean equals the reference, and it matches -log softmax of the logits.
    assert.equal(r.loss!.length, B * (T - 1));
    const mean = r.loss!.reduce((s, x) => s + x, 0) / r.loss!.length;
    assert.ok(Math.abs(mean - referenceMeanLoss(w, tokens)) < 1e-4);
    const b = 1, t = 4, row = r.logits!.subarray((b * T + t) * V, (b * T + t + 1) * V);
    const lse = Math.log(row.reduce((s, x) => s + Math.exp(x), 0));
    assert.ok(Math.abs(r.loss![b * (T - 1) + t] - (lse - row[tokens[b][t + 1]])) < 1e-4);
    disposeParams(params);
  }
});

test("hook identities: resid_mid = resid_pre + attn_out, resid_post = resid_mid + mlp_out = next resid_pre", async () => {
  await initBackend();
  const params = toTensors(randomWeights(SMALL_CONFIG, 22));
  const tokens = randomTokens(2, 7, V, 9);
  const names = (l: number) => ["hook_resid_pre", "hook_attn_out", "hook_resid_mid", "hook_mlp_out", "hook_resid_post"].map((p) => `blocks.${l}.${p}` as HookName);
  const r = forward(params, tokens, { capture: [...names(0), ...names(1)] });
  for (const l of [0, 1]) {
    const [pre, attn, mid, mlp, post] = names(l).map((n) => r.captured.get(n)!);
    assert.equal(pre.length, 2 * 7 * D);
    assert.ok(maxAbsDiff(mid, pre.map((v, i) => v + attn[i])) < 1e-5);
    assert.ok(maxAbsDiff(post, mid.map((v, i) => v + mlp[i])) < 1e-5);
  }
  assert.deepEqual(r.captured.get("blocks.0.hook_resid_post"), r.captured.get("blocks.1.hook_resid_pre"));
  disposeParams(params);
});

test("splicing captured values back reproduces the loss exactly; other values change it causally", async () => {
  await initBackend();
  const params = toTensors(randomWeights(SMALL_CONFIG, 23));
  const tokens = randomTokens(B, T, V, 10);
  const hook: HookName = "blocks.1.hook_resid_mid";
  const clean = forward(params, tokens, { capture: [hook] });
  const captured = clean.captured.get(hook)!;
  // Whole tensor, a mask, a position list and an identity function all give back the clean loss bit for bit.
  const mask = Array.from({ length: B * T }, (_, i) => i % 3 === 0);
  const maskRows = captured.filter((_, i) => mask[Math.floor(i / D)]);
  const posRows = new Float32Array(B * 2 * D);
  for (let b = 0; b < B; b++) for (const [j, p] of [2, 5].entries()) posRows.set(captured.subarray((b * T + p) * D, (b * T + p + 1) * D), (b * 2 + j) * D);
  for (const splice of [
    { hook, value: captured },
    { hook, at: { mask }, value: maskRows },
    { hook, at: { positions: [5, 2] }, value: posRows },
    { hook, at: { positions: [3] }, value: (x: tf.Tensor2D) => tf.mul(x, 1) as tf.Tensor2D },
  ]) {
    assert.deepEqual(forward(params, tokens, { splice: [splice] }).loss, clean.loss);
  }
  // Zeros at position 4 change the loss from position 4 on, never before (causal attention).
  const zeroed = forward(params, tokens, { splice: [{ hook, at: { positions: [4] }, value: new Float32Array(B * D) }], capture: [hook] });
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T - 1; t++) {
      const same = zeroed.loss![b * (T - 1) + t] === clean.loss![b * (T - 1) + t];
      assert.equal(same, t < 4, `sequence ${b} position ${t}`);
    }
  }
  // The captured value is the spliced one.
  const after = zeroed.captured.get(hook)!;
  assert.ok(after.subarray(4 * D, 5 * D).every((v) => v === 0));
  assert.deepEqual(after.subarray(0, 4 * D), captured.subarray(0, 4 * D));
  // Bad splices are input errors.
  assert.throws(() => forward(params, tokens, { splice: [{ hook, at: { positions: [4] }, value: new Float32Array(5) }] }), InputError);
  assert.throws(() => forward(params, tokens, { splice: [{ hook, at: { positions: [T] }, value: new Float32Array(B * D) }] }), InputError);
  assert.throws(() => forward(params, tokens, { splice: [{ hook, at: { mask: [true] }, value: new Float32Array(D) }] }), InputError);
  disposeParams(params);
});

test("stopping early gives the same hook values and runs fewer blocks", async () => {
  await initBackend();
  const params = toTensors(randomWeights(SMALL_CONFIG, 24));
  const tokens = randomTokens(2, 9, V, 11);
  const hook: HookName = "blocks.0.hook_mlp_out";
  const full = forward(params, tokens, { capture: [hook] });
  const early = forward(params, tokens, { capture: [hook], loss: false });
  const explicit = forward(params, tokens, { capture: [hook], stopAtLayer: 1 });
  assert.deepEqual(early.captured.get(hook), full.captured.get(hook));
  assert.deepEqual(explicit.captured.get(hook), full.captured.get(hook));
  assert.equal(early.loss, undefined);
  assert.throws(() => forward(params, tokens, { capture: ["blocks.2.hook_resid_pre"], stopAtLayer: 1 }), /lies after block 1/);
  assert.throws(() => forward(params, tokens, { stopAtLayer: 1, loss: true }), /no loss or logits/);
  assert.throws(() => forward(params, tokens, { capture: ["blocks.3.hook_resid_pre"] }), /layers 0..2/);
  assert.throws(() => forward(params, tokens, { capture: ["blocks.0.resid" as HookName] }), /not a hook name/);
  // Blocks after the stop are never touched: disposing their weights does not matter.
  tf.dispose(Object.values(params.layers[2]));
  tf.dispose(Object.values(params.layers[1]));
  assert.deepEqual(forward(params, tokens, { capture: [hook], loss: false }).captured.get(hook), full.captured.get(hook));
  assert.throws(() => forward(params, tokens, { capture: [hook] }));
  tf.dispose([params.embedding, params.rmsFinal, params.classifier!, ...Object.values(params.layers[0])]);
});

test("token batches are validated", async () => {
  await initBackend();
  const params = toTensors(randomWeights(SMALL_CONFIG, 25));
  assert.throws(() => forward(params, [[1, 2], [3]]), /sequence 1 has 1 tokens/);
  assert.throws(() => forward(params, [[1, V]]), /outside the vocabulary/);
  assert.throws(() => forward(params, [[1, -1]]), /outside the vocabulary/);
  assert.throws(() => forward(params, [[1, 2.5]]), /outside the vocabulary/);
  assert.throws(() => forward(params, [new Array(SMALL_CONFIG.seqLen + 1).fill(1)]), /seq_len/);
  assert.throws(() => forward(params, [[1]]), /at least 2 tokens/);
  assert.throws(() => forward(params, []), /empty/);
  disposeParams(params);
});

test("a KV-cached forward in pieces gives the full forward's logits", async () => {
  await initBackend();
  const params = toTensors(randomWeights(SMALL_CONFIG, 26));
  const tokens = randomTokens(2, 10, V, 12);
  const full = forward(params, tokens, { logits: true, loss: false }).logits!;
  const cache = emptyKvCache();
  const parts: Float32Array[] = [];
  for (const [a, b] of [[0, 4], [4, 5], [5, 10]]) {
    tf.tidy(() => {
      const l = forwardTensors(params, tokens.map((s) => s.slice(a, b)), { logits: true, loss: false }, cache).logits!;
      parts.push(l.dataSync() as Float32Array);
    });
  }
  assert.equal(cache.length, 10);
  disposeKvCache(cache);
  for (let s = 0; s < 2; s++) {
    const pieces = parts.map((p, i) => {
      const len = [4, 1, 5][i];
      return p.subarray(s * len * V, (s + 1) * len * V);
    });
    const joined = new Float32Array(10 * V);
    let at = 0;
    for (const p of pieces) { joined.set(p, at); at += p.length; }
    assert.ok(maxAbsDiff(joined, full.subarray(s * 10 * V, (s + 1) * 10 * V)) < 1e-5);
  }
  disposeParams(params);
});

test("forward leaves no tensors behind", async () => {
  await initBackend();
  const params = toTensors(randomWeights(SMALL_CONFIG, 27));
  const before = tf.memory().numTensors;
  forward(params, randomTokens(2, 6, V, 13), { logits: true, capture: ["blocks.1.hook_attn_out"], splice: [{ hook: "blocks.0.hook_resid_post", at: { positions: [1] }, value: (x) => tf.neg(x) as tf.Tensor2D }] });
  assert.equal(tf.memory().numTensors, before);
  disposeParams(params);
});

// Gradients: every backend that runs here (wasm lacks a tf.gather gradient, hence the custom one), checked against
// central finite differences of the float64 reference.
for (const backend of availableBackends()) {
  test(`gradients on ${backend} match finite differences of the reference`, async () => {
    await initBackend(backend);
    const w = randomWeights(SMALL_CONFIG, 28);
    const tokens = randomTokens(2, 8, V, 14);
    const params = toTrainable(w);
    const vars = paramVariables(params);
    const { value, grads } = tf.variableGrads(() => tf.mean(forwardTensors(params, tokens).loss!) as tf.Scalar, vars);
    assert.ok(Math.abs(value.dataSync()[0] - referenceMeanLoss(w, tokens)) < 1e-4);
    // Gradients come back in the tensors' layout; compare through toWeights, which maps to the file layout.
    const asWeights = toWeights({
      ...params,
      embedding: grads[(params.embedding as tf.Variable).name] as tf.Tensor2D,
      layers: params.layers.map((l) => Object.fromEntries(Object.entries(l).map(([k, v]) => [k, grads[(v as tf.Variable).name]]))) as unknown as typeof params.layers,
      rmsFinal: grads[(params.rmsFinal as tf.Variable).name] as tf.Tensor1D,
      classifier: grads[(params.classifier as tf.Variable).name] as tf.Tensor2D,
    });
    const names: WeightName[] = ["tokenEmbedding", "rmsAtt", "wq", "wk", "wv", "wo", "rmsFfn", "w1", "w2", "w3", "rmsFinal", "wcls"];
    const probe = { ...w };
    for (const name of names) {
      const arr = w[name]!.slice();
      (probe as Record<string, unknown>)[name] = arr;
      const g = asWeights[name]!;
      // The largest-gradient entry and a fixed one (embedding rows of tokens used have nonzero gradient).
      let big = 0;
      for (let i = 0; i < g.length; i++) if (Math.abs(g[i]) > Math.abs(g[big])) big = i;
      for (const i of [big, Math.floor(g.length / 3)]) {
        const old = arr[i], eps = 1e-3;
        arr[i] = old + eps; const up = referenceMeanLoss(probe, tokens);
        arr[i] = old - eps; const down = referenceMeanLoss(probe, tokens);
        arr[i] = old;
        const fd = (up - down) / (2 * eps);
        assert.ok(Math.abs(fd - g[i]) <= 2e-3 * Math.abs(fd) + 2e-5, `${backend} d/d${name}[${i}]: autodiff ${g[i]} vs finite difference ${fd}`);
      }
      (probe as Record<string, unknown>)[name] = w[name];
    }
    assert.ok(asWeights.tokenEmbedding.some((v) => v !== 0) && asWeights.wcls!.some((v) => v !== 0));
    // Round trip of trainable params back to weights.
    const back = toWeights(params);
    for (const name of names) assert.deepEqual(back[name], w[name], name);
    tf.dispose([value, ...Object.values(grads)]);
    disposeParams(params);
  });
}

test("a shared classifier gets the gradient of both of its uses", async () => {
  await initBackend();
  const w = randomWeights({ ...SMALL_CONFIG, sharedClassifier: true }, 29);
  const params = toTrainable(w);
  assert.equal(params.classifier, null);
  const tokens = randomTokens(1, 6, V, 15);
  const g = tf.variableGrads(() => tf.mean(forwardTensors(params, tokens).loss!) as tf.Scalar, paramVariables(params));
  const ge = g.grads[(params.embedding as tf.Variable).name].dataSync();
  // Rows of tokens that never occur still get gradient through the classifier.
  const unused = Array.from({ length: V }, (_, i) => i).find((i) => !tokens[0].includes(i))!;
  assert.ok(ge.subarray(unused * D, (unused + 1) * D).some((v) => v !== 0));
  tf.dispose([g.value, ...Object.values(g.grads)]);
  disposeParams(params);
});
