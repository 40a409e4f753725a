// Path conventions: Gemma Scope folder names, width labels and layer numbers in hook names.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import { InputError } from "../../src/errors";
import { layerFromHookName, parseGemmaScopePath, parseWidth } from "../../src/sae/index";

test("width labels", () => {
  assert.equal(parseWidth("16k"), 16384);
  assert.equal(parseWidth("32k"), 32768);
  assert.equal(parseWidth("65k"), 65536);
  assert.equal(parseWidth("131k"), 131072);
  assert.equal(parseWidth("262k"), 262144);
  assert.equal(parseWidth("524k"), 524288);
  assert.equal(parseWidth("1m"), 2 ** 20);
  assert.equal(parseWidth("1M"), 2 ** 20);
  assert.equal(parseWidth("4096"), 4096);
  assert.equal(parseWidth("0"), undefined);
  assert.equal(parseWidth("4k"), 4096);
  assert.equal(parseWidth("1k"), 1024);
  assert.equal(parseWidth("3k"), undefined, "no power of two in [3000, 4000)");
  assert.equal(parseWidth("16q"), undefined);
  assert.equal(parseWidth("k"), undefined);
});

test("Gemma Scope paths", () => {
  assert.deepEqual(parseGemmaScopePath("/hf/gemma-scope-9b-pt-res/layer_20/width_131k/average_l0_62/params.npz"), {
    layer: 20, width: 131072, nominalL0: 62, modelName: "gemma-2-9b", hookName: "blocks.20.hook_resid_post",
  });
  assert.deepEqual(parseGemmaScopePath("gemma-scope-2b-pt-mlp/layer_5/width_1m/average_l0_19"), {
    layer: 5, width: 2 ** 20, nominalL0: 19, modelName: "gemma-2-2b", hookName: "blocks.5.hook_mlp_out",
  });
  assert.equal(parseGemmaScopePath("gemma-scope-2b-pt-att/layer_12/width_16k/average_l0_82").hookName, "blocks.12.attn.hook_z");
  assert.equal(parseGemmaScopePath("gemma-scope-9b-pt-res-canonical/layer_9/width_16k/canonical").modelName, "gemma-2-9b");
  // Only the parts that are there; no release name means no model or hook.
  assert.deepEqual(parseGemmaScopePath("saes/layer_12/width_65k/average_l0_141"), { layer: 12, width: 65536, nominalL0: 141 });
  assert.deepEqual(parseGemmaScopePath("some/other/place/params.npz"), {});
  assert.throws(() => parseGemmaScopePath("layer_3/width_abc/average_l0_5"), (e: unknown) => e instanceof InputError && /width_abc/.test(e.message));
  assert.throws(() => parseGemmaScopePath("layer_3/width_16k/average_l0_x"), /average_l0_x/);
});

test("layers from hook and module names", () => {
  assert.equal(layerFromHookName("blocks.12.hook_resid_post"), 12);
  assert.equal(layerFromHookName("blocks.0.attn.hook_z"), 0);
  assert.equal(layerFromHookName("layers.10"), 10);
  assert.equal(layerFromHookName("model.layers.12"), 12);
  assert.equal(layerFromHookName("layers.3.mlp"), 3);
  assert.equal(layerFromHookName("transformer.h.7"), 7);
  assert.equal(layerFromHookName("hook_embed"), undefined);
  assert.equal(layerFromHookName("embed_tokens"), undefined);
});
