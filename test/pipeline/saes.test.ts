import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { listSaes } from "../../src/pipeline/saes";
import { InputError } from "../../src/errors";

const fixtures = path.resolve(__dirname, "..", "fixtures", "sae");

test("listSaes finds every SAE format in a folder tree, with what paths and configs say", () => {
  const { saes, skipped } = listSaes(fixtures);
  const formats = new Set(saes.map((s) => s.format));
  assert.deepEqual([...formats].sort(), ["gemma-scope", "llama-scope", "saelens", "sparsify"]);
  const gs = saes.find((s) => s.path.includes("width_1k"));
  assert.ok(gs);
  assert.equal(gs.width, 1024);
  assert.equal(gs.l0, 12);
  assert.equal(gs.layer, 3);
  assert.equal(gs.hook, "blocks.3.hook_resid_post");
  assert.equal(saes.find((s) => s.path.endsWith("saelens-v6-topk-f16"))?.l0, 4, "TopK SAEs take k as their nominal L0");
  // one fixture needs a scaling factor that only its release knows: listed as skipped, with the reason
  assert.equal(skipped.length, 1);
  assert.match(skipped[0].problem, /scaling factor/);
  for (let i = 1; i < saes.length; i++) assert.ok((saes[i - 1].layer ?? -1) <= (saes[i].layer ?? -1), "sorted by layer");
});

test("listSaes says clearly when a folder holds no SAE", () => {
  const empty = fs.mkdtempSync(path.join(os.tmpdir(), "dm-nosae-"));
  assert.throws(() => listSaes(empty), (e: unknown) => e instanceof InputError && /holds no SAE/.test(e.message));
  assert.throws(() => listSaes(path.join(empty, "missing")), /does not exist/);
});
