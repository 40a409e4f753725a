import { after, before, test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { buildActivationStore, openActivationStore, StoreConfig } from "../../src/activations/index";
import { initBackend } from "../../src/backend/index";
import type { CrossComponentResult } from "../../src/darkmatter/cross-component";
import { darkMatterBands } from "../../src/darkmatter/powerlaw";
import { InputError } from "../../src/errors";
import { makeCorpus } from "../../src/lm/corpus";
import { forward } from "../../src/lm/model";
import { initWeights } from "../../src/lm/train";
import { AnalysisContext, openContext } from "../../src/pipeline/context";
import { writeNpy } from "../../src/io/index";
import {
  companionStore, CrossComponentAnalysis, crossComponentErrors, gatherRows, PursuitSweep, pursuitSweep, reduceNonlinearClaims, SOURCE_NAMES, spreadRows,
} from "../../src/pipeline/reduce-nonlinear";
import { arraySource } from "../../src/linalg/rows";
import { saveSaeLens } from "../../src/sae/index";
import { tiny } from "../activations/tiny";
import { randomSae } from "../family/store";
import { tinyModelContext } from "./fixtures";

// A tiny model (d = 16, 2 blocks), its store at both blocks' resid_post, random TopK SAEs at block 1 (widths
// 32/64/128 × k 2/4) and at block 0 (width 64 × k 2/4), all in a temp folder; analysis results are cached there too.
const HOOK = "blocks.1.hook_resid_post", PREV = "blocks.0.hook_resid_post";
const CONFIG: StoreConfig = { hooks: [PREV, HOOK], contexts: 24, ctx: 32, skip: 4, seed: 3, corpusPart: "all", contextsPerChunk: 8 };
let root: string, storeDir: string, saeDir: string;

before(async () => {
  await initBackend();
  root = fs.mkdtempSync(path.join(os.tmpdir(), "dm-reduce-"));
  process.env.DARKMATTER_ANALYSIS_CACHE = path.join(root, "analyses");
  const t = tiny();
  storeDir = buildActivationStore({ weights: t.weights, tokenizer: t.tokenizer, corpus: t.corpus }, { root: path.join(root, "stores"), config: CONFIG }).dir;
  saeDir = path.join(root, "saes");
  let seed = 10;
  const save = (hook: string, layer: number, width: number, k: number) => {
    const sae = randomSae(t.config.dim, width, k, seed += 3, { hookName: hook, layer });
    saveSaeLens(sae, path.join(saeDir, `layer_${layer}`, `width_${width}`, `average_l0_${k}`));
    sae.dispose();
  };
  for (const width of [32, 64, 128]) for (const k of [2, 4]) save(HOOK, 1, width, k);
  for (const k of [2, 4]) save(PREV, 0, 64, k);
});

after(() => {
  delete process.env.DARKMATTER_ANALYSIS_CACHE;
  fs.rmSync(root, { recursive: true, force: true });
});

const context = (withModel: boolean): AnalysisContext => tinyModelContext(storeDir, saeDir, HOOK, withModel);
const storeInputs = () => { const t = tiny(); return { weights: t.weights, tokenizer: t.tokenizer, corpus: t.corpus }; };

test("spreadRows and gatherRows pick evenly spaced rows", () => {
  assert.deepEqual(Array.from(spreadRows(10, 4)), [0, 2, 5, 7]);
  assert.deepEqual(Array.from(spreadRows(3, 5)), [0, 1, 2]);
  const data = Float32Array.from({ length: 20 }, (_, i) => i);
  assert.deepEqual(Array.from(gatherRows(arraySource(data, 2), Int32Array.of(1, 4, 9))), [2, 3, 8, 9, 18, 19]);
  assert.throws(() => gatherRows(arraySource(data, 2), Int32Array.of(3, 10)), InputError);
});

test("pursuitSweep: pursuit within each token's own budget, encoder and pursuit measured on the same tokens, the band input", async () => {
  const ctx = context(true);
  try {
    const p = await pursuitSweep(ctx, { tokens: 400, bootstrap: false });
    assert.equal(p.l0, 2);
    assert.equal(p.tokens, 400);
    assert.deepEqual(p.points.map((q) => q.sae.width), [32, 64, 128]);
    for (const q of p.points) {
      assert.ok(q.pursuitL0 <= q.encoderL0 + 1e-12, `pursuit L0 ${q.pursuitL0} within the encoder's ${q.encoderL0}`);
      assert.ok(q.run.l0.every((v) => v <= 2), "a TopK-2 SAE gives every token a budget of at most 2");
      assert.deepEqual(q.encoder.rows, q.pursuit.rows, "the same split");
      assert.equal(q.encoder.rows.train + q.encoder.rows.evaluated, 400);
      const e = q.run.residualEnergy;
      for (let k = 1; k < e.length; k++) assert.ok(e[k] <= e[k - 1] * (1 + 1e-9), "the residual never grows");
      for (const v of [q.encoder.fvu.value, q.pursuit.fvu.value, q.encoder.fvuNonlinear.value, q.pursuit.fvuNonlinear.value]) assert.ok(v > 0 && Number.isFinite(v));
    }
    assert.ok(p.bands, "three widths give the band input");
    const b = darkMatterBands(p.bands!);
    p.points.forEach((q, i) => {
      assert.ok(Math.abs(b.observed.total[i] - q.encoder.fvu.value) < 1e-12, "observed bands add up to the encoder's fvu");
      assert.ok(Math.abs(b.observed.encoderError[i] - (q.encoder.fvuNonlinear.value - q.pursuit.fvuNonlinear.value)) < 1e-12);
    });
    const again = await pursuitSweep(ctx, { tokens: 400, bootstrap: false });
    assert.deepEqual(again.points.map((q) => q.pursuit.fvu), p.points.map((q) => q.pursuit.fvu), "cached");
    assert.ok(again.points[0].run.l0 instanceof Uint32Array, "typed arrays survive the cache");
  } finally {
    ctx.close();
  }
});

test("crossComponentErrors: four sources, the MLP/attention store row-aligned with the main one", async () => {
  const ctx = context(true);
  try {
    const c = await crossComponentErrors(ctx, { rows: 500, storeInputs: storeInputs(), bootstrap: false });
    assert.deepEqual(c.skipped, []);
    assert.equal(c.target.width, 64);
    assert.equal(c.target.l0, 2);
    assert.deepEqual(c.result.sources.map((s) => s.name), [SOURCE_NAMES.same, SOURCE_NAMES.previous, SOURCE_NAMES.mlp, SOURCE_NAMES.attention]);
    assert.match(c.sources[1].description, /blocks\.0\.hook_resid_post's SAE of width 64, L0 2/);
    for (const cell of c.result.cells) assert.ok(Number.isFinite(cell.r2.value) && cell.r2.value <= 1);
    // The second store's rows are the same tokens: its MLP output at a row equals the model's at that token.
    const comp = openActivationStore(c.companionStore!);
    try {
      assert.deepEqual(comp.hooks, ["blocks.1.hook_attn_out", "blocks.1.hook_mlp_out"]);
      const row = 3 * (CONFIG.ctx - 1 - CONFIG.skip) + 7; // context 3, position skip + 7
      const info = comp.readRows("blocks.1.hook_mlp_out", row, 1);
      const T = CONFIG.ctx, tokens = ctx.store!.tokens().subarray(3 * T, 4 * T);
      const f = forward(ctx.model!.params, [tokens], { capture: ["blocks.1.hook_mlp_out"] }).captured.get("blocks.1.hook_mlp_out")!;
      const want = f.subarray((CONFIG.skip + 7) * 16, (CONFIG.skip + 8) * 16);
      for (let j = 0; j < 16; j++) assert.ok(Math.abs(info.x[j] - want[j]) < 1e-4, `dim ${j}: ${info.x[j]} vs ${want[j]}`);
    } finally {
      comp.close();
    }
    assert.equal(reduceNonlinearClaims(pursuitOf([[0.3, 0.27, 0.1, 0.099]]), c).length, 4);
  } finally {
    ctx.close();
  }
});

test("a second store from another corpus or model is refused: its rows would not be the main store's tokens and activations", () => {
  const ctx = context(true);
  try {
    const t = tiny();
    const other = makeCorpus("other", "shuffled", [...t.corpus.documents].reverse().map((d) => ({ id: d.id, text: d.text })));
    assert.throws(() => companionStore(ctx.store!, ["blocks.1.hook_mlp_out"], { weights: t.weights, tokenizer: t.tokenizer, corpus: other }),
      (e: unknown) => e instanceof InputError && /not row-aligned/.test(e.message) && /another model, tokenizer or corpus/.test(e.message));
    assert.throws(() => companionStore(ctx.store!, ["blocks.1.hook_mlp_out"], { weights: initWeights(t.config, 99), tokenizer: t.tokenizer, corpus: t.corpus }),
      (e: unknown) => e instanceof InputError && /built with another model/.test(e.message));
  } finally {
    ctx.close();
  }
});

test("without a language model the MLP and attention sources are skipped with the reason", async () => {
  const ctx = context(false);
  try {
    const c = await crossComponentErrors(ctx, { rows: 500, bootstrap: false });
    assert.deepEqual(c.result.sources.map((s) => s.name), [SOURCE_NAMES.same, SOURCE_NAMES.previous]);
    assert.deepEqual(c.skipped.map((s) => s.name), [SOURCE_NAMES.mlp, SOURCE_NAMES.attention]);
    assert.match(c.skipped[0].reason, /no language model/);
    assert.equal(c.companionStore, null);
  } finally {
    ctx.close();
  }
});

test("a user's tensor file: pursuit runs, and only the same layer's SAE can predict the errors (the rest say why)", async () => {
  const store = openActivationStore(storeDir);
  const npy = path.join(root, "acts.npy");
  writeNpy(npy, { dtype: "float32", shape: [store.rows, store.d], data: store.readRows(HOOK, 0, store.rows).x });
  store.close();
  const ctx = await openContext({ saeDir: path.join(saeDir, "layer_1"), activations: npy, profile: "ci" });
  try {
    assert.equal(ctx.store, null);
    const p = await pursuitSweep(ctx, { tokens: 300, bootstrap: false });
    assert.equal(p.points.length, 3);
    const c = await crossComponentErrors(ctx, { rows: 500, bootstrap: false });
    assert.deepEqual(c.result.sources.map((s) => s.name), [SOURCE_NAMES.same]);
    assert.deepEqual(c.skipped.map((s) => s.name), [SOURCE_NAMES.previous, SOURCE_NAMES.mlp, SOURCE_NAMES.attention]);
    assert.match(c.skipped[0].reason, /hook is unknown/);
    assert.match(c.skipped[1].reason, /tensor file/);
    assert.equal(reduceNonlinearClaims(p, c)[3].holds, null, "no previous layer: undecided");
  } finally {
    ctx.close();
  }
});

const est = (value: number) => ({ value, interval: null });
/** A sweep whose widths have [fvu encoder, fvu pursuit, fvu_nonlinear encoder, fvu_nonlinear pursuit]. */
function pursuitOf(values: number[][]): PursuitSweep {
  const rows = { total: 1, train: 1, evaluated: 1, droppedNonFinite: 0, seed: 0 };
  return {
    l0: 8, tokens: 100, totalRows: 100, bands: null, scaledDown: "",
    points: values.map(([fe, fp, ne, np], i) => ({
      sae: { path: `w${64 << i}`, format: "saelens", width: 64 << i, l0: 8, layer: 1, hook: HOOK }, encoderL0: 8, pursuitL0: 8, seconds: 0,
      encoder: { fvu: est(fe), fvuNonlinear: est(ne), vectorR2: est(0.5), rows }, pursuit: { fvu: est(fp), fvuNonlinear: est(np), vectorR2: est(0.5), rows },
      run: { tokens: 1, latents: 1, l0: new Uint32Array(1), iterations: new Uint32Array(1), residualEnergy: new Float64Array(1), safeguardedSteps: 0 },
    })),
  };
}
/** A cross-component analysis with the nonlinear-error R² (and 1 − fvu) of each SAE source. */
function crossOf(same: number, previous: number | null): CrossComponentAnalysis {
  const entries: [string, number][] = [[SOURCE_NAMES.same, same], ...(previous === null ? [] : [[SOURCE_NAMES.previous, previous] as [string, number]]), [SOURCE_NAMES.mlp, 0.9]];
  const r2 = Object.fromEntries(entries.map(([s, v]) => [s, { saeError: 0.5, linearError: 0.5, nonlinearError: v }]));
  const cells = entries.map(([source, v]) => ({ source, target: "nonlinearError", r2: est(v), fvu: 1 - v }));
  return {
    target: { path: "w64", format: "saelens", width: 64, l0: 8, layer: 1, hook: HOOK }, rows: 1, totalRows: 1, sources: [], seconds: 0, companionSeconds: 0, scaledDown: "",
    skipped: previous === null ? [{ name: SOURCE_NAMES.previous, reason: "no SAE was trained on blocks.0.hook_resid_post" }] : [],
    companionStore: null, result: { r2, cells } as unknown as CrossComponentResult,
  };
}

test("the §3.10/§3.11 verdicts follow the measured numbers", () => {
  // The paper's picture: fvu −4 %, fvu_nonlinear −1 %, SAE outputs explain 30–40 % of the nonlinear error.
  const paper = reduceNonlinearClaims(pursuitOf([[0.3, 0.288, 0.1, 0.099], [0.2, 0.192, 0.1, 0.099]]), crossOf(0.4, 0.3));
  assert.deepEqual(paper.map((c) => c.holds), [true, true, true, true]);
  assert.match(paper[2].measured, /best: residual SAE, same layer 0\.400; residual SAE, previous layer 0\.300 \(raw activations: MLP output 0\.900\)/);
  assert.match(paper[3].measured, /removes 30\.0 % .* vs pursuit's 1\.0 % reduction of fvu_nonlinear \(width 64, L0 8\)/);
  // Pursuit that halves fvu and fvu_nonlinear, and SAE outputs that explain little: every verdict flips.
  const other = reduceNonlinearClaims(pursuitOf([[0.3, 0.15, 0.1, 0.05], [0.2, 0.1, 0.1, 0.05]]), crossOf(0.1, 0.05));
  assert.deepEqual(other.map((c) => c.holds), [false, false, false, false]);
  // Pursuit that makes fvu worse does not "lower it a little"; without a previous layer that verdict is undecided.
  const worse = reduceNonlinearClaims(pursuitOf([[0.3, 0.33, 0.1, 0.1]]), crossOf(0.25, null));
  assert.deepEqual(worse.map((c) => c.holds), [false, true, true, null]);
  assert.match(worse[3].measured, /not measured: no SAE was trained/);
  assert.equal(reduceNonlinearClaims(pursuitOf([[0.3, 0.29, 0.1, 0.1]]), null).length, 2, "without the cross-component analysis: the pursuit claims only");
});

test("each §3.10/§3.11 verdict just either side of its threshold, and undecided on NaN", () => {
  const e = 1e-9;
  // fvu 0.2 → 0.2·(1 − r): a reduction r must lie in (0, 0.15]; fvu_nonlinear 0.1 → 0.1·(1 + c): |c| ≤ 0.05.
  const holds = (r: number, c: number, best = 0.4, prev = 0.3) =>
    reduceNonlinearClaims(pursuitOf([[0.2, 0.2 * (1 - r), 0.1, 0.1 * (1 + c)]]), crossOf(best, prev)).map((x) => x.holds);
  assert.deepEqual(holds(0.15 - e, 0.05 - e).slice(0, 2), [true, true]);
  assert.deepEqual(holds(0.15 + 1e-6, 0.05 + 1e-6).slice(0, 2), [false, false]);
  assert.deepEqual(holds(1e-6, -(0.05 - e)).slice(0, 2), [true, true]);
  assert.deepEqual(holds(0, -(0.05 + 1e-6)).slice(0, 2), [false, false], "no reduction is not 'a little'");
  assert.equal(holds(0.04, 0, 0.2)[2], true, "best r2 = 0.2 is meaningful");
  assert.equal(holds(0.04, 0, 0.2 - e, 0.1)[2], false);
  // Claim 4: the previous layer's SAE removes 1 − fvu = prev of the variance vs pursuit's reduction of fvu_nonlinear (−c).
  assert.equal(holds(0.04, -0.3 + 1e-6, 0.4, 0.3)[3], true);
  assert.equal(holds(0.04, -0.3 - 1e-6, 0.4, 0.3)[3], false);
  assert.deepEqual(holds(NaN, NaN, NaN, NaN), [null, null, null, null]);
  assert.deepEqual(reduceNonlinearClaims(pursuitOf([]), null).map((x) => x.holds), [null, null], "nothing pursued");
});
