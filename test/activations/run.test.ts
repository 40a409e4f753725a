// Text to activations in one call: ragged inputs batched by length equal per-sequence forwards (1e-6), rows carry
// their sequence, position and token; the tables plug into SAEs and the decomposition; user files become tables.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as util from "util";
import { ActivationTable, lengthBatches, loadModel, run } from "../../src/activations/index";
import { initBackend } from "../../src/backend/index";
import { decomposeSaeError } from "../../src/darkmatter/index";
import { errorComponents } from "../../src/family/index";
import { writeNpy } from "../../src/io/index";
import type { HookName } from "../../src/lm/hooks";
import { forward, toTensors } from "../../src/lm/model";
import { Tokenizer } from "../../src/lm/tokenizer";
import { sharedDir } from "../lm/shared";
import { randomTokens, randomWeights, SMALL_CONFIG } from "../lm/random-model";
import { randomSae } from "../family/store";

// Batched float32 matmuls sum in another order than single-sequence ones (even for two copies of one sequence), so
// agreement is measured relative to the values' scale: max |a − b| / max(1, max |b|).
function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0, scale = 1;
  for (let i = 0; i < a.length; i++) { m = Math.max(m, Math.abs(a[i] - b[i])); scale = Math.max(scale, Math.abs(b[i])); }
  return m / scale;
}

test("lengthBatches groups sequences longest first within the token budget", () => {
  const b = lengthBatches([3, 10, 7, 10, 1], 20);
  assert.deepEqual(b, [[1, 3], [2, 0], [4]]);
  assert.deepEqual(lengthBatches([50], 8), [[0]]); // a sequence longer than the budget runs alone
});

test("run on ragged token sequences equals each sequence's own forward pass (1e-6 of scale), row labels included", async () => {
  await initBackend();
  const params = toTensors(randomWeights(SMALL_CONFIG, 3));
  const pieces = Array.from({ length: SMALL_CONFIG.vocabSize }, (_, i) => `t${i}`);
  const model = { params, tokenizer: new Tokenizer({ pieces, scores: pieces.map(() => 0) }), name: "random" };
  const lengths = [13, 5, 18, 1, 9, 18, 2];
  const seqs = lengths.map((n, i) => randomTokens(1, n, SMALL_CONFIG.vocabSize, 100 + i)[0]);
  const hooks: HookName[] = ["blocks.0.hook_attn_out", "blocks.1.hook_resid_post", "blocks.2.hook_mlp_out"];
  // A small budget forces several batches, each padded.
  const r = run(model, seqs, { hooks, batchTokens: 40 });
  const d = SMALL_CONFIG.dim;
  let row = 0;
  seqs.forEach((s, i) => {
    const alone = forward(params, [s], { capture: hooks, loss: s.length >= 2 });
    for (const h of hooks) {
      const t = r.get(h);
      assert.ok(maxAbsDiff(t.x.subarray(row * d, (row + s.length) * d), alone.captured.get(h)!) <= 1e-6, `${h}, sequence ${i}`);
    }
    if (s.length >= 2) assert.ok(maxAbsDiff(r.loss!.subarray(row, row + s.length - 1), alone.loss!) <= 1e-5, `loss of sequence ${i}`);
    assert.ok(Number.isNaN(r.loss![row + s.length - 1]), "the last position has no next token");
    for (let p = 0; p < s.length; p++) {
      const t = r.get(hooks[0]);
      assert.equal(t.sequence[row + p], i);
      assert.equal(t.position[row + p], p);
      assert.equal(t.token[row + p], s[p]);
      assert.equal(t.tokenText(row + p), s[p] === 1 ? "<s>" : s[p] === 2 ? "</s>" : `t${s[p]}`);
    }
    row += s.length;
  });
  assert.equal(r.get(hooks[1]).rows, row);
  assert.throws(() => r.get("blocks.0.hook_resid_pre"), /was not captured/);
  assert.throws(() => run(model, [Array(40).fill(1)], { hooks }), /seq_len/);
  assert.throws(() => run(model, [[1, 99]], { hooks }), /outside the vocabulary/);
});

test("run takes text, tables feed SAEs and the decomposition directly, and print in a few lines", async () => {
  await initBackend();
  const model = loadModel();
  const texts = ["The Congress shall assemble.", "We the people of the United States, in order to form a more perfect union,", "Peace"];
  const hook: HookName = "blocks.3.hook_resid_post";
  const r = run(model, texts, { hooks: [hook] });
  const acts = r.get(hook);
  assert.equal(acts.sequences, 3);
  assert.equal(acts.rows, r.tokens.reduce((a, t) => a + t.length, 0));
  assert.equal(acts.tokenText(0), "<s>");
  assert.equal(model.tokenizer.decode(r.tokens[2]), "Peace");
  // One sequence alone gives the same rows.
  const alone = run(model, texts[1], { hooks: [hook] }).get(hook);
  const rows1 = acts.rowsOf(1);
  assert.ok(maxAbsDiff(acts.select(rows1).x, alone.x) <= 1e-6);

  const sae = randomSae(acts.d, 64, 8, 5);
  const viaTable = sae.forward(acts), viaArray = sae.forward(acts.x);
  assert.deepEqual(viaTable.error, viaArray.error);
  assert.deepEqual(sae.encode(acts).indices, sae.encode(acts.x).indices);
  assert.throws(() => sae.forward(ActivationTable.fromArray(new Float32Array(10), 5)), /d_in/);
  const bigger = run(model, Array.from({ length: 12 }, (_, i) => `${texts[1]} number ${i} of the addresses to the nation`), { hooks: [hook] }).get(hook);
  const dec = decomposeSaeError({ activations: bigger, sae }, { bootstrap: false });
  assert.ok(dec.fvu.value > 0 && Number.isFinite(dec.fvuNonlinear.value));
  const parts = errorComponents(bigger.x, bigger.rows, sae, dec.linearMap);
  assert.deepEqual(parts.error, sae.forward(bigger).error);

  for (const v of [r, acts, sae, dec, dec.fvu, model]) {
    const lines = util.inspect(v).split("\n");
    assert.ok(lines.length <= 5, `${lines.length} lines:\n${lines.join("\n")}`);
  }
  assert.match(util.inspect(acts), /ActivationTable blocks\.3\.hook_resid_post: \d+ rows × 128 \(3 sequences\)/);
  assert.match(util.inspect(dec), /fvu_nonlinear/);
});

test("a user's activations file with its tokens becomes a table", async () => {
  await initBackend();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dm-table-"));
  const x = Float32Array.from({ length: 2 * 3 * 4 }, (_, i) => i);
  writeNpy(path.join(dir, "acts.npy"), { dtype: "float32", shape: [2, 3, 4], data: x });
  writeNpy(path.join(dir, "tokens.npy"), { dtype: "int32", shape: [2, 3], data: Int32Array.from([5, 6, 7, 8, 9, 10]) });
  const t = ActivationTable.fromFile(path.join(dir, "acts.npy"), { tokens: path.join(dir, "tokens.npy") });
  assert.equal(t.rows, 6);
  assert.deepEqual([...t.sequence], [0, 0, 0, 1, 1, 1]);
  assert.deepEqual([...t.position], [0, 1, 2, 0, 1, 2]);
  assert.equal(t.tokenText(4), "#9");
  assert.deepEqual([...t.row(5)], [20, 21, 22, 23]);
  writeNpy(path.join(dir, "flat.npy"), { dtype: "float32", shape: [6, 4], data: x });
  const f = ActivationTable.fromFile(path.join(dir, "flat.npy"), { tokens: [[5, 6, 7], [8, 9, 10]] });
  assert.deepEqual([...f.sequence], [0, 0, 0, 1, 1, 1]);
  assert.throws(() => ActivationTable.fromFile(path.join(dir, "flat.npy"), { tokens: [1, 2, 3] }), /3 tokens for 6 activation rows/);
  assert.throws(() => ActivationTable.fromFile(path.join(dir, "missing.npy")), /does not exist/);
});

const shared = sharedDir();
test("run works on another llama2.c model (stories260K)", { skip: !shared && "../shared is absent" }, async () => {
  await initBackend();
  const dir = path.join(shared!, "data", "stories260K");
  const model = loadModel(path.join(dir, "stories260K.bin"), path.join(dir, "tok512.bin"));
  const texts = ["Once upon a time, there was a little girl.", "Tom had a dog"];
  const r = run(model, texts, { hooks: ["blocks.2.hook_resid_post"] });
  const t = r.get("blocks.2.hook_resid_post");
  assert.equal(t.d, model.params.config.dim);
  const alone = run(model, texts[1], { hooks: ["blocks.2.hook_resid_post"] }).get("blocks.2.hook_resid_post");
  assert.ok(maxAbsDiff(t.select(t.rowsOf(1)).x, alone.x) <= 1e-6);
});
