import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { initBackend } from "../../src/backend/index";
import { inspectPath } from "../../src/cli/inspect";
import { downstreamCe } from "../../src/darkmatter/downstream-ce";
import { isHfCheckpointDir } from "../../src/lm/hf-checkpoint";
import { InputError } from "../../src/errors";
import { parseHfConfig, ropeInverseFrequencies } from "../../src/lm/hf-config";
import { hfNative } from "../../src/lm/hf-kernels";
import { loadHfModel } from "../../src/lm/hf-model";
import { HOOK_POINTS, HookName } from "../../src/lm/hooks";
import { forward } from "../../src/lm/model";
import { TinySpec, tinyTokens, writeTinyCheckpoint } from "./hf-fixtures";
import { referenceForward, referenceLoss } from "./hf-reference";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "hf-model-"));
process.on("exit", () => fs.rmSync(tmp, { recursive: true, force: true }));

/** max |a − b| / max |b|: the relative error of a whole tensor. */
function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let diff = 0, scale = 0;
  for (let i = 0; i < a.length; i++) { diff = Math.max(diff, Math.abs(a[i] - b[i])); scale = Math.max(scale, Math.abs(b[i])); }
  return diff / scale;
}

const flat = (rows: Float64Array[][]) => Float64Array.from(rows.flatMap((seq) => seq.flatMap((r) => Array.from(r))));

const CASES: [string, TinySpec][] = [
  ["llama F32 untied, biases, llama3 rope_scaling", { modelType: "llama", bias: true, config: {
    rope_scaling: { rope_type: "llama3", factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 16 } } }],
  ["llama BF16 tied, 3 shards, rope_parameters spelling", { modelType: "llama", dtype: "bfloat16", tied: true, shards: 3, config: {
    rope_theta: undefined, rope_parameters: { rope_type: "llama3", rope_theta: 5000, factor: 4, low_freq_factor: 1, high_freq_factor: 2,
      original_max_position_embeddings: 8 } } }],
  ["llama F16 untied, head_dim × heads ≠ hidden", { modelType: "llama", dtype: "float16", config: { head_dim: 10 } }],
  ["gemma2 F32 tied, window 3 < T", { modelType: "gemma2", tied: true }],
  ["gemma2 BF16 untied, 2 shards, layer_types, MQA", { modelType: "gemma2", dtype: "bfloat16", shards: 2, config: {
    num_key_value_heads: 1, layer_types: ["full_attention", "sliding_attention", "sliding_attention"], sliding_window: 4 } }],
];

const B = 2, T = 9;

for (const [name, spec] of CASES) {
  test(`HF ${name}: logits, loss and every hook match the float64 reference (native and TypeScript kernels)`, async () => {
    await initBackend();
    const dir = path.join(tmp, name.replace(/[^a-z0-9]+/gi, "-"));
    const { cfg, weights } = writeTinyCheckpoint(dir, spec);
    const tokens = tinyTokens(B, T, cfg.vocab_size);
    const ref = referenceForward(cfg, weights, tokens);
    const refLoss = referenceLoss(ref.logits, tokens).flat();
    const hooks: HookName[] = [];
    for (let l = 0; l < cfg.num_hidden_layers; l++) for (const p of HOOK_POINTS) hooks.push(`blocks.${l}.${p}`);
    const paths = hfNative() ? [true, false] : [false];
    for (const native of paths) {
      const model = loadHfModel(dir, { native });
      assert.equal(model.usesNative, native);
      const r = model.forward(tokens, { capture: hooks, logits: true, loss: true });
      assert.ok(relErr(r.logits!, flat(ref.logits)) < 1e-4, `logits (${native ? "native" : "ts"}): ${relErr(r.logits!, flat(ref.logits))}`);
      assert.ok(relErr(r.loss!, refLoss) < 1e-4, `loss: ${relErr(r.loss!, refLoss)}`);
      for (const h of hooks) {
        const e = relErr(r.captured.get(h)!, flat(ref.hooks.get(h)!));
        assert.ok(e < 1e-4, `${h} (${native ? "native" : "ts"}): relative error ${e}`);
      }
      // Loss without logits takes the classifier on T−1 positions only: same values.
      const lossOnly = model.forward(tokens);
      assert.ok(relErr(lossOnly.loss!, refLoss) < 1e-4);
      // The generic forward dispatches to the HF model.
      const viaGeneric = forward(model, tokens, { capture: [hooks[0]], loss: false });
      assert.deepEqual(viaGeneric.captured.get(hooks[0]), r.captured.get(hooks[0]));
    }
  });
}

test("HF splice: replacing a hook's rows changes everything downstream exactly as in the reference", async () => {
  await initBackend();
  const dir = path.join(tmp, "splice");
  const { cfg, weights } = writeTinyCheckpoint(dir, { modelType: "gemma2", dtype: "bfloat16" });
  const tokens = tinyTokens(B, T, cfg.vocab_size, 11);
  const d = cfg.hidden_size, hook: HookName = "blocks.1.hook_resid_mid";
  const mask = new Uint8Array(B * T);
  mask.fill(1, 3, 7); mask.fill(1, T + 5, T + 9);
  const rows = [...mask].map((m, i) => (m ? i : -1)).filter((i) => i >= 0);
  const value = Float32Array.from({ length: rows.length * d }, (_, i) => Math.sin(i));
  const ref = referenceForward(cfg, weights, tokens, new Map([[hook, (b: number, t: number, row: Float64Array) => {
    const k = rows.indexOf(b * T + t);
    return k < 0 ? row : Float64Array.from(value.subarray(k * d, (k + 1) * d));
  }]]));
  const model = loadHfModel(dir);
  const r = model.forward(tokens, { splice: [{ hook, at: { mask }, value }], capture: [hook, "blocks.2.hook_resid_post"], logits: true });
  assert.ok(relErr(r.captured.get(hook)!, flat(ref.hooks.get(hook)!)) < 1e-6);
  assert.ok(relErr(r.captured.get("blocks.2.hook_resid_post")!, flat(ref.hooks.get("blocks.2.hook_resid_post")!)) < 1e-4);
  assert.ok(relErr(r.logits!, flat(ref.logits)) < 1e-4);
  const clean = model.forward(tokens, { logits: true });
  assert.ok(relErr(clean.logits!, r.logits!) > 1e-3, "the splice changed nothing");
  // A function value sees the original rows.
  const doubled = model.forward(tokens, { splice: [{ hook, value: (x) => x.mul(2) }], capture: [hook] });
  const plain = model.forward(tokens, { capture: [hook], loss: false });
  const a = doubled.captured.get(hook)!, b = plain.captured.get(hook)!;
  for (let i = 0; i < a.length; i++) assert.equal(a[i], 2 * b[i]);
});

test("HF forward stops after the last hooked block when no loss is wanted, and rejects bad options", async () => {
  await initBackend();
  const dir = path.join(tmp, "stop");
  const { cfg } = writeTinyCheckpoint(dir, { modelType: "llama" });
  const model = loadHfModel(dir);
  const tokens = tinyTokens(1, 5, cfg.vocab_size);
  const r = model.forward(tokens, { capture: ["blocks.0.hook_resid_post"], loss: false });
  assert.equal(r.loss, undefined);
  assert.throws(() => model.forward(tokens, { capture: ["blocks.3.hook_resid_post"] }), InputError);
  assert.throws(() => model.forward([[0, 1, cfg.vocab_size]]), /outside the vocabulary/);
  assert.throws(() => model.forward(tokens, { stopAtLayer: 0 , loss: true }), /no loss or logits/);
});

test("llama3 rope scaling follows transformers' three frequency bands", () => {
  const c = parseHfConfig({ model_type: "llama", hidden_size: 64, intermediate_size: 8, num_hidden_layers: 1, num_attention_heads: 1,
    vocab_size: 4, rope_theta: 500000, rope_scaling: { rope_type: "llama3", factor: 8, low_freq_factor: 1, high_freq_factor: 4,
      original_max_position_embeddings: 8192 } }, "config.json");
  const inv = ropeInverseFrequencies(c);
  const plain = Array.from({ length: 32 }, (_, j) => Math.pow(500000, -(2 * j) / 64));
  // Short wavelengths (< 8192/4) unchanged, long ones (> 8192) divided by 8, those between blended.
  assert.ok(Math.abs(inv[0] - plain[0]) / plain[0] < 1e-6);
  assert.ok(Math.abs(inv[31] - plain[31] / 8) / (plain[31] / 8) < 1e-6);
  const mid = plain.findIndex((f) => 2 * Math.PI / f > 2048 && 2 * Math.PI / f < 8192);
  assert.ok(mid > 0 && inv[mid] < plain[mid] && inv[mid] > plain[mid] / 8);
});

test("config.json refusals name the file and the field", () => {
  const base = { model_type: "llama", hidden_size: 8, intermediate_size: 8, num_hidden_layers: 1, num_attention_heads: 2, vocab_size: 4 };
  const bad: [Record<string, unknown>, RegExp][] = [
    [{ ...base, model_type: "mistral" }, /model_type "mistral" is not supported/],
    [{ ...base, hidden_size: undefined }, /hidden_size is missing/],
    [{ ...base, rope_scaling: { rope_type: "yarn", factor: 2 } }, /rope_scaling.rope_type "yarn" is not supported/],
    [{ ...base, rope_parameters: { rope_type: "dynamic" } }, /rope_parameters.rope_type "dynamic"/],
    [{ ...base, hidden_act: "gelu" }, /hidden_act "gelu" is not supported/],
    [{ ...base, num_key_value_heads: 3 }, /does not divide/],
    [{ ...base, rope_scaling: { rope_type: "llama3", factor: 8 } }, /rope_scaling.low_freq_factor is missing/],
  ];
  for (const [cfg, re] of bad) {
    assert.throws(() => parseHfConfig(cfg, "/x/config.json"), (e: unknown) => e instanceof InputError && re.test(e.message) && e.message.includes("/x/config.json"));
  }
  const ok = parseHfConfig(base, "c");
  assert.equal(ok.headDim, 4);
  assert.equal(ok.tieEmbeddings, false);
  const g = parseHfConfig({ ...base, model_type: "gemma2", hidden_activation: "gelu_pytorch_tanh", head_dim: 4 }, "c");
  assert.deepEqual(g.windows, [4096]);
  assert.equal(g.tieEmbeddings, true);
  assert.equal(g.queryScale, 1 / 16);
});

test("malformed checkpoint folders get an InputError naming the file", async () => {
  await initBackend();
  const make = (name: string, spec: TinySpec) => {
    const dir = path.join(tmp, `bad-${name}`);
    writeTinyCheckpoint(dir, spec);
    return dir;
  };
  const expectError = (dir: string, file: string, re: RegExp) =>
    assert.throws(() => loadHfModel(dir), (e: unknown) => e instanceof InputError && e.message.includes(file) && re.test(e.message));

  // Missing tensor (rewrite the single file without one tensor).
  let dir = make("missing", { modelType: "llama", shards: 2 });
  const index = JSON.parse(fs.readFileSync(path.join(dir, "model.safetensors.index.json"), "utf8"));
  delete index.weight_map["model.layers.1.mlp.up_proj.weight"];
  fs.writeFileSync(path.join(dir, "model.safetensors.index.json"), JSON.stringify(index));
  expectError(dir, "model.safetensors.index.json", /model\.layers\.1\.mlp\.up_proj\.weight/);

  // Wrong shape: config says a bigger intermediate size than the tensors have.
  dir = make("shape", { modelType: "gemma2" });
  const cfg = JSON.parse(fs.readFileSync(path.join(dir, "config.json"), "utf8"));
  fs.writeFileSync(path.join(dir, "config.json"), JSON.stringify({ ...cfg, intermediate_size: 41 }));
  expectError(dir, "model.safetensors", /has shape \[40, 24\]; config.json implies \[41, 24\]/);

  // Unknown model_type.
  dir = make("type", { modelType: "llama" });
  fs.writeFileSync(path.join(dir, "config.json"), JSON.stringify({ ...cfg, model_type: "qwen2" }));
  expectError(dir, "config.json", /model_type "qwen2"/);

  // Truncated shard.
  dir = make("trunc", { modelType: "llama", shards: 2 });
  const shard = path.join(dir, "model-00002-of-00002.safetensors");
  fs.truncateSync(shard, fs.statSync(shard).size - 10);
  expectError(dir, "model-00002-of-00002.safetensors", /run past the \d+-byte buffer/);

  // A shard the index lists is missing.
  dir = make("noshard", { modelType: "llama", shards: 2 });
  fs.rmSync(path.join(dir, "model-00001-of-00002.safetensors"));
  expectError(dir, "model.safetensors.index.json", /model-00001-of-00002.safetensors.*does not exist/);

  // No weights at all, and no config.
  dir = make("noweights", { modelType: "llama" });
  fs.rmSync(path.join(dir, "model.safetensors"));
  expectError(dir, dir, /neither model.safetensors nor model.safetensors.index.json/);
  fs.rmSync(path.join(dir, "config.json"));
  expectError(dir, dir, /no config.json/);
});

test("downstream CE (§3.9) runs on a Hugging Face model: an exact reconstruction recovers the clean CE, zero ablation does not", async () => {
  await initBackend();
  const dir = path.join(tmp, "downstream");
  const { cfg, weights } = writeTinyCheckpoint(dir, { modelType: "gemma2", dtype: "bfloat16", tied: true });
  const model = loadHfModel(dir);
  const d = cfg.hidden_size, contexts = tinyTokens(4, 12, cfg.vocab_size, 21);
  const zero = { inputs: d, outputs: d, coefficients: new Float64Array(d * d), intercept: null, rows: 0, droppedNonFinite: 0, rank: d,
    dependentColumns: [], conditionEstimate: 1, warnings: [] };
  const hook: HookName = "blocks.1.hook_resid_post";
  const r = downstreamCe({ params: model, contexts, hook, reconstruct: (x) => Float32Array.from(x), linearMap: zero }, { from: 3, to: 10, batchSize: 3 });
  const refLoss = referenceLoss(referenceForward(cfg, weights, contexts).logits, contexts);
  let clean = 0;
  for (const seq of refLoss) for (let t = 3; t <= 10; t++) clean += seq[t];
  clean /= contexts.length * 8;
  assert.ok(Math.abs(r.clean - clean) < 1e-4 * clean, `${r.clean} vs ${clean}`);
  assert.ok(Math.abs(r.sae.ce - r.clean) < 1e-6);
  assert.ok(Math.abs(r.zeroAblation.ce - r.clean) > 1e-3);
});

test("inspect recognises a checkpoint folder and describes its config", () => {
  const dir = path.join(tmp, "inspect");
  writeTinyCheckpoint(dir, { modelType: "gemma2" });
  const info = inspectPath(dir);
  assert.equal(info.kind, "hf-checkpoint");
  assert.deepEqual(info.sliding_windows, [3, 0, 3]);
  assert.equal(isHfCheckpointDir(path.join(dir, "config.json")), false);
});
