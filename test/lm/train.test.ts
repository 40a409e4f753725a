import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { before, describe, it } from "node:test";
import { initBackend } from "../../src/backend";
import { InputError } from "../../src/errors";
import { checkpointBytes, loadLlama2c } from "../../src/lm/checkpoint";
import { loadSotuCorpus, splitCorpus } from "../../src/lm/corpus";
import { documentContexts } from "../../src/lm/corpus-tokens";
import { disposeParams, toTensors } from "../../src/lm/model";
import { loadTokenizer } from "../../src/lm/tokenizer";
import {
  DEFAULT_TRAIN, TrainConfig, initWeights, learningRate, meanLoss, parameterCount, trainLanguageModel, unigramCE,
} from "../../src/lm/train";
import { DEFAULT_MODEL_DIR, DEFAULT_MODEL_FILE, DEFAULT_TOKENIZER_FILE, tokenizeWith } from "../../src/lm/train-default";
import { tiny } from "../activations/tiny";

before(async () => { await initBackend(); });

function tinySetup(overrides: Partial<TrainConfig> = {}) {
  const t = tiny();
  const split = splitCorpus(t.corpus);
  const cfg: TrainConfig = {
    ...DEFAULT_TRAIN, model: { ...t.config, seqLen: 32 }, steps: 6, batchSize: 4, lr: 1e-2, minLr: 1e-3, warmupSteps: 2,
    evalEvery: 1000, evalContexts: 4, checkpointEvery: 2, seed: 11, ...overrides,
  };
  return { cfg, train: tokenizeWith(t.tokenizer, split.train), heldOut: tokenizeWith(t.tokenizer, split.heldOut) };
}

describe("language-model training", () => {
  it("schedules the learning rate: linear warm-up, cosine to minLr", () => {
    const cfg = { ...DEFAULT_TRAIN, steps: 100, warmupSteps: 10, lr: 1, minLr: 0.1 };
    assert.equal(learningRate(cfg, 0), 0.1);
    assert.equal(learningRate(cfg, 9), 1);
    assert.equal(learningRate(cfg, 10), 1);
    assert.ok(Math.abs(learningRate(cfg, 99) - 0.1) < 1e-12);
    for (let k = 11; k < 100; k++) assert.ok(learningRate(cfg, k) < learningRate(cfg, k - 1));
  });

  it("initialises weights from the seed alone", () => {
    const { cfg } = tinySetup();
    assert.deepEqual(initWeights(cfg.model, 5), initWeights(cfg.model, 5));
    assert.notDeepEqual(initWeights(cfg.model, 5).wq, initWeights(cfg.model, 6).wq);
    assert.ok(initWeights(cfg.model, 5).rmsAtt.every((x) => x === 1));
  });

  it("decreases the loss on a tiny model and corpus", () => {
    const { cfg, train, heldOut } = tinySetup({ steps: 40, evalEvery: 40 });
    const r = trainLanguageModel(cfg, { train, heldOut, cacheDir: null });
    assert.equal(r.steps, 40);
    assert.equal(r.stepLosses.length, 40);
    const first = r.stepLosses[0], last = r.stepLosses.slice(-5).reduce((s, x) => s + x, 0) / 5;
    assert.ok(Math.abs(first - Math.log(512)) < 0.1, `initial loss ${first} ≈ ln 512`);
    assert.ok(last < first - 0.8, `loss ${first} → ${last}`);
    assert.equal(r.evals.length, 2); // step 0 and the end
    assert.ok(r.evals[1].heldOutCE < r.evals[0].heldOutCE - 0.5);
  });

  it("is deterministic, and a resumed run equals an uninterrupted one bit for bit", () => {
    const { cfg, train, heldOut } = tinySetup();
    const a = trainLanguageModel(cfg, { train, heldOut, cacheDir: null });
    const b = trainLanguageModel(cfg, { train, heldOut, cacheDir: null });
    assert.deepEqual(b.weights, a.weights);
    assert.deepEqual(b.stepLosses, a.stepLosses);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dm-train-"));
    try {
      const part = trainLanguageModel(cfg, { train, heldOut, cacheDir: dir, maxStepsThisRun: 3 });
      assert.equal(part.steps, 3);
      const rest = trainLanguageModel(cfg, { train, heldOut, cacheDir: dir });
      assert.equal(rest.stepsThisRun, 3);
      assert.equal(rest.steps, 6);
      assert.deepEqual(rest.weights, a.weights);
      assert.deepEqual(rest.stepLosses, a.stepLosses);
      // A finished run in the cache is returned without training again.
      assert.equal(trainLanguageModel(cfg, { train, heldOut, cacheDir: dir }).stepsThisRun, 0);
      // A changed config trains in another folder.
      trainLanguageModel({ ...cfg, lr: 5e-3, steps: 1 }, { train, heldOut, cacheDir: dir });
      assert.equal(fs.readdirSync(dir).length, 2);
      // A damaged checkpoint is reported, not silently restarted.
      const [key] = fs.readdirSync(dir).filter((k) => fs.readFileSync(path.join(dir, k, "state.json"), "utf8").includes('"step":6'));
      fs.writeFileSync(path.join(dir, key, "state.json"), "{");
      assert.throws(() => trainLanguageModel(cfg, { train, heldOut, cacheDir: dir }), (e: unknown) => e instanceof InputError && /state\.json/.test(e.message));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("accumulates micro-batches into the same step as the whole batch", () => {
    const { cfg, train, heldOut } = tinySetup({ steps: 3 });
    const whole = trainLanguageModel(cfg, { train, heldOut, cacheDir: null });
    const micro = trainLanguageModel({ ...cfg, microBatch: 1 }, { train, heldOut, cacheDir: null });
    // Same batches, same mean loss and gradient up to float32 summation order.
    for (const [i, l] of whole.stepLosses.entries()) assert.ok(Math.abs(micro.stepLosses[i] - l) < 1e-4, `step ${i}: ${micro.stepLosses[i]} vs ${l}`);
    const maxDiff = whole.weights.wq.reduce((m, x, i) => Math.max(m, Math.abs(x - micro.weights.wq[i])), 0);
    assert.ok(maxDiff < 1e-4, `wq differs by ${maxDiff}`);
    assert.ok(whole.weights.wq.some((x, i) => x !== initWeights(cfg.model, cfg.seed).wq[i]), "the weights moved");
    assert.throws(() => trainLanguageModel({ ...cfg, microBatch: 3 }, { train, heldOut, cacheDir: null }), /microBatch/);
  });

  it("rejects bad configs", () => {
    const { cfg, train, heldOut } = tinySetup();
    assert.throws(() => trainLanguageModel({ ...cfg, lr: 0 }, { train, heldOut, cacheDir: null }), /lr/);
    assert.throws(() => trainLanguageModel({ ...cfg, beta2: 1 }, { train, heldOut, cacheDir: null }), /beta2/);
    assert.throws(() => trainLanguageModel({ ...cfg, model: { ...cfg.model, nHeads: 3 } }, { train, heldOut, cacheDir: null }), InputError);
  });

  it("computes the unigram baseline from add-one smoothed train counts", () => {
    const train = { docIds: ["a"], tokens: Int32Array.from([3, 3, 3, 4]), offsets: Int32Array.from([0, 4]) };
    // Counts with add-one over a 5-token vocabulary: [1, 1, 1, 4, 2] / 9. Targets are every token after BOS.
    const ce = unigramCE(train, 5, Int32Array.from([1, 3, 4]), 3);
    assert.ok(Math.abs(ce - (-(Math.log(4 / 9) + Math.log(2 / 9)) / 2)) < 1e-12);
  });
});

describe("the committed default model (data/model)", { skip: !fs.existsSync(DEFAULT_MODEL_FILE) && "not built" }, () => {
  it("is a ≤ 2M-parameter llama2.c model that clearly beats the unigram baseline on held-out text", (t) => {
    const weights = loadLlama2c(DEFAULT_MODEL_FILE);
    const c = weights.config;
    assert.ok(parameterCount(c) <= 2_000_000, `${parameterCount(c)} parameters`);
    assert.ok(fs.statSync(DEFAULT_MODEL_FILE).size <= 8_000_000);
    assert.equal(fs.statSync(DEFAULT_MODEL_FILE).size, checkpointBytes(c));
    const card = JSON.parse(fs.readFileSync(path.join(DEFAULT_MODEL_DIR, "model-card.json"), "utf8"));
    assert.equal(card.model.parameters, parameterCount(c));
    assert.equal(card.model.dim, c.dim);
    const tokenizer = loadTokenizer(DEFAULT_TOKENIZER_FILE, c.vocabSize);
    const { train, heldOut } = splitCorpus(loadSotuCorpus());
    const heldOutTokens = tokenizeWith(tokenizer, heldOut);
    // A small sample of held-out contexts (not the card's evaluation set: another seed).
    const ctx = documentContexts(heldOutTokens, 8, c.seqLen, 2024).tokens;
    const params = toTensors(weights);
    const ce = meanLoss(params, ctx, c.seqLen, 8);
    disposeParams(params);
    const unigram = unigramCE(tokenizeWith(tokenizer, train), c.vocabSize, ctx, c.seqLen);
    t.diagnostic(`held-out sample: model CE ${ce.toFixed(3)} vs unigram ${unigram.toFixed(3)} nats/token (card: ${card.evaluation.heldOutCE.toFixed(3)})`);
    assert.ok(ce < unigram - 1, `model ${ce} vs unigram ${unigram}`);
    assert.ok(Math.abs(ce - card.evaluation.heldOutCE) < 0.5, "the card's held-out CE describes this file");
  });
});
