// Checks against the real pretrained stories260K model (skipped when ../shared is absent): the README's greedy text,
// its TinyStories loss range, and agreement of the batched forward with the float64 reference.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import { initBackend } from "../../src/backend/index";
import { loadLlama2c } from "../../src/lm/checkpoint";
import { generate } from "../../src/lm/generate";
import { disposeParams, forward, toTensors } from "../../src/lm/model";
import { loadTokenizer } from "../../src/lm/tokenizer";
import { referenceForward } from "./reference";
import { sharedDir } from "./shared";

const shared = sharedDir();
const skip = !shared && "../shared is absent";
const dir = shared ? path.join(shared, "data", "stories260K") : "";

function documents(): string[] {
  return fs.readFileSync(path.join(dir, "tinystories-sample.txt"), "utf8").split("<|endoftext|>").map((d) => d.trim()).filter(Boolean);
}

test("greedy decoding from BOS reproduces the README's text", { skip }, async () => {
  await initBackend();
  const weights = loadLlama2c(path.join(dir, "stories260K.bin"));
  const params = toTensors(weights);
  const tok = loadTokenizer(path.join(dir, "tok512.bin"), weights.config.vocabSize);
  const g = generate(params, tok, { steps: 60, temperature: 0 });
  assert.equal(g.tokens.length, 61);
  assert.equal(g.stopped, "steps");
  assert.equal(g.text, "Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, " +
    "she saw a big, red ball. She wanted to play with it, but it was too high");
  disposeParams(params);
});

test("mean cross-entropy on 40 TinyStories documents is in the README's 1.2–1.45 range", { skip }, async () => {
  await initBackend();
  const params = toTensors(loadLlama2c(path.join(dir, "stories260K.bin")));
  const tok = loadTokenizer(path.join(dir, "tok512.bin"), 512);
  let total = 0, count = 0;
  for (const doc of documents().slice(0, 40)) {
    const ids = Array.from(tok.encode(doc).subarray(0, 257)); // BOS + up to 256 tokens
    for (const l of forward(params, [ids]).loss!) { total += l; count++; }
  }
  const mean = total / count;
  assert.ok(mean > 1.2 && mean < 1.45, `mean CE ${mean}`);
  disposeParams(params);
});

test("batched forward agrees with the float64 reference on stories260K logits", { skip }, async () => {
  await initBackend();
  const weights = loadLlama2c(path.join(dir, "stories260K.bin"));
  const params = toTensors(weights);
  const tok = loadTokenizer(path.join(dir, "tok512.bin"), 512);
  const docs = documents();
  const batch = [docs[3], docs[4]].map((d) => Array.from(tok.encode(d).subarray(0, 48)));
  const r = forward(params, batch, { logits: true, loss: false });
  let worst = 0;
  batch.forEach((seq, b) => {
    const ref = referenceForward(weights, seq);
    for (let t = 0; t < seq.length; t++) {
      for (let v = 0; v < 512; v++) worst = Math.max(worst, Math.abs(r.logits![(b * 48 + t) * 512 + v] - ref.logits[t][v]));
    }
  });
  assert.ok(worst < 1e-4, `max logit difference ${worst}`);
  disposeParams(params);
});
