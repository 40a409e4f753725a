import { test } from "node:test";
import * as assert from "node:assert/strict";
import { InputError } from "../../src/errors";
import {
  ActivatingExample, AutoInterpCorpus, binomialProportion, detectionScores, Explainer, LatentActivations, meanWithBootstrap, normalQuantile,
  parseTokenExplanation, sampleLatents, Scorer, ScoringExample, tokenExplanation, TokenMatchScorer, TopTokensExplainer,
} from "../../src/darkmatter/autointerp";
import { rng } from "../helpers/random";

// A corpus of 600 windows of 32 uniformly random tokens from a vocabulary of 50: a given token occurs in about
// 1 − (49/50)^32 ≈ 48 % of windows.
const V = 50, L = 32, C = 600;
const u = rng(1);
const corpus: AutoInterpCorpus = { contexts: Array.from({ length: C }, () => Array.from({ length: L }, () => Math.floor(u() * V))) };

/** A latent firing at every position holding one of `tokens` (activation from `strength`), nowhere else. */
function tokenLatent(latent: number, strength: Map<number, number>, seed: number): LatentActivations {
  const r = rng(seed);
  const context: number[] = [], position: number[] = [], activation: number[] = [];
  corpus.contexts.forEach((ctx, c) => {
    for (let p = 0; p < ctx.length; p++) {
      const s = strength.get(ctx[p]);
      if (s !== undefined) { context.push(c); position.push(p); activation.push(s * (1 + 0.2 * r())); }
    }
  });
  return { latent, context, position, activation };
}

/** A latent firing at random positions (probability 0.02), independent of the tokens. */
function randomLatent(latent: number, seed: number): LatentActivations {
  const r = rng(seed);
  const context: number[] = [], position: number[] = [], activation: number[] = [];
  for (let c = 0; c < C; c++) for (let p = 0; p < L; p++) if (r() < 0.02) { context.push(c); position.push(p); activation.push(r() * 5); }
  return { latent, context, position, activation };
}

const small = { minExamples: 50, negatives: 70, bootstrap: { resamples: 500 } }; // 70 positives + 70 negatives

test("a latent that fires exactly on one token is detected perfectly by the token explainer/scorer", async () => {
  const r = await detectionScores(corpus, [tokenLatent(5, new Map([[7, 2]]), 3)], new TopTokensExplainer(3), new TokenMatchScorer(), small);
  assert.equal(r.latents.length, 1);
  const l = r.latents[0];
  assert.deepEqual(parseTokenExplanation(l.explanation), [7]);
  assert.equal(l.overall.total, 140);
  assert.equal(l.overall.accuracy, 1);
  assert.equal(l.balancedAccuracy, 1);
  assert.equal(l.negatives.accuracy, 1);
  for (const d of l.deciles) { assert.equal(d.total, 7); assert.equal(d.accuracy, 1); }
  // Negatives are non-activating windows, positives activating ones.
  for (const e of l.examples) assert.equal(Array.from(corpus.contexts[e.context]).includes(7), e.active);
});

test("random latents score about 50 % on balanced sets", async () => {
  const acts = Array.from({ length: 20 }, (_, i) => randomLatent(100 + i, 50 + i));
  const r = await detectionScores(corpus, acts, new TopTokensExplainer(1), new TokenMatchScorer(), small);
  assert.equal(r.latents.length, 20);
  const m = r.summary.meanAccuracy;
  assert.ok(Math.abs(m.value - 0.5) < 0.05, `mean accuracy ${m.value}`);
  assert.ok(Math.abs(r.summary.meanBalancedAccuracy.value - 0.5) < 0.05);
  assert.ok(m.interval!.lo < 0.5 + 0.01 && m.interval!.hi > 0.5 - 0.01, `interval ${m.interval!.lo}…${m.interval!.hi}`);
  // The planted latent is clearly better: the comparison the paper makes between two SAEs.
  const planted = await detectionScores(corpus, [tokenLatent(1, new Map([[3, 1]]), 9)], new TopTokensExplainer(1), new TokenMatchScorer(), small);
  assert.ok(planted.summary.meanAccuracy.value > m.interval!.hi);
});

test("deciles are ordered by activation: weak-token windows fill the low deciles", async () => {
  // Strong on token 7, weak on token 9: windows with only 9 (≈ a third of the activating ones) have the lowest
  // activations; the one-token explanation names 7, so low deciles are missed and high deciles found.
  const r = await detectionScores(corpus, [tokenLatent(2, new Map([[7, 10], [9, 0.1]]), 4)], new TopTokensExplainer(1), new TokenMatchScorer(), small);
  const d = r.latents[0].deciles;
  assert.deepEqual(parseTokenExplanation(r.latents[0].explanation), [7]);
  for (let q = 0; q < 3; q++) assert.equal(d[q].accuracy, 0, `decile ${q}`);
  for (let q = 4; q < 10; q++) assert.equal(d[q].accuracy, 1, `decile ${q}`);
  const ex = r.latents[0].examples.filter((e) => e.active);
  for (const e of ex) if (e.decile < 3) assert.ok(e.maxActivation < 1);
});

test("the explainer sees the top examples; the scorer sees shuffled batches without activations, never those examples", async () => {
  const shown: ActivatingExample[][] = [];
  const batches: ScoringExample[][] = [];
  const explainer: Explainer = { explain: async (ex) => { shown.push(ex); return tokenExplanation([7]); } };
  const scorer: Scorer = { score: async (_e, ex) => { batches.push(ex); return ex.map(() => true); } };
  const acts = tokenLatent(5, new Map([[7, 2]]), 3);
  const r = await detectionScores(corpus, [acts], explainer, scorer, { ...small, scoreBatchSize: 4 });
  assert.equal(shown[0].length, 10);
  for (let i = 1; i < 10; i++) assert.ok(shown[0][i - 1].maxActivation >= shown[0][i].maxActivation);
  const maxAll = Math.max(...Array.from(acts.activation));
  assert.equal(shown[0][0].maxActivation, Math.fround(maxAll));
  assert.ok(batches.every((b) => b.length <= 4 && b.every((e) => !("activations" in e))));
  assert.equal(batches.flat().length, 140);
  const shownContexts = new Set(shown[0].map((e) => e.context));
  assert.ok(r.latents[0].examples.every((e) => !shownContexts.has(e.context)));
  // Shuffled: positives (windows holding 7) and negatives interleave among the first 20 scored.
  const first = batches.flat().slice(0, 20).map((e) => e.tokens.includes(7));
  assert.ok(first.includes(true) && first.includes(false));
  assert.equal(r.latents[0].overall.accuracy, 70 / 140);
});

test("seeded: the same seed reproduces the samples regardless of latent order and concurrency", async () => {
  const a = [tokenLatent(5, new Map([[7, 2]]), 3), randomLatent(6, 60)];
  const r1 = await detectionScores(corpus, a, new TopTokensExplainer(), new TokenMatchScorer(), { ...small, seed: 3 });
  const r2 = await detectionScores(corpus, [a[1], a[0]], new TopTokensExplainer(), new TokenMatchScorer(), { ...small, seed: 3, concurrency: 2 });
  assert.deepEqual(r1.latents[0].examples, r2.latents[1].examples);
  assert.deepEqual(r1.latents[1].examples, r2.latents[0].examples);
  const r3 = await detectionScores(corpus, a, new TopTokensExplainer(), new TokenMatchScorer(), { ...small, seed: 4 });
  assert.notDeepEqual(r1.latents[1].examples.map((e) => e.context), r3.latents[1].examples.map((e) => e.context));
});

test("latents with too few activating windows are skipped with the reason", async () => {
  const rare = tokenLatent(8, new Map([[7, 1]]), 2);
  const r = await detectionScores(corpus, [rare], new TopTokensExplainer(), new TokenMatchScorer(), { minExamples: 500, maxExamples: 2000 });
  assert.equal(r.latents.length, 0);
  assert.equal(r.skipped[0].latent, 8);
  assert.match(r.skipped[0].reason, /minExamples = 500/);
  assert.ok(Number.isNaN(r.summary.meanAccuracy.value));
});

test("interval math: Wilson and normal intervals and the normal quantile on known values", () => {
  assert.ok(Math.abs(normalQuantile(0.975) - 1.959963985) < 1e-8);
  assert.ok(Math.abs(normalQuantile(0.001) + 3.090232306) < 1e-8);
  assert.equal(normalQuantile(0.5), 0);
  const p = binomialProportion(8, 10);
  assert.equal(p.accuracy, 0.8);
  assert.ok(Math.abs(p.wilson.lo - 0.49016) < 1e-4 && Math.abs(p.wilson.hi - 0.94334) < 1e-4, JSON.stringify(p.wilson));
  assert.ok(Math.abs(p.normal.lo - 0.55208) < 1e-4 && p.normal.hi === 1);
  const zero = binomialProportion(0, 10);
  assert.ok(zero.wilson.lo === 0 && Math.abs(zero.wilson.hi - 0.27753) < 1e-4);
  const all = binomialProportion(10, 10);
  assert.ok(Math.abs(all.wilson.lo - 0.72247) < 1e-4 && Math.abs(all.wilson.hi - 1) < 1e-12);
  const p90 = binomialProportion(45, 100, 0.9);
  assert.ok(Math.abs(p90.normal.hi - (0.45 + 1.6448536 * Math.sqrt(0.45 * 0.55 / 100))) < 1e-7);
  assert.ok(Number.isNaN(binomialProportion(0, 0).accuracy));
  assert.throws(() => binomialProportion(3, 2), InputError);
  // Bootstrap of the mean of 100 alternating 0/1 values: standard error 0.05, interval ≈ 0.5 ± 0.098.
  const b = meanWithBootstrap(Array.from({ length: 100 }, (_, i) => i % 2), { resamples: 4000, seed: 1 });
  assert.equal(b.value, 0.5);
  assert.ok(Math.abs(b.interval!.lo - 0.402) < 0.015 && Math.abs(b.interval!.hi - 0.598) < 0.015, `${b.interval!.lo}…${b.interval!.hi}`);
  assert.ok(Math.abs(b.interval!.se - 0.05) < 0.004);
});

test("sampleLatents draws distinct latents, seeded", () => {
  const a = sampleLatents(16384, 1000, 2);
  assert.equal(new Set(a).size, 1000);
  assert.ok(a.every((x, i) => x >= 0 && x < 16384 && (i === 0 || x > a[i - 1])));
  assert.deepEqual(sampleLatents(16384, 1000, 2), a);
  assert.throws(() => sampleLatents(10, 11), InputError);
});

test("bad inputs and misbehaving scorers are InputErrors naming the source", async () => {
  const good = tokenLatent(5, new Map([[7, 2]]), 3);
  const cases: [() => Promise<unknown>, string][] = [
    [() => detectionScores(corpus, [{ ...good, position: Array.from(good.position).slice(1) }], new TopTokensExplainer(), new TokenMatchScorer(), small), "activations[latent 5]"],
    [() => detectionScores(corpus, [{ latent: 1, context: [C], position: [0], activation: [1] }], new TopTokensExplainer(), new TokenMatchScorer(), small), "activations[latent 1]"],
    [() => detectionScores(corpus, [{ latent: 1, context: [0], position: [L], activation: [1] }], new TopTokensExplainer(), new TokenMatchScorer(), small), "activations[latent 1]"],
    [() => detectionScores(corpus, [{ latent: 1, context: [0, 0], position: [1, 1], activation: [1, 2] }], new TopTokensExplainer(), new TokenMatchScorer(), small), "activations[latent 1]"],
    [() => detectionScores({ contexts: [[1, -2]] }, [], new TopTokensExplainer(), new TokenMatchScorer()), "corpus.contexts"],
    [() => detectionScores(corpus, [good], new TopTokensExplainer(), { score: async () => [true] }, small), "scorer"],
    [() => detectionScores(corpus, [good], { explain: async () => "fires on cats" }, new TokenMatchScorer(), small), "explanation"],
    [() => detectionScores(corpus, [good], new TopTokensExplainer(), new TokenMatchScorer(), { minExamples: 10, maxExamples: 5 }), "maxExamples"],
  ];
  for (const [fn, source] of cases) await assert.rejects(fn, (e: unknown) => e instanceof InputError && e.source === source, source);
});
