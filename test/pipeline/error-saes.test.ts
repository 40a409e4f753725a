import { after, before, test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import type { DetectionResult } from "../../src/darkmatter/autointerp";
import { writeNpy } from "../../src/io/index";
import { AnalysisContext, openContext } from "../../src/pipeline/context";
import { detectionFigure, trainedOnErrorFigure } from "../../src/viz/figures/autointerp";
import {
  Bounded, detectionEntries, detectionExampleRows, differenceOfMeans, errorSaeNumbers, errorSaeFigureEntries, ErrorSaeComparison, errorSaeClaims, errorSaes, ErrorSaeOptions, fvuBootstrap, storeWindows,
} from "../../src/pipeline/error-saes";
import { saveSaeLens } from "../../src/sae/index";
import { HOOKS, randomSae, TinyStore, tinyStore } from "../family/store";

const hook = HOOKS[1];
let tiny: TinyStore, ctx: AnalysisContext;
const envBefore = process.env.DARKMATTER_ANALYSIS_CACHE;
const cacheRoot = () => path.join(tiny.root, "cache");

// Small enough to train in a second or two: 2 × 1,536 training tokens, 16 latents drawn, windows of 3 tokens.
const OPTIONS: ErrorSaeOptions = {
  width: 32, k: 4, tokens: 1536, heldOutRows: 200, recipe: { batchSize: 128 }, bootstrap: { resamples: 200 },
  autoInterp: { latents: 16, windowTokens: 3, protocol: { minExamples: 12, maxExamples: 200, explainExamples: 3, deciles: 3, perDecile: 2, negatives: 6, bootstrap: { resamples: 100 } } },
};

before(async () => {
  tiny = await tinyStore();
  process.env.DARKMATTER_ANALYSIS_CACHE = cacheRoot();
  const d = tiny.store.d;
  for (const k of [2, 4]) {
    const sae = randomSae(d, 24, k, 40 + k);
    sae.metadata.hookName = hook;
    sae.metadata.layer = 1;
    saveSaeLens(sae, path.join(tiny.root, "saes", "layer_1", "width_24", `average_l0_${k}`));
    sae.dispose();
  }
  ctx = await openContext({ saeDir: path.join(tiny.root, "saes"), activations: tiny.store.dir, hook });
});

after(() => {
  ctx?.close();
  if (envBefore === undefined) delete process.env.DARKMATTER_ANALYSIS_CACHE;
  else process.env.DARKMATTER_ANALYSIS_CACHE = envBefore;
  tiny?.cleanup();
});

test("storeWindows cuts each context's stored positions into whole windows and maps every row to its token", () => {
  const s = tiny.store;
  const w = storeWindows(s, 5);
  const perContext = s.manifest.positions.perContext; // 27: five windows of 5, two rows left over
  assert.equal(w.contextCount, s.manifest.config.contexts);
  assert.equal(w.contexts.length, w.contextCount * Math.floor(perContext / 5));
  const info = s.rowInfo(0, s.rows);
  let mapped = 0;
  for (let r = 0; r < s.rows; r++) {
    if (w.rowWindow[r] < 0) continue;
    mapped++;
    assert.equal(w.contexts[w.rowWindow[r]][w.rowOffset[r]], info.token[r], `row ${r}`);
  }
  assert.equal(mapped, w.contexts.length * 5);
  assert.throws(() => storeWindows(s, 0), /windowTokens/);
});

test("fvuBootstrap: exact ratios, paired difference, intervals around the values", () => {
  const lin = { residual: Float64Array.from([1, 2, 1, 2]), centred: Float64Array.from([10, 10, 10, 10]) };
  const nl = { residual: Float64Array.from([3, 4, 3, 4]), centred: Float64Array.from([10, 10, 10, 10]) };
  const b = fvuBootstrap(lin, nl, { resamples: 300 });
  assert.equal(b.linear.value, 6 / 40);
  assert.equal(b.nonlinear.value, 14 / 40);
  assert.ok(Math.abs(b.difference.value - 0.2) < 1e-12);
  // Every token has nl − lin residual = 2, so the paired difference does not vary at all.
  assert.ok(Math.abs(b.difference.interval!.lo - 0.2) < 1e-12 && Math.abs(b.difference.interval!.hi - 0.2) < 1e-12);
  assert.ok(b.linear.interval!.lo <= b.linear.value && b.linear.value <= b.linear.interval!.hi && b.linear.interval!.hi > b.linear.interval!.lo);
  assert.equal(fvuBootstrap(lin, nl, { resamples: 0 }).difference.interval, null);
  assert.throws(() => fvuBootstrap(lin, { residual: new Float64Array(3), centred: new Float64Array(3) }), /4 and 3 tokens/);
});

test("differenceOfMeans: the value and an interval that excludes 0 only for a clear gap", () => {
  const a = [0.8, 0.9, 0.85, 0.95, 0.9, 0.8], b = [0.5, 0.55, 0.6, 0.45, 0.5, 0.55];
  const clear = differenceOfMeans(a, b, { resamples: 400 });
  assert.ok(Math.abs(clear.value - (0.8666666666666667 - 0.525)) < 1e-12);
  assert.ok(clear.interval!.lo > 0);
  const noisy = differenceOfMeans([0, 1, 0, 1, 0, 1], [1, 0, 1, 0, 1, 0.9], { resamples: 400 });
  assert.ok(noisy.interval!.lo < 0 && noisy.interval!.hi > 0);
  assert.equal(differenceOfMeans([1], [0]).interval, null);
});

test("errorSaes trains both SAEs, measures fvu and dead latents, runs detection on the store windows, and caches", async () => {
  const c = await errorSaes(ctx, OPTIONS);
  assert.equal(c.reference.l0, 4, "the middle SAE: width 24, the larger of two L0s");
  assert.equal(c.hook, hook);
  for (const r of [c.linear, c.nonlinear]) {
    assert.equal(r.result.width, 32);
    assert.equal(r.result.k, 4);
    assert.ok(Math.abs(r.fvu.value - r.result.fvu) < 1e-6 * Math.max(1, r.result.fvu), `per-token fvu ${r.fvu.value} = the trainer's ${r.result.fvu}`);
    assert.ok(r.fvu.interval!.lo <= r.fvu.value && r.fvu.value <= r.fvu.interval!.hi);
    assert.equal(r.deadLatents, Math.round(r.result.deadFraction * 32));
    assert.ok(fs.existsSync(path.join(r.dir, "sae_weights.safetensors")), "the SAE is saved");
  }
  assert.ok(Math.abs(c.fvuDifference.value - (c.nonlinear.fvu.value - c.linear.fvu.value)) < 1e-12);
  assert.equal(c.linearMap.fitOn, "train");
  assert.equal(c.timings.trained, 2);
  assert.ok(c.detection, c.detectionMissing ?? "");
  const det = c.detection!;
  assert.equal(det.corpus.windowTokens, 3);
  assert.equal(det.corpus.windows, 40 * 9, "27 stored positions per context: 9 windows of 3");
  assert.equal(det.latentsDrawn, 16);
  for (const r of [det.linear, det.nonlinear]) assert.equal(r.latents.length + r.skipped.length, 16);
  assert.equal(c.detectionMissing, null);
  const claims = errorSaeClaims(c);
  assert.equal(claims.length, 3);
  assert.match(claims[0].measured, /paired bootstrap/);
  const numbers = errorSaeNumbers(c) as { fvu: { difference: { value: number; interval: number[] } } };
  assert.deepEqual(numbers.fvu.difference, { value: c.fvuDifference.value, interval: [c.fvuDifference.interval!.lo, c.fvuDifference.interval!.hi] });
  assert.ok(JSON.stringify(errorSaeNumbers(c)).length < 5000, "headline numbers stay compact (no bootstrap replicates)");
  const fig = trainedOnErrorFigure(errorSaeFigureEntries(c));
  assert.equal(fig.data.length, 2);
  assert.deepEqual(fig.data[0].y, [c.linear.fvu.value, c.nonlinear.fvu.value]);
  assert.ok(fig.data[0].error_y, "the fvu bars carry their intervals");
  assert.deepEqual(fig.data[1].y, [c.linear.result.deadFraction, c.nonlinear.result.deadFraction]);
  assert.equal(detectionFigure(detectionEntries(c)).data.length, 2);
  const examples = detectionExampleRows(c, 2);
  assert.ok(examples.length >= 1 && examples.length <= 4);
  for (const e of examples) assert.match(String(e.explanation), /^"/, "token explanations are shown as quoted tokens");

  // Another detection setting misses the result cache but reuses both trained SAEs.
  const again = await errorSaes(ctx, { ...OPTIONS, autoInterp: { ...OPTIONS.autoInterp as object, latents: 8 } });
  assert.deepEqual([again.timings.trained, again.timings.reused], [0, 2]);
  assert.equal(again.linear.fvu.value, c.linear.fvu.value);
  assert.equal(again.detection!.latentsDrawn, 8);
  // The same request again is read from the result cache.
  const cachedAgain = await errorSaes(ctx, OPTIONS);
  assert.deepEqual(cachedAgain.timings, c.timings);
});

test("with a tensor file (no token ids) the fvu comparison runs and detection says what is missing", async () => {
  const x = tiny.store.readRows(hook, 0, tiny.store.rows).x;
  const file = path.join(tiny.root, "acts.npy");
  writeNpy(file, { dtype: "float32", shape: [tiny.store.rows, tiny.store.d], data: x });
  const fileCtx = await openContext({ saeDir: path.join(tiny.root, "saes"), activations: file });
  try {
    assert.equal(fileCtx.store, null);
    const c = await errorSaes(fileCtx, OPTIONS);
    assert.equal(c.detection, null);
    assert.deepEqual(detectionEntries(c), []);
    assert.match(c.detectionMissing!, /token ids/);
    assert.ok(Number.isFinite(c.linear.fvu.value) && Number.isFinite(c.nonlinear.fvu.value));
    const claims = errorSaeClaims(c);
    assert.equal(claims[2].holds, null);
    assert.match(claims[2].measured, /not measured: .*token ids/);
  } finally {
    fileCtx.close();
  }
});

/** A comparison with the given fvu difference interval, dead fractions and detection accuracy difference. */
function fake(fvuDiff: [number, number, number], dead: [number, number], accDiff: [number, number, number] | null): ErrorSaeComparison {
  const b = ([value, lo, hi]: [number, number, number]): Bounded => ({ value, interval: { lo, hi, level: 0.95, se: NaN, replicates: new Float64Array(0) } });
  const run = (target: "linear" | "nonlinear", deadFraction: number) => ({
    target, dir: "", deadLatents: deadFraction * 100, fvu: b([0.2, 0.19, 0.21]),
    result: { width: 100, deadFraction, deadWindowTokens: 500 },
  });
  const detResult = (v: number) => ({ summary: { latents: 10, meanAccuracy: { value: v, interval: null } }, skipped: [] } as unknown as DetectionResult);
  return {
    linear: run("linear", dead[0]), nonlinear: run("nonlinear", dead[1]), fvuDifference: b(fvuDiff),
    detection: accDiff ? { explainer: "x", linear: detResult(0.7), nonlinear: detResult(0.6), accuracyDifference: b(accDiff) } : null,
    detectionMissing: accDiff ? null : "no store",
  } as unknown as ErrorSaeComparison;
}

test("the verdicts follow the numbers and their intervals", () => {
  assert.deepEqual(errorSaeClaims(fake([0.1, 0.05, 0.15], [0.01, 0.05], [0.1, 0.02, 0.2])).map((c) => c.holds), [true, true, true]);
  assert.deepEqual(errorSaeClaims(fake([-0.1, -0.15, -0.05], [0.05, 0.01], [-0.1, -0.2, -0.02])).map((c) => c.holds), [false, false, false]);
  // Intervals containing 0 leave the claim undecided; equal dead fractions do not support it.
  assert.deepEqual(errorSaeClaims(fake([0.01, -0.02, 0.04], [0.02, 0.02], [0.01, -0.05, 0.07])).map((c) => c.holds), [null, false, null]);
  const missing = errorSaeClaims(fake([0.1, 0.05, 0.15], [0, 0.1], null));
  assert.equal(missing[2].holds, null);
  assert.match(missing[2].measured, /not measured: no store/);
});

test("fvu and accuracy differences decide by their interval's sign at 0; dead fractions strictly; NaN is undecided", () => {
  const e = 1e-12;
  const holds = (diff: [number, number, number], dead: [number, number], acc: [number, number, number] | null = null) =>
    errorSaeClaims(fake(diff, dead, acc)).map((c) => c.holds);
  assert.deepEqual(holds([0.01, e, 0.02], [0.02, 0.02 + e], [0.01, e, 0.02]), [true, true, true]);
  assert.deepEqual(holds([0.01, 0, 0.02], [0.02, 0.02], [0.01, 0, 0.02]), [null, false, null], "an interval touching 0 is undecided");
  assert.deepEqual(holds([-0.01, -0.02, -e], [0.02 + e, 0.02], [-0.01, -0.02, -e]), [false, false, false]);
  assert.deepEqual(holds([NaN, NaN, NaN], [NaN, 0.1], [NaN, NaN, NaN]), [null, null, null]);
});
