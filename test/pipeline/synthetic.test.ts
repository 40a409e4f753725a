import { after, before, test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { initBackend } from "../../src/backend/index";
import type { SyntheticExperimentResult, SyntheticPoint } from "../../src/darkmatter/synthetic";
import { writeNpy } from "../../src/io/index";
import { AnalysisContext, openContext } from "../../src/pipeline/context";
import type { SaeEntry } from "../../src/pipeline/saes";
import { defaultSyntheticTokens, middleSae, syntheticClaims, syntheticTest } from "../../src/pipeline/synthetic";
import { saveSaeLens } from "../../src/sae/index";
import { randomSae } from "../family/store";
import { normals } from "../helpers/random";

const d = 8;
let dir: string, ctx: AnalysisContext;
const envBefore = process.env.DARKMATTER_ANALYSIS_CACHE;

before(async () => {
  await initBackend();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "dm-synthetic-"));
  process.env.DARKMATTER_ANALYSIS_CACHE = path.join(dir, "cache");
  for (const [width, k] of [[16, 2], [32, 3], [32, 6], [64, 3]]) {
    const sae = randomSae(d, width, k, width + k);
    saveSaeLens(sae, path.join(dir, "saes", "layer_1", `width_${width}`, `average_l0_${k}`));
    sae.dispose();
  }
  writeNpy(path.join(dir, "acts.npy"), { dtype: "float32", shape: [600, d], data: normals(600 * d, 3) });
  ctx = await openContext({ saeDir: path.join(dir, "saes"), activations: path.join(dir, "acts.npy") });
});

after(() => {
  ctx?.close();
  if (envBefore === undefined) delete process.env.DARKMATTER_ANALYSIS_CACHE;
  else process.env.DARKMATTER_ANALYSIS_CACHE = envBefore;
  fs.rmSync(dir, { recursive: true, force: true });
});

test("middleSae takes the median width and, there, the median L0 (ties to the larger)", () => {
  const e = (width: number, l0: number): SaeEntry => ({ path: `${width}/${l0}`, format: "saelens", width, l0, layer: 1, hook: undefined });
  assert.equal(middleSae([e(16, 2), e(32, 3), e(32, 6), e(64, 3)]).path, "32/6");
  assert.equal(middleSae([e(16, 2), e(32, 3), e(32, 6), e(32, 9), e(64, 3)]).path, "32/6");
  assert.equal(middleSae([e(16, 2), e(64, 3)]).path, "16/2", "two widths: the lower one");
  assert.throws(() => middleSae([]), /no SAE/);
});

test("default token counts keep the paper's tokens per dimension and its 50k cap", () => {
  assert.equal(defaultSyntheticTokens("ci", 128), 2048);
  assert.equal(defaultSyntheticTokens("full", 128), 8192);
  assert.equal(defaultSyntheticTokens("full", 3584), 50_000);
  assert.equal(defaultSyntheticTokens("ci", 2304), 36_864);
});

test("syntheticTest runs the paper's configurations on x := Sae(acts), is cached, and its noise lands where the paper says", async () => {
  const t = await syntheticTest(ctx, { tokens: 500 });
  assert.equal(t.sae.width, 32);
  assert.equal(t.sae.l0, 6);
  assert.equal(t.tokens, 500);
  const r = t.result;
  assert.deepEqual(r.lines.map((l) => [l.sigmaActivation, l.sigmaReconstruction, l.points.map((p) => p.ablatedPercent)]),
    [[1, 0.6, [0, 10, 20, 30, 40, 50]], [0.6, 1, [0, 10, 20, 30, 40, 50]]]);
  assert.deepEqual(r.grid.levels, [0, 1, 2, 3, 4]);
  assert.equal(r.grid.points.length, 25);
  assert.ok(Math.abs(r.noiseUnit - r.stdX / 4) < 1e-12, "σ = 4 is one per-dimension std of x");
  assert.equal(t.l0Codes, 6, "a TopK SAE's codes have k active latents");
  for (const p of r.grid.points) assert.ok(Math.abs(p.estimatedLinearError + p.estimatedNonlinearError - p.fvuRecon) < 1e-12);
  assert.equal(syntheticClaims(t).length, 4);
  // This random SAE is far from the identity on its own image (encode(Sae(acts)) ≠ f(acts)), which swamps the test;
  // with encode(x) := f(acts) it is exactly the identity there, and each noise lands in its own estimate as in the paper.
  assert.ok(r.grid.points[0].fvuRecon > 0.5, "σ = 0: the untrained SAE does not reproduce its own outputs");
  const exact = await syntheticTest(ctx, { tokens: 500, encodeCleanX: false });
  assert.ok(exact.result.grid.points[0].fvuRecon < 1e-9, "σ = 0, nothing ablated: no error at all");
  assert.deepEqual(syntheticClaims(exact).map((c) => c.holds), [true, true, true, true], syntheticClaims(exact).map((c) => c.measured).join("\n"));

  const again = await syntheticTest(ctx, { tokens: 500 });
  assert.deepEqual(again.result.correlation, r.correlation);
  assert.equal(again.wallTimeS, t.wallTimeS, "the second call is read from the cache");
  assert.ok(fs.readdirSync(path.join(dir, "cache", "synthetic-test")).some((f) => fs.existsSync(path.join(dir, "cache", "synthetic-test", f, "entry.json"))));
  const other = await syntheticTest(ctx, { tokens: 400 });
  assert.equal(other.tokens, 400, "another token count is another cache entry");
  const capped = await syntheticTest(ctx, { tokens: 10_000, gridLevels: [0, 2], linePanels: [[1, 1]], ablatedPercents: [0, 50] });
  assert.equal(capped.tokens, 600, "never more tokens than the activations hold");
});

/** A result with the given Table 1 and one line panel going from (fvu, fvu_nonlinear) at 0 % to 50 % ablated. */
function fake(table: [[number, number], [number, number]], from: [number, number], to: [number, number]): Pick<{ result: SyntheticExperimentResult }, "result"> {
  const pt = (p: number, [fvuRecon, fvuLinear]: [number, number]) => ({ ablatedPercent: p, fvuRecon, fvuLinear, sigmaActivation: 1, sigmaReconstruction: 0.6 } as SyntheticPoint);
  return {
    result: {
      correlation: { rows: ["sigmaActivation", "sigmaReconstruction"], columns: ["estimatedLinearError", "estimatedNonlinearError"], values: table },
      lines: [{ sigmaActivation: 1, sigmaReconstruction: 0.6, points: [pt(50, to), pt(0, from)] }],
      grid: { points: new Array(25) },
    } as unknown as SyntheticExperimentResult,
  };
}

test("the verdicts follow the numbers", () => {
  const good = syntheticClaims(fake([[0.9, 0.1], [-0.05, 0.8]], [0.10, 0.05], [0.20, 0.06]));
  assert.deepEqual(good.map((c) => c.holds), [true, true, true, true]);
  assert.match(good[3].measured, /linear share of the rise 0\.900/);
  const bad = syntheticClaims(fake([[0.2, 0.6], [0.7, 0.3]], [0.10, 0.05], [0.20, 0.12]));
  assert.deepEqual(bad.map((c) => c.holds), [false, false, false, false]);
  // One strong off-diagonal is enough to fail claim 3; ablation that lowers fvu fails claim 4.
  assert.equal(syntheticClaims(fake([[0.9, -0.35], [0, 0.9]], [0.1, 0.05], [0.2, 0.05]))[2].holds, false);
  assert.equal(syntheticClaims(fake([[0.9, 0], [0, 0.9]], [0.2, 0.05], [0.1, 0.05]))[3].holds, false);
});

test("each verdict sits at its stated threshold: strong ≥ 0.5, weak |r| < 0.3, linear share ≥ 0.75; NaN is undecided", () => {
  const e = 1e-9;
  const holds = (table: [[number, number], [number, number]], from: [number, number] = [0.1, 0.05], to: [number, number] = [0.2, 0.05]) =>
    syntheticClaims(fake(table, from, to)).map((c) => c.holds);
  assert.deepEqual(holds([[0.5, 0], [0, 0.5]]).slice(0, 2), [true, true]);
  assert.deepEqual(holds([[0.5 - e, 0], [0, 0.5 - e]]).slice(0, 2), [false, false]);
  assert.equal(holds([[0.9, 0.3 - e], [-(0.3 - e), 0.9]])[2], true);
  assert.equal(holds([[0.9, 0.3], [0, 0.9]])[2], false, "|r| = 0.3 is not weak");
  assert.equal(holds([[0.9, 0], [-0.3, 0.9]])[2], false);
  // fvu rises 0.1 → 0.2; fvu_nonlinear moving by 0.025 leaves a linear share of exactly 0.75.
  assert.equal(holds([[0.9, 0], [0, 0.9]], [0.1, 0.05], [0.2, 0.075 - e])[3], true);
  assert.equal(holds([[0.9, 0], [0, 0.9]], [0.1, 0.05], [0.2, 0.075 + 1e-6])[3], false);
  assert.equal(holds([[0.9, 0], [0, 0.9]], [0.1, 0.05], [0.2, 0.025 - 1e-6])[3], false, "a fall counts like a rise");
  assert.deepEqual(holds([[NaN, NaN], [NaN, NaN]], [0.1, NaN], [0.2, 0.05]), [null, null, null, null]);
  assert.deepEqual(holds([[0.9, 0], [NaN, 0.9]]), [true, true, null, true]);
});
