import { test } from "node:test";
import * as assert from "node:assert/strict";
import { initBackend } from "../../src/backend/index";
import { InputError } from "../../src/errors";
import { generate, sampleToken } from "../../src/lm/generate";
import { mulberry32 } from "../../src/linalg/random";
import { disposeParams, forward, toTensors } from "../../src/lm/model";
import { BOS, EOS, Tokenizer } from "../../src/lm/tokenizer";
import { randomWeights, SMALL_CONFIG } from "./random-model";

/** A 37-token vocabulary for the random model: specials, then letters, space and punctuation. */
function smallTokenizer(): Tokenizer {
  const chars = " abcdefghijklmnopqrstuvwxyz.,!?'-\n";
  const pieces = ["<unk>", "\n<s>\n", "\n</s>\n", ...chars.split("")];
  return new Tokenizer({ pieces, scores: pieces.map((_, i) => -i) });
}

test("greedy generation with the KV cache equals argmax over full re-forwards", async () => {
  await initBackend();
  // Bias the classifier against BOS/EOS so that the sequence runs its full length.
  const w = randomWeights(SMALL_CONFIG, 31);
  for (let j = 0; j < SMALL_CONFIG.dim; j++) { w.wcls![BOS * SMALL_CONFIG.dim + j] = 0; w.wcls![EOS * SMALL_CONFIG.dim + j] = 0; }
  const params = toTensors(w);
  const tok = smallTokenizer();
  const g = generate(params, tok, { prompt: "ab", steps: 12 });
  assert.equal(g.promptLength, 4); // BOS, " ", "a", "b" (no merges in this vocabulary)
  assert.equal(g.tokens.length, 16);
  const seq = g.tokens.slice(0, g.promptLength);
  while (seq.length < g.tokens.length) {
    const logits = forward(params, [seq], { logits: true, loss: false }).logits!;
    const last = logits.subarray((seq.length - 1) * 37, seq.length * 37);
    seq.push(last.indexOf(Math.max(...last)));
  }
  assert.deepEqual(g.tokens, seq);
  assert.equal(g.text, tok.decode(g.tokens));
  assert.ok(g.text.startsWith("ab"));
  // Sampling: a seed fixes the result; another seed gives another text; the model's seq_len caps the length.
  const s1 = generate(params, tok, { steps: 20, temperature: 1, seed: 5 });
  assert.deepEqual(generate(params, tok, { steps: 20, temperature: 1, seed: 5 }).tokens, s1.tokens);
  assert.notDeepEqual(generate(params, tok, { steps: 20, temperature: 1, seed: 6 }).tokens, s1.tokens);
  const long = generate(params, tok, { steps: 100 });
  assert.equal(long.tokens.length, SMALL_CONFIG.seqLen);
  assert.equal(long.stopped, "seq_len");
  // Streaming callback sees every generated token with its predecessor.
  const seen: number[][] = [];
  const streamed = generate(params, tok, { steps: 5, onToken: (t, prev) => seen.push([prev, t]) });
  assert.deepEqual(seen, streamed.tokens.slice(1).map((t, i) => [streamed.tokens[i], t]));
  disposeParams(params);
});

test("generation stops at BOS/EOS and validates its inputs", async () => {
  await initBackend();
  const w = randomWeights(SMALL_CONFIG, 32);
  const params0 = toTensors(w);
  const tok = smallTokenizer();
  // Classifier rows: zero except EOS = v and BOS = -v, so one of the two is the strict maximum at every step.
  w.wcls!.fill(0);
  const d = SMALL_CONFIG.dim;
  for (let j = 0; j < d; j++) { w.wcls![EOS * d + j] = 1 + j; w.wcls![BOS * d + j] = -(1 + j); }
  const stopModel = toTensors(w);
  for (const prompt of ["a", "ab c", "zz"]) {
    const r = generate(stopModel, tok, { steps: 10, prompt });
    assert.ok(r.stopped === "eos" || r.stopped === "bos", r.stopped);
    assert.equal(r.tokens.length, r.promptLength);
    assert.equal(r.text, prompt);
  }
  assert.throws(() => generate(params0, new Tokenizer({ pieces: ["a", "b"], scores: [0, 0] })), /has 2 tokens/);
  assert.throws(() => generate(params0, tok, { steps: -1 }), InputError);
  assert.throws(() => generate(params0, tok, { temperature: -1 }), InputError);
  assert.throws(() => generate(params0, tok, { temperature: NaN }), InputError);
  assert.throws(() => generate(params0, tok, { prompt: "a".repeat(40) }), /no room/);
  disposeParams(params0);
  disposeParams(stopModel);
});

test("sampleToken: argmax at temperature 0 (lowest id on ties), softmax frequencies otherwise", () => {
  assert.equal(sampleToken(Float32Array.of(1, 3, 3, 2), 0, () => 0.5), 1);
  const logits = Float32Array.of(0, Math.log(2), Math.log(7));
  const u = mulberry32(3);
  const counts = [0, 0, 0];
  for (let i = 0; i < 20000; i++) counts[sampleToken(logits, 1, u)]++;
  [0.1, 0.2, 0.7].forEach((p, i) => assert.ok(Math.abs(counts[i] / 20000 - p) < 0.015, `token ${i}: ${counts[i]}`));
  // A low temperature concentrates on the maximum.
  let top = 0;
  for (let i = 0; i < 1000; i++) if (sampleToken(logits, 0.05, u) === 2) top++;
  assert.ok(top > 990);
});
