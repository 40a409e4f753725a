import { after, before, test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { buildActivationStore, StoreConfig } from "../../src/activations/index";
import { initBackend } from "../../src/backend/index";
import type { DownstreamCeResult } from "../../src/darkmatter/downstream-ce";
import type { AnalysisContext } from "../../src/pipeline/context";
import { DownstreamCeAnalysis, downstreamCeClaims, downstreamCeSweeps, saeSweeps, spreadIndices } from "../../src/pipeline/downstream";
import { SaeEntry } from "../../src/pipeline/saes";
import { saveSaeLens } from "../../src/sae/index";
import { tiny } from "../activations/tiny";
import { randomSae } from "../family/store";
import { tinyModelContext } from "./fixtures";

// A tiny model (d = 16, 2 blocks), its store at both blocks' resid_post and random TopK SAEs at block 1 (widths
// 32/64/128 × k 2/4), all in a temp folder; analysis results are cached there too.
const HOOK = "blocks.1.hook_resid_post";
const CONFIG: StoreConfig = { hooks: ["blocks.0.hook_resid_post", HOOK], contexts: 24, ctx: 32, skip: 4, seed: 3, corpusPart: "all", contextsPerChunk: 8 };
let root: string, storeDir: string, saeDir: string;

before(async () => {
  await initBackend();
  root = fs.mkdtempSync(path.join(os.tmpdir(), "dm-downstream-"));
  process.env.DARKMATTER_ANALYSIS_CACHE = path.join(root, "analyses");
  const t = tiny();
  storeDir = buildActivationStore({ weights: t.weights, tokenizer: t.tokenizer, corpus: t.corpus }, { root: path.join(root, "stores"), config: CONFIG }).dir;
  saeDir = path.join(root, "saes");
  let seed = 10;
  for (const width of [32, 64, 128]) {
    for (const k of [2, 4]) {
      const sae = randomSae(t.config.dim, width, k, seed += 3, { hookName: HOOK, layer: 1 });
      saveSaeLens(sae, path.join(saeDir, "layer_1", `width_${width}`, `average_l0_${k}`));
      sae.dispose();
    }
  }
});

after(() => {
  delete process.env.DARKMATTER_ANALYSIS_CACHE;
  fs.rmSync(root, { recursive: true, force: true });
});


const context = (withModel: boolean): AnalysisContext => tinyModelContext(storeDir, saeDir, HOOK, withModel);

test("saeSweeps: every width at the most shared L0 (ties: the smallest), every L0 at the middle width", () => {
  const e = (width: number, l0: number | undefined): SaeEntry => ({ path: `w${width}k${l0}`, format: "saelens", width, l0, layer: 1, hook: HOOK });
  const s = saeSweeps([e(32, 2), e(32, 4), e(64, 2), e(64, 4), e(128, 4), e(256, 4), e(64, 8)]);
  assert.equal(s.l0, 4);
  assert.deepEqual(s.byWidth.map((x) => x.width), [32, 64, 128, 256]);
  assert.equal(s.width, 64);
  assert.deepEqual(s.byL0.map((x) => x.l0), [2, 4, 8]);
  assert.deepEqual(saeSweeps([e(32, 2), e(64, 2)], { l0: 4 }).byWidth, [], "an L0 no SAE has gives an empty sweep");
  assert.deepEqual(spreadIndices(10, 4), [0, 2, 5, 7]);
  assert.deepEqual(spreadIndices(3, 8), [0, 1, 2]);
});

test("downstreamCeSweeps splices each SAE at the store's positions and caches the runs", async () => {
  const ctx = context(true);
  try {
    const a = await downstreamCeSweeps(ctx, { contexts: 4 });
    assert.equal(a.missing, null);
    assert.deepEqual(a.contexts, [0, 6, 12, 18]);
    assert.equal(a.from, CONFIG.skip);
    assert.equal(a.to, CONFIG.ctx - 2);
    assert.equal(a.l0, 2);
    assert.equal(a.width, 64);
    assert.equal(a.runs.length, 4, "3 widths at L0 2, plus width 64 at L0 4");
    assert.deepEqual(a.sweeps.map((s) => s.points.map((p) => p.label)), [["32", "64", "128"], ["2", "4"]]);
    // The clean CE over the spliced positions is the store's own per-token loss there: positions line up.
    const losses = ctx.store!.losses();
    let sum = 0;
    for (const c of a.contexts) for (let p = a.from; p <= a.to; p++) sum += losses[c * (CONFIG.ctx - 1) + p];
    const clean = sum / (a.contexts.length * (a.to - a.from + 1));
    for (const r of a.runs) {
      assert.ok(Math.abs(r.result.clean - clean) < 1e-4 * clean, `clean CE ${r.result.clean} vs store ${clean}`);
      assert.equal(r.result.evaluatedTokens, 4 * (CONFIG.ctx - 2 - CONFIG.skip + 1));
      for (const v of [r.result.sae.ce, r.result.saePlusLinear.ce, r.result.saePlusNonlinear.ce, r.result.errorCeRecovered.nonlinear]) assert.ok(Number.isFinite(v));
    }
    assert.ok(fs.readdirSync(path.join(process.env.DARKMATTER_ANALYSIS_CACHE!, "downstream-ce")).length >= 4, "the runs are cached");
    const again = await downstreamCeSweeps(ctx, { contexts: 4 });
    assert.deepEqual(again.runs.map((r) => r.result), a.runs.map((r) => r.result), "a second run returns the cached results");
    assert.equal(downstreamCeClaims(a).length, 2);
  } finally {
    ctx.close();
  }
});

test("without a language model nothing is spliced, the notebook is told why, and the claims stay undecided", async () => {
  const ctx = context(false);
  try {
    const a = await downstreamCeSweeps(ctx);
    assert.match(a.missing ?? "", /needs the language model/);
    assert.deepEqual(a.runs, []);
    assert.deepEqual(a.sweeps, []);
    const claims = downstreamCeClaims(a);
    assert.deepEqual(claims.map((c) => c.holds), [null, null]);
    assert.match(claims[0].measured, /not measured: downstream cross-entropy needs the language model/);
  } finally {
    ctx.close();
  }
});

/** A run whose nonlinear component recovers `ce` of the CE gap with variance share `r2` and norm fraction `norm`. */
function run(width: number, ce: number, r2: number, norm: number): DownstreamCeAnalysis["runs"][number] {
  const result = {
    errorCeRecovered: { linear: 1 - ce, nonlinear: ce },
    errorShares: { r2Recovered: { linear: 1 - r2, nonlinear: r2 }, norm: { linear: 0.8, nonlinear: norm }, energy: { linear: 0.5, nonlinear: 0.5, cross: 0 } },
  } as unknown as DownstreamCeResult;
  return { sae: { path: `w${width}`, format: "saelens", width, l0: 8, layer: 1, hook: HOOK }, result, seconds: 0 };
}

function analysis(runs: DownstreamCeAnalysis["runs"]): DownstreamCeAnalysis {
  return { missing: null, hook: HOOK, contexts: [0], storeContexts: 1, from: 4, to: 30, l0: 8, width: 64, runs, sweeps: [], scaledDown: "" };
}

test("the §3.9 verdicts follow the measured shares", () => {
  const proportional = downstreamCeClaims(analysis([run(32, 0.5, 0.45, 0.6), run(64, 0.4, 0.5, 0.55), run(128, 0.45, 0.4, 0.5)]));
  assert.deepEqual(proportional.map((c) => c.holds), [true, true]);
  assert.match(proportional[0].measured, /median 1\.1\d over 3 SAEs/);
  assert.match(proportional[0].measured, /width 64, L0 8: 40\.0 % of the CE gap vs 50\.0 % variance share/);
  // Nonlinear error that costs far more CE than its share of the variance (and of the norm) is disproportionate.
  const harmful = downstreamCeClaims(analysis([run(32, 0.9, 0.2, 0.3), run(64, 0.95, 0.25, 0.35), run(128, 0.9, 0.3, 0.4)]));
  assert.deepEqual(harmful.map((c) => c.holds), [false, false]);
  // And far less is not proportional either; the two references can disagree.
  const mixed = downstreamCeClaims(analysis([run(32, 0.1, 0.45, 0.15), run(64, 0.12, 0.5, 0.2)]));
  assert.deepEqual(mixed.map((c) => c.holds), [false, true]);
});

test("the §3.9 verdicts at the factor-of-2 bounds, and undecided on NaN or no runs", () => {
  const e = 1e-9;
  // CE share / variance share = ce / 0.4; CE share / norm fraction = ce / 0.5.
  const holds = (ce: number) => downstreamCeClaims(analysis([run(64, ce, 0.4, 0.5)])).map((c) => c.holds);
  assert.deepEqual(holds(0.8), [true, true], "ratio exactly 2 (variance)");
  assert.deepEqual(holds(0.8 + 1e-6), [false, true]);
  assert.deepEqual(holds(0.2 - 1e-6), [false, false], "below 1/2 for both");
  assert.deepEqual(holds(0.25 + e), [true, true]);
  assert.deepEqual(holds(NaN), [null, null]);
  assert.deepEqual(downstreamCeClaims(analysis([])).map((c) => c.holds), [null, null]);
});
