// Every supported format loads to an SAE whose forward pass matches the float64 numpy reference written by
// test/fixtures/sae/make_fixtures.py, on every backend available here.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as path from "path";
import { availableBackends, initBackend } from "../../src/backend/index";
import { HostTensor, openTensorFile, writeNpz, writeSafetensors } from "../../src/io/index";
import { loadSae } from "../../src/sae/index";
import { FIXTURES, FIXTURE_LIST, assertClose, copyFixture, denseOf, loadReference } from "./helpers";

for (const backend of availableBackends()) {
  for (const fx of FIXTURE_LIST) {
    test(`${fx.name} on ${backend}: reconstruction, latents, L0 and FVU match the float64 reference`, async () => {
      await initBackend(backend);
      const ref = loadReference(fx.name);
      const sae = await loadSae(path.join(FIXTURES, fx.path), fx.options);
      try {
        assert.equal(sae.metadata.format, fx.format);
        assert.equal(sae.architecture, fx.architecture);
        assert.equal(sae.d_in, ref.d_in);
        assert.equal(sae.d_sae, ref.d_sae);
        const out = sae.forward(ref.x);
        assertClose(out.reconstruction, ref.recon, 1e-5, "reconstruction");
        const expectedError = Float64Array.from(ref.x, (v, i) => v - ref.recon[i]);
        assertClose(out.error, expectedError, 1e-5, "error x − x̂");
        assert.deepEqual(Array.from(out.l0), Array.from(ref.l0), "per-token L0");
        assert.ok(Math.abs(out.fvu - ref.fvu) <= 1e-5 * ref.fvu, `fvu ${out.fvu} vs ${ref.fvu}`);
        const f = denseOf(out.latents!);
        // Same active set (exact) and values to float32 accuracy.
        for (let i = 0; i < f.length; i++) assert.equal(f[i] > 0, ref.f[i] > 0, `latent active state at flat index ${i}`);
        assertClose(f, ref.f, 1e-5, "latent values");
        // The sparse decode path (wasm-blas) must match the reference as well.
        assertClose(sae.forward(ref.x, { decodePath: "sparse", chunkRows: 7 }).reconstruction, ref.recon, 1e-5, "sparse-path reconstruction");
      } finally {
        sae.dispose();
      }
    });
  }
}

test("metadata from paths and configs", async () => {
  await initBackend();
  const gemma = await loadSae(path.join(FIXTURES, "gemma-scope-2b-pt-res/layer_3/width_1k/average_l0_12/params.npz"));
  assert.equal(gemma.metadata.layer, 3);
  assert.equal(gemma.metadata.width, 1024);
  assert.equal(gemma.metadata.nominalL0, 12);
  assert.equal(gemma.metadata.modelName, "gemma-2-2b");
  assert.equal(gemma.metadata.hookName, "blocks.3.hook_resid_post");
  assert.equal(gemma.applyBDecToInput, false);
  gemma.dispose();

  const v6 = await loadSae(path.join(FIXTURES, "saelens-v6-jumprelu"));
  assert.equal(v6.metadata.hookName, "blocks.2.hook_resid_post");
  assert.equal(v6.metadata.layer, 2);
  assert.equal(v6.metadata.modelName, "stories260K");
  assert.equal(v6.applyBDecToInput, true);
  v6.dispose();

  const pre6 = await loadSae(path.join(FIXTURES, "saelens-pre6-topk"));
  assert.equal(pre6.k, 3);
  assert.equal(pre6.metadata.hookName, "blocks.4.hook_resid_pre");
  assert.equal(pre6.metadata.layer, 4);
  pre6.dispose();

  const norm = await loadSae(path.join(FIXTURES, "saelens-pre6-relu-norm"), { normScalingFactor: 1.7 });
  assert.equal(norm.metadata.inputScale, 1.7);
  assert.ok(norm.metadata.conversions.some((c) => /input scale 1.7/.test(c)));
  norm.dispose();

  const batch = await loadSae(path.join(FIXTURES, "saelens-v6-batchtopk"));
  assert.equal(batch.metadata.trainedAs, "batchtopk");
  assert.deepEqual(batch.summary().threshold, { scalar: Math.fround(0.6) });
  batch.dispose();

  const sparsify = await loadSae(path.join(FIXTURES, "sparsify-run", "layers.2", "sae.safetensors"));
  assert.equal(sparsify.metadata.hookName, "layers.2");
  assert.equal(sparsify.metadata.layer, 2);
  assert.equal(sparsify.d_sae, 48, "num_latents 0 ⇒ d_in · expansion_factor");
  assert.equal(sparsify.k, 5);
  assert.equal(sparsify.applyBDecToInput, true);
  sparsify.dispose();

  const llama = await loadSae(path.join(FIXTURES, "Llama3_1-8B-Base-L3R-8x", "checkpoints", "final.safetensors"));
  assert.equal(llama.metadata.hookName, "blocks.3.hook_resid_post");
  assert.equal(llama.metadata.layer, 3);
  assert.equal(llama.metadata.modelName, "meta-llama/Llama-3.1-8B");
  assert.equal(llama.metadata.inputScale, Math.sqrt(16) / 7.5);
  assert.equal(llama.metadata.trainedAs, "topk (k = 5)");
  assert.deepEqual(llama.summary().threshold, { scalar: Math.fround(0.4) });
  llama.dispose();
});

test("Llama Scope threshold convention can follow the SAELens versions that rescale it", async () => {
  await initBackend();
  const plain = await loadSae(path.join(FIXTURES, "Llama3_1-8B-Base-L3R-8x"));
  const scaled = await loadSae(path.join(FIXTURES, "Llama3_1-8B-Base-L3R-8x"), { llamaScopeScaleThreshold: true });
  const s = Math.sqrt(16) / 7.5;
  assert.ok(Math.abs((scaled.summary().threshold as { scalar: number }).scalar - Math.fround(0.4 * s)) < 1e-6);
  const ref = loadReference("llama-scope");
  assert.notDeepEqual(Array.from(scaled.forward(ref.x).l0), Array.from(plain.forward(ref.x).l0));
  plain.dispose();
  scaled.dispose();
});

test("a stored scaling factor multiplies the latents before decoding (folded into W_dec)", async () => {
  await initBackend();
  for (const [fixture, file, name] of [
    ["gemma-scope-lowercase", "params.npz", "scaling_factor"],
    ["saelens-v6-jumprelu", "sae_weights.safetensors", "finetuning_scaling_factor"],
  ] as const) {
    const dir = copyFixture(fixture);
    const target = path.join(dir, file);
    const src = openTensorFile(target);
    const record: Record<string, HostTensor> = Object.fromEntries(src.entries.map((e) => [e.name, src.read(e.name)]));
    src.close();
    const d_sae = record.threshold.shape[0];
    record[name] = { dtype: "float32", shape: [d_sae], data: new Float32Array(d_sae).fill(2) };
    if (file.endsWith(".npz")) writeNpz(target, record); else writeSafetensors(target, record);
    const plain = await loadSae(path.join(FIXTURES, fixture));
    const scaled = await loadSae(dir);
    const x = loadReference(fixture).x;
    const a = plain.forward(x), b = scaled.forward(x);
    const bias = plain.hostWeight("b_dec")!;
    const expected = a.reconstruction.map((v, i) => 2 * (v - bias[i % bias.length]) + bias[i % bias.length]);
    assertClose(b.reconstruction, expected, 1e-6, `${name} folded`);
    assert.ok(scaled.metadata.conversions.some((c) => c.includes(name)));
    plain.dispose();
    scaled.dispose();
  }
});
