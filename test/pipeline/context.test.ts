import { before, test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { initBackend } from "../../src/backend/index";
import { InputError } from "../../src/errors";
import { writeNpy } from "../../src/io/index";
import { collectRows } from "../../src/linalg/rows";
import { openContext } from "../../src/pipeline/context";
import { Sae, saveSaeLens } from "../../src/sae/index";
import { normals } from "../helpers/random";

const d = 8, width = 16;
let dir: string;
before(async () => {
  await initBackend();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "dm-context-"));
  for (const k of [2, 4]) {
    const sae = new Sae({
      architecture: "topk", d_in: d, d_sae: width, k, applyBDecToInput: true,
      weights: { W_enc: normals(d * width, 1), b_enc: new Float32Array(width), W_dec: normals(width * d, 2), b_dec: new Float32Array(d) },
      metadata: { hookName: "blocks.1.hook_resid_post", layer: 1 },
    });
    saveSaeLens(sae, path.join(dir, "saes", "layer_1", `width_${width}`, `average_l0_${k}`));
    sae.dispose();
  }
  writeNpy(path.join(dir, "acts.npy"), { dtype: "float32", shape: [100, d], data: normals(100 * d, 3) });
});

test("a user's SAE folder with a tensor file of activations", async () => {
  const ctx = await openContext({ saeDir: path.join(dir, "saes"), activations: path.join(dir, "acts.npy") });
  try {
    assert.deepEqual(ctx.saes.map((s) => [s.width, s.l0]), [[width, 2], [width, 4]]);
    assert.equal(ctx.rows, 100);
    assert.equal(ctx.d, d);
    assert.equal(ctx.store, null);
    assert.equal(ctx.model, null);
    assert.equal(collectRows(ctx.activations).length, 100 * d);
  } finally {
    ctx.close();
  }
});

test("missing pieces are named in one clear error", async () => {
  await assert.rejects(openContext({ activations: path.join(dir, "acts.npy") }), (e: unknown) => e instanceof InputError && e.source === "saeDir");
  await assert.rejects(openContext({ saeDir: path.join(dir, "saes") }), (e: unknown) => e instanceof InputError && /model.*tokenizer.*text/.test(e.message));
  await assert.rejects(openContext({ saeDir: path.join(dir, "nothing"), activations: path.join(dir, "acts.npy") }), /does not exist/);
  await assert.rejects(openContext({ saeDir: path.join(dir, "saes"), activations: path.join(dir, "missing.npy") }), /does not exist/);
});

test("decomposeFamily decomposes each SAE and measures its empirical L0", async () => {
  const { decomposeFamily } = await import("../../src/pipeline/decompose-family");
  const ctx = await openContext({ saeDir: path.join(dir, "saes"), activations: path.join(dir, "acts.npy") });
  try {
    const results = await decomposeFamily(ctx, { trainRows: 60, bootstrap: false });
    assert.equal(results.length, 2);
    for (const r of results) {
      assert.equal(r.l0Empirical, r.sae.l0, "a TopK SAE's empirical L0 is its k");
      assert.ok(r.result.fvu.value > 0 && Number.isFinite(r.result.vectorR2.value), "metrics were measured");
      assert.equal(r.result.rows.train, 60);
    }
  } finally {
    ctx.close();
  }
});
