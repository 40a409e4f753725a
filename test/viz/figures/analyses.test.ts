// The builders take what the analyses really return: run each analysis on small seeded data and check that its
// result goes straight into its builders and row views with clean JSON (no NaN, no typed arrays).
import { test } from "node:test";
import * as assert from "node:assert/strict";
import {
  darkMatterBands, decomposeSaeError, detectionScores, TokenMatchScorer, TopTokensExplainer, fitPowerLaw, gradientPursuit, normPredictionBaselines, normPredictionTest, perTokenPredictability,
  perTokenTraces, probeVsLatent,
} from "../../../src/darkmatter";
import { contourGrids, crossComponentPrediction } from "../../../src/darkmatter";
import { syntheticExperiment } from "../../../src/darkmatter/synthetic";
import { arraySource } from "../../../src/linalg";
import * as figures from "../../../src/viz/figures/index";
import { normals, rng } from "../../helpers/random";
import { assertCleanJson, checkFigure } from "./snapshot";

const rowsN = 400, d = 6;
const x = normals(rowsN * d, 1);
// A lossy "SAE": shrink, then add noise, so the error has linear and nonlinear parts.
const noise = normals(rowsN * d, 2);
const recon = Float32Array.from(x, (v, i) => 0.7 * v + 0.2 * Math.tanh(3 * v) + 0.1 * noise[i]);
const input = () => ({ activations: arraySource(x, d, "x"), sae: { reconstructions: arraySource(recon, d, "recon") } });

test("decomposition, norm prediction and baselines results feed their builders", () => {
  const dec = decomposeSaeError(input(), { bootstrap: { resamples: 20 }, native: false });
  checkFigure(figures.decompositionFigure(dec));
  assertCleanJson(figures.decompositionRows(dec));
  const np = normPredictionTest(input(), { bootstrap: { resamples: 20 }, native: false });
  checkFigure(figures.normPredictionFigure(np));
  checkFigure(figures.normPredictionFigure([{ label: "a", result: np }, { label: "b", result: np }]));
  assertCleanJson(figures.normPredictionRows(np));
  const u = rng(3);
  const base = normPredictionBaselines({ ...input(), tokens: Array.from({ length: rowsN }, () => Math.floor(u() * 20)), l0: Array.from({ length: rowsN }, () => 1 + Math.floor(u() * 9)) }, { bootstrap: { resamples: 20 }, native: false });
  const bars = checkFigure(figures.baselinesFigure(base))[0];
  assert.equal((bars.x as string[]).length, 4); // no model loss given
  assertCleanJson(figures.baselineRows(base));
  // Pursuit against the encoder: the same decomposition on the pursuit's reconstructions.
  const decoder = Float32Array.from(normals(16 * d, 4));
  const pursuit = gradientPursuit({ decoder, latents: 16, d }, x, 3, { native: false });
  const pdec = decomposeSaeError({ activations: arraySource(x, d), sae: { reconstructions: arraySource(pursuit.reconstructions, d) } }, { bootstrap: false, native: false });
  const points = [{ width: 16, encoder: dec, pursuit: pdec }, { width: 32, encoder: dec, pursuit: pdec }];
  checkFigure(figures.pursuitFigure(points));
  assertCleanJson(figures.pursuitRows(points));
  checkFigure(figures.pursuitConvergenceFigure(pursuit));
  assertCleanJson(figures.pursuitResultRows(pursuit));
});

test("power law, per-token and probe results feed their builders", () => {
  const W = [16384, 32768, 65536, 131072, 262144];
  const fvu = W.map((w, i) => 0.1 + 8 * Math.pow(w, -0.4) + 0.001 * (i % 2));
  const fit = fitPowerLaw(W, fvu, { bootstrap: { resamples: 30 } });
  const band = { widths: W, fvu, fvuNonlinear: W.map(() => 0.06), fit };
  checkFigure(figures.darkMatterFigure(band, { samples: 30 }));
  checkFigure(figures.powerLawFitFigure({ widths: W, fvu, fit }));
  assertCleanJson(figures.powerLawRows(fit));
  assertCleanJson(figures.darkMatterBandRows(darkMatterBands(band)));

  const norms = [0, 1, 2].map((k) => ({
    width: 1024 << k,
    saeError: Array.from({ length: 200 }, (_, t) => 3 + Math.sin(t) + 0.1 * k + 0.05 * Math.cos(7 * t * (k + 1))),
    nonlinearError: Array.from({ length: 200 }, (_, t) => 2 + 0.5 * Math.sin(t) + 0.05 * Math.cos(3 * t)),
    linearError: Array.from({ length: 200 }, (_, t) => 1 + 0.3 * Math.cos(t + k)),
  }));
  const pt = perTokenPredictability(norms);
  checkFigure(figures.perTokenR2Heatmap(pt));
  checkFigure(figures.perTokenImprovementHeatmap(pt));
  assertCleanJson(figures.perTokenRows(pt));
  const tr = perTokenTraces(norms, { start: 10, length: 5 });
  const labels = ["a", "b", "c", "d", "e"];
  const fig = figures.perTokenTracesFigure(tr, { labels });
  assert.equal(checkFigure(fig).length, 9);
  assertCleanJson(figures.perTokenTraceRows(tr, labels));

  // Probe: 8 latents in d = 4, each token activating two of them.
  const u = rng(5), latentCount = 8, pd = 4, tokens = 120;
  const rowPtr = [0], indices: number[] = [], values: number[] = [];
  for (let t = 0; t < tokens; t++) {
    const a = Math.floor(u() * latentCount), b = (a + 1 + Math.floor(u() * (latentCount - 1))) % latentCount;
    indices.push(Math.min(a, b), Math.max(a, b)); values.push(1 + u(), 1 + 2 * u()); rowPtr.push(indices.length);
  }
  const probe = probeVsLatent({ decoder: Float32Array.from(normals(latentCount * pd, 6)), d: pd, latents: { rowPtr, indices, values } }, { bootstrap: false, native: false });
  checkFigure(figures.probeVsLatentFigure(probe, { window: 3 }));
  assertCleanJson(figures.probeVsLatentRows(probe));
});

test("detection results feed their builders", async () => {
  const u = rng(7);
  const corpus = { contexts: Array.from({ length: 300 }, () => Array.from({ length: 24 }, () => Math.floor(u() * 40))) };
  // Latent k fires on token k (strength varying), and latent 99 at random positions.
  const latent = (k: number, onToken: boolean) => {
    const context: number[] = [], position: number[] = [], activation: number[] = [];
    corpus.contexts.forEach((ctx, c) => ctx.forEach((tok, p) => {
      if (onToken ? tok === k : u() < 0.02) { context.push(c); position.push(p); activation.push(0.5 + u()); }
    }));
    return { latent: k, context, position, activation };
  };
  const opts = { minExamples: 20, negatives: 30, bootstrap: { resamples: 50 } };
  const good = await detectionScores(corpus, [latent(3, true), latent(5, true)], new TopTokensExplainer(1), new TokenMatchScorer(), opts);
  const poor = await detectionScores(corpus, [latent(99, false)], new TopTokensExplainer(1), new TokenMatchScorer(), opts);
  const entries = [{ label: "linear", trainedOn: "linearError" as const, result: good }, { label: "nonlinear", trainedOn: "nonlinearError" as const, result: poor }];
  const data = checkFigure(figures.detectionFigure(entries));
  assert.equal((data[0].x as string[]).length, 11); // Not + 10 deciles
  assertCleanJson(figures.detectionRows(entries));
  assertCleanJson(figures.detectionSummaryRows(entries));
});

test("the synthetic experiment's result feeds its builders", () => {
  // 12 latents in d = 5, every token using three of them.
  const u = rng(8), latents = 12, sd = 5, tokens = 200;
  const rowPtr = [0], indices: number[] = [], values: number[] = [];
  for (let t = 0; t < tokens; t++) {
    const first = Math.floor(u() * (latents - 2));
    indices.push(first, first + 1, first + 2); values.push(u() * 3, u() * 2, u()); rowPtr.push(indices.length);
  }
  const r = syntheticExperiment({ decoder: Float32Array.from(normals(latents * sd, 9)), latents, d: sd, codes: { rowPtr, indices, values } },
    { ablatedPercents: [0, 25, 50], gridLevels: [0, 1, 2], native: false });
  const lines = checkFigure(figures.syntheticLinesFigure(r));
  assert.equal(lines.length, 4);
  checkFigure(figures.syntheticGridFigure(r));
  assert.equal(figures.syntheticCorrelationRows(r.correlation).length, 2);
  assert.equal(figures.syntheticRows(r).length, 6 + 9);
});

test("contour grids and cross-component results feed their builders", () => {
  const points = [16384, 65536, 262144].flatMap((width, i) => [20, 60, 150].map((l0, j) => ({
    id: `${width}/${l0 + i}`, width, l0Nominal: l0 + i, vectorR2: 0.5 + 0.01 * i - 0.02 * j, normR2: 0.9 + 0.01 * j, fvuNonlinear: 0.08 - 0.01 * j,
  })));
  const grids = contourGrids(points, ["normR2", "vectorR2", "fvuNonlinear"], { resolution: 12 });
  const fig = figures.contourFigure(grids);
  assert.equal(checkFigure(fig).length, 6);
  assertCleanJson(figures.contourRows(grids));

  const other = Float32Array.from(x, (v, i) => v + 0.3 * noise[(i * 7) % noise.length]);
  const cross = crossComponentPrediction({ target: input(), sources: [{ name: "same layer", rows: arraySource(recon, d) }, { name: "other", rows: arraySource(other, d) }] }, { bootstrap: { resamples: 20 }, native: false });
  const bars = checkFigure(figures.crossComponentFigure(cross));
  assert.equal(bars.length, 2);
  assert.equal(figures.crossComponentRows(cross).length, 6);
});
