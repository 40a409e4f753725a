// Saving and loading: every fixture survives saveSaeLens unchanged (weights, behaviour, metadata); JumpReLU SAEs
// survive saveGemmaScope (with b_dec subtraction folded into b_enc where needed).
import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import { initBackend } from "../../src/backend/index";
import { InputError } from "../../src/errors";
import { Sae, loadSae, saveGemmaScope, saveSaeLens } from "../../src/sae/index";
import { normals } from "../helpers/random";
import { FIXTURES, FIXTURE_LIST, assertClose, identitySae, loadReference, tempDir } from "./helpers";

for (const fx of FIXTURE_LIST) {
  test(`${fx.name} round-trips through saveSaeLens`, async () => {
    await initBackend();
    const ref = loadReference(fx.name);
    const sae = await loadSae(path.join(FIXTURES, fx.path), fx.options);
    const dir = path.join(tempDir("saelens"), "sae");
    const written = saveSaeLens(sae, dir);
    assert.deepEqual(fs.readdirSync(dir).sort(), ["cfg.json", "sae_weights.safetensors"], "no temporary files are left behind");
    const cfg = JSON.parse(fs.readFileSync(written.config, "utf8"));
    assert.equal(cfg.metadata.sae_lens_version, "6.0.0", "≥ 6.0 layout");
    assert.equal(cfg.normalize_activations, "none", "normalisation stays folded");
    const back = await loadSae(dir);
    try {
      assert.equal(back.metadata.format, "saelens");
      assert.equal(back.architecture, sae.architecture);
      assert.equal(back.k, sae.k);
      assert.equal(back.applyBDecToInput, sae.applyBDecToInput);
      for (const n of sae.weightNames()) assert.deepEqual(back.hostWeight(n), sae.hostWeight(n), `weight ${n}`);
      const { format: _a, path: _b, ...meta } = sae.metadata;
      const { format: _c, path: _d, ...metaBack } = back.metadata;
      assert.deepEqual(metaBack, meta, "metadata");
      assert.deepEqual(back.forward(ref.x).reconstruction, sae.forward(ref.x).reconstruction);
    } finally {
      sae.dispose();
      back.dispose();
    }
  });
}

for (const fx of FIXTURE_LIST.filter((f) => f.architecture === "jumprelu")) {
  test(`${fx.name} round-trips through saveGemmaScope`, async () => {
    await initBackend();
    const ref = loadReference(fx.name);
    const sae = await loadSae(path.join(FIXTURES, fx.path), fx.options);
    const dir = tempDir("gemma");
    const file = saveGemmaScope(sae, dir);
    assert.equal(path.basename(file), "params.npz");
    const back = await loadSae(dir);
    try {
      assert.equal(back.metadata.format, "gemma-scope");
      assert.equal(back.applyBDecToInput, false);
      assertClose(back.forward(ref.x).reconstruction, ref.recon, 1e-5, "reconstruction after saving as Gemma Scope");
      assert.deepEqual(Array.from(back.forward(ref.x).l0), Array.from(ref.l0));
    } finally {
      sae.dispose();
      back.dispose();
    }
  });
}

test("an SAE built in memory keeps its provenance through saveSaeLens", async () => {
  await initBackend();
  const d_in = 6, d_sae = 10;
  const sae = new Sae({
    architecture: "topk", k: 2, d_in, d_sae, applyBDecToInput: true,
    weights: { W_enc: normals(d_in * d_sae, 1), W_dec: normals(d_sae * d_in, 2), b_enc: normals(d_sae, 3), b_dec: normals(d_in, 4) },
    metadata: { hookName: "blocks.1.hook_resid_post", layer: 1, modelName: "stories260K",
      provenance: { target: "nonlinear_error", reference: "run-7", seed: 3, tokens: 1e6 } },
  });
  const dir = tempDir("memory");
  saveSaeLens(sae, dir);
  const back = await loadSae(dir);
  assert.deepEqual(back.metadata.provenance, { target: "nonlinear_error", reference: "run-7", seed: 3, tokens: 1e6 });
  assert.equal(back.metadata.hookName, "blocks.1.hook_resid_post");
  assert.equal(back.metadata.layer, 1);
  assert.equal(back.metadata.modelName, "stories260K");
  assert.equal(back.k, 2);
  const x = normals(5 * d_in, 9);
  assert.deepEqual(back.forward(x).reconstruction, sae.forward(x).reconstruction);
  // Saving again over the same folder replaces it.
  saveSaeLens(back, dir);
  assert.equal((await loadSae(dir)).metadata.provenance.target, "nonlinear_error");
  sae.dispose();
  back.dispose();
});

test("saveGemmaScope refuses non-JumpReLU SAEs", async () => {
  await initBackend();
  const sae = identitySae("relu", 3);
  assert.throws(() => saveGemmaScope(sae, tempDir("refuse")), (e: unknown) => e instanceof InputError && /JumpReLU/.test(e.message));
  sae.dispose();
});
