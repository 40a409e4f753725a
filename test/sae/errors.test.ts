// Broken SAE files are InputErrors that name the file and the problem, found before any weight is used.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import { initBackend } from "../../src/backend/index";
import { InputError } from "../../src/errors";
import { HostTensor, openTensorFile, writeNpz, writeSafetensors } from "../../src/io/index";
import { loadSae, planSae } from "../../src/sae/index";
import { FIXTURES, copyFixture, tempDir } from "./helpers";

function readAll(file: string): Record<string, HostTensor> {
  const f = openTensorFile(file);
  try {
    return Object.fromEntries(f.entries.map((e) => [e.name, f.read(e.name)]));
  } finally {
    f.close();
  }
}

/** Rewrites a tensor file after `edit` changes its record. */
function editTensors(file: string, edit: (r: Record<string, HostTensor>) => void): void {
  const record = readAll(file);
  edit(record);
  if (file.endsWith(".npz")) writeNpz(file, record);
  else writeSafetensors(file, record);
}

function editJson(file: string, edit: (cfg: Record<string, unknown>) => void): void {
  const cfg = JSON.parse(fs.readFileSync(file, "utf8"));
  edit(cfg);
  fs.writeFileSync(file, JSON.stringify(cfg));
}

/** Asserts loading `p` fails with an InputError whose message matches every pattern. */
async function rejects(p: string, patterns: RegExp[], options = {}): Promise<void> {
  await assert.rejects(loadSae(p, options), (e: unknown) => {
    assert.ok(e instanceof InputError, `expected an InputError, got ${e}`);
    for (const re of patterns) assert.match((e as Error).message, re);
    return true;
  });
}

test("missing paths and folders without an SAE", async () => {
  await initBackend();
  await rejects("/no/such/sae", [/\/no\/such\/sae/, /does not exist/]);
  const empty = tempDir("empty");
  await rejects(empty, [/not a recognised SAE/, /sae_weights\.safetensors/]);
  const cfgOnly = tempDir("cfg-only");
  fs.writeFileSync(path.join(cfgOnly, "cfg.json"), "{}");
  await rejects(cfgOnly, [/not a recognised SAE/]);
});

test("SAELens: config problems", async () => {
  await initBackend();
  const cases: [(cfg: Record<string, unknown>) => void, RegExp, object?][] = [
    [(c) => { c.d_sae = 49; }, /sae_weights\.safetensors.*W_enc.*shape \[16, 48\], expected \[16, 49\]/],
    [(c) => { delete c.d_in; }, /cfg\.json.*missing field "d_in"/],
    [(c) => { c.d_in = "16"; }, /"d_in" must be a non-negative integer/],
    [(c) => { c.architecture = "transcoder"; }, /architecture "transcoder" is not supported/],
    [(c) => { c.normalize_activations = "constant_norm_rescale"; }, /constant_norm_rescale.*cannot be folded/],
    [(c) => { c.normalize_activations = "layer_norm"; }, /layer_norm.*cannot be folded/],
    [(c) => { c.normalize_activations = "expected_average_only_in"; }, /no scaling factor is known.*normScalingFactor/],
    [(c) => { c.normalize_activations = "expected_average_only_in"; }, /must be positive/, { normScalingFactor: -1 }],
    [(c) => { c.normalize_activations = "sometimes"; }, /unknown normalize_activations/],
    [(c) => { c.apply_b_dec_to_input = "yes"; }, /apply_b_dec_to_input" must be true or false/],
  ];
  for (const [edit, pattern, options] of cases) {
    const dir = copyFixture("saelens-v6-jumprelu");
    editJson(path.join(dir, "cfg.json"), edit);
    await rejects(dir, [pattern], options);
  }
  const bad = copyFixture("saelens-v6-jumprelu");
  fs.writeFileSync(path.join(bad, "cfg.json"), "{ not json");
  await rejects(bad, [/cfg\.json/, /not valid JSON/]);
  fs.writeFileSync(path.join(bad, "cfg.json"), "[1, 2]");
  await rejects(bad, [/must hold a JSON object/]);
});

test("SAELens: TopK configs need a usable k; pre-6.0 activation functions are checked", async () => {
  await initBackend();
  const cases: [(cfg: Record<string, unknown>) => void, RegExp][] = [
    [(c) => { delete c.activation_fn_kwargs; }, /needs a positive k/],
    [(c) => { c.activation_fn_kwargs = { k: 33 }; }, /k = 33 exceeds d_sae = 32/],
    [(c) => { c.activation_fn_str = "tanh-relu"; }, /activation function "tanh-relu" is not supported/],
  ];
  for (const [edit, pattern] of cases) {
    const dir = copyFixture("saelens-pre6-topk");
    editJson(path.join(dir, "cfg.json"), edit);
    await rejects(dir, [pattern]);
  }
});

test("SAELens: weight problems name the file and tensor", async () => {
  await initBackend();
  const file = (dir: string) => path.join(dir, "sae_weights.safetensors");
  let dir = copyFixture("saelens-v6-jumprelu");
  editTensors(file(dir), (r) => { delete r.threshold; });
  await rejects(dir, [/sae_weights\.safetensors/, /needs a "threshold" tensor/]);

  dir = copyFixture("saelens-v6-jumprelu");
  editTensors(file(dir), (r) => { (r.W_dec.data as Float32Array)[5] = NaN; });
  await rejects(dir, [/sae_weights\.safetensors/, /W_dec/, /NaN/]);

  dir = copyFixture("saelens-v6-jumprelu");
  editTensors(file(dir), (r) => { (r.b_enc.data as Float32Array)[0] = Infinity; });
  await rejects(dir, [/b_enc/, /Infinity/]);

  dir = copyFixture("saelens-v6-jumprelu");
  editTensors(file(dir), (r) => { r.b_dec = { dtype: "float32", shape: [15], data: new Float32Array(15) }; });
  await rejects(dir, [/tensor "b_dec" has shape \[15\], expected \[16\]/]);

  dir = copyFixture("saelens-v6-jumprelu");
  editTensors(file(dir), (r) => { r.b_enc = { dtype: "int32", shape: [48], data: new Int32Array(48) }; });
  await rejects(dir, [/"b_enc" has dtype int32; SAE weights must be floating point/]);

  dir = copyFixture("saelens-v6-jumprelu");
  editTensors(file(dir), (r) => { delete r.W_enc; });
  await rejects(dir, [/has no tensor "W_enc"/]);

  dir = copyFixture("saelens-v6-gated");
  editTensors(file(dir), (r) => { delete r.r_mag; });
  await rejects(dir, [/has no tensor "r_mag"/]);

  dir = copyFixture("saelens-v6-jumprelu");
  fs.writeFileSync(file(dir), Buffer.alloc(5));
  await rejects(dir, [/sae_weights\.safetensors/]);
});

test("sparsify: unsupported variants and broken configs", async () => {
  await initBackend();
  const cases: [(cfg: Record<string, unknown>) => void, RegExp][] = [
    [(c) => { c.transcode = true; }, /transcoder/],
    [(c) => { c.skip_connection = true; }, /skip connections/],
    [(c) => { c.activation = "groupmax"; }, /activation "groupmax" is not supported/],
    [(c) => { c.num_encoder_layers = 2; }, /multi-layer encoders/],
    [(c) => { delete c.expansion_factor; }, /width is unknown/],
    [(c) => { c.num_latents = 40; }, /encoder\.weight.*shape \[48, 12\], expected \[40, 12\]/],
    [(c) => { c.k = 0; }, /k = 0 must be between 1 and the 48 latents/],
    [(c) => { delete c.d_in; }, /missing field "d_in"/],
  ];
  for (const [edit, pattern] of cases) {
    const dir = copyFixture("sparsify-run/layers.2");
    editJson(path.join(dir, "cfg.json"), edit);
    await rejects(dir, [pattern]);
  }
  const skip = copyFixture("sparsify-run/layers.2");
  editTensors(path.join(skip, "sae.safetensors"), (r) => { r.W_skip = { dtype: "float32", shape: [12, 12], data: new Float32Array(144) }; });
  await rejects(skip, [/W_skip/]);
});

test("sparsify: a run folder with several hookpoints needs a choice", async () => {
  await initBackend();
  const run = copyFixture("sparsify-run");
  fs.cpSync(path.join(run, "layers.2"), path.join(run, "layers.5"), { recursive: true });
  await rejects(run, [/several hookpoints \(layers\.2, layers\.5\)/]);
  const sae = await loadSae(run, { hookpoint: "layers.5" });
  assert.equal(sae.metadata.hookName, "layers.5");
  assert.equal(sae.metadata.layer, 5);
  sae.dispose();
  await rejects(run, [/no SAE for hookpoint "layers.9"/], { hookpoint: "layers.9" });
});

test("Llama Scope: normalisation that cannot be folded, transcoders and missing fields", async () => {
  await initBackend();
  const cases: [(cfg: Record<string, unknown>) => void, RegExp][] = [
    [(c) => { c.norm_activation = "token-wise"; }, /token-wise.*cannot be folded/],
    [(c) => { c.hook_point_out = "blocks.3.hook_mlp_out"; }, /transcoder/],
    [(c) => { delete c.jump_relu_threshold; }, /missing field "jump_relu_threshold"/],
    [(c) => { c.use_glu_encoder = true; }, /GLU encoders/],
    [(c) => { c.dataset_average_activation_norm = { in: 0 }; }, /must be positive/],
    [(c) => { c.dataset_average_activation_norm = 3; }, /needs "dataset_average_activation_norm"/],
    [(c) => { c.d_sae = 64; }, /encoder\.weight.*shape \[128, 16\], expected \[64, 16\]/],
    [(c) => { c.act_fn = "softplus"; }, /act_fn "softplus" is not supported/],
    [(c) => { c.apply_decoder_bias_to_pre_encoder = true; c.dataset_average_activation_norm = { in: 7.5, out: 3 }; }, /cannot be folded/],
  ];
  for (const [edit, pattern] of cases) {
    const dir = copyFixture("Llama3_1-8B-Base-L3R-8x");
    editJson(path.join(dir, "hyperparams.json"), edit);
    await rejects(dir, [/hyperparams\.json|final\.safetensors/, pattern]);
  }
});

test("Gemma Scope: shapes, missing arrays and the path's width are checked", async () => {
  await initBackend();
  const src = path.join(FIXTURES, "gemma-scope-2b-pt-res/layer_3/width_1k/average_l0_12/params.npz");
  const place = (rel: string, edit?: (r: Record<string, HostTensor>) => void): string => {
    const file = path.join(tempDir("gemma"), rel, "params.npz");
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.copyFileSync(src, file);
    if (edit) editTensors(file, edit);
    return file;
  };
  await rejects(place("layer_3/width_2k/average_l0_12"), [/params\.npz/, /path says width 2048 but W_enc has 1024 latents/]);
  await rejects(place("x", (r) => { delete r.threshold; }), [/has no tensor "threshold"/]);
  await rejects(place("x", (r) => { r.W_dec = { dtype: "float32", shape: [1024, 7], data: new Float32Array(1024 * 7) }; }),
    [/"W_dec" has shape \[1024, 7\], expected \[1024, 8\]/]);
  await rejects(place("x", (r) => { r.W_enc = { dtype: "float32", shape: [8192], data: new Float32Array(8192) }; }), [/must be a matrix/]);
  await rejects(place("x", (r) => { (r.threshold.data as Float32Array)[3] = NaN; }), [/threshold/, /NaN/]);
  // A plan checks everything without reading weight data.
  assert.throws(() => planSae(place("layer_3/width_16k/average_l0_5")), /path says width 16384/);
});
