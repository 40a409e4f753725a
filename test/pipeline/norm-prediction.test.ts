// Norm prediction (§3.4–§3.6) on a tiny store whose activations are one feature per token, x = s_f·e_f with
// f = token mod d, and TopK (k = 1) SAEs that reconstruct exactly the features below some m. Every squared norm is
// then exactly linear in x (‖v‖² = Σ_f c_f x_f), the SAE error norm is a function of the token, the store's "model
// loss" is set to the first SAE's error norm, and the norm probe on decoder rows equals each latent's magnitude.
import { before, test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { buildActivationStore } from "../../src/activations/index";
import { initBackend } from "../../src/backend/index";
import type { BaselineResult } from "../../src/darkmatter/baselines";
import type { NormPredictionResult } from "../../src/darkmatter/norm-prediction";
import type { ProbeVsLatentResult } from "../../src/darkmatter/probe-vs-latent";
import { writeNpy } from "../../src/io/index";
import { baselineTableRows, NormPredictionAnalysis, normPredictionClaims, normPredictionFamily, probeTokenText } from "../../src/pipeline/norm-prediction";
import { hoverSafe } from "../../src/viz/figures/common";
import { probeVsLatentFigure } from "../../src/viz/figures/probe-vs-latent";
import { tiny } from "../activations/tiny";
import { normals } from "../helpers/random";
import { featureSae, withContext } from "./fixtures";

const HOOK = "blocks.0.hook_resid_post";
const d = 16, LEARNED_A = 6, LEARNED_B = 11;
const magnitude = (f: number) => 1 + f;
let dir: string, storeDir: string;

before(async () => {
  await initBackend();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "dm-normpred-"));
  process.env.DARKMATTER_ANALYSIS_CACHE = path.join(dir, "cache");
  const t = tiny();
  const built = buildActivationStore({ weights: t.weights, tokenizer: t.tokenizer, corpus: t.corpus }, {
    root: path.join(dir, "stores"),
    config: { hooks: [HOOK], contexts: 16, ctx: 32, skip: 5, seed: 3, corpusPart: "all", contextsPerChunk: 8 },
    capture: (tokens, count, ctx) => {
      const acts = new Float32Array(count * ctx * d), losses = new Float32Array(count * (ctx - 1));
      for (let c = 0; c < count; c++) {
        for (let p = 0; p < ctx; p++) {
          const f = tokens[c * ctx + p] % d;
          acts[(c * ctx + p) * d + f] = magnitude(f);
          if (p < ctx - 1) losses[c * (ctx - 1) + p] = f >= LEARNED_A ? magnitude(f) ** 2 : 0; // SAE A's ‖SaeError‖²
        }
      }
      return { acts: new Map([[HOOK, acts]]), losses };
    },
  });
  storeDir = built.dir;
  built.store?.close();
  featureSae(d, 16, 1, LEARNED_A, HOOK, path.join(dir, "saes")); // A
  featureSae(d, 32, 1, LEARNED_B, HOOK, path.join(dir, "saes")); // B: the widest at L0 1, so the probe SAE
});

const EXACT = 1 - 1e-9;

test("every squared norm is exactly linear in x, the baselines that see the token are exact, the probe matches the magnitudes", async () => {
  await withContext({ saeDir: path.join(dir, "saes"), activations: storeDir, hook: HOOK }, async (ctx) => {
    const a = await normPredictionFamily(ctx, { bootstrap: false });
    assert.equal(a.rows, ctx.rows);
    assert.deepEqual(a.saes.map((s) => s.sae.width), [16, 32]);
    assert.deepEqual(a.sharedL0, [0, 1]);
    assert.equal(a.tokensMissing, null);
    for (const s of a.saes) {
      for (const c of ["x", "sae", "saeError", "linearError", "saePlusNonlinear"] as const) {
        assert.ok(s.test.components[c].value > EXACT, `width ${s.sae.width}: ${c} R² ${s.test.components[c].value}`);
      }
      assert.ok(s.baselines!.baselines.x!.value > EXACT);
      assert.ok(s.baselines!.baselines.tokenIdentity!.value > EXACT, "the error norm is a function of the token");
      assert.ok(s.baselines!.baselines.l0!.value < 0.99 && s.baselines!.baselines.xNorm!.value < 0.99, "L0 and ‖x‖ do not determine it");
      assert.equal(s.l0Empirical <= 1, true);
    }
    assert.ok(a.saes[0].baselines!.baselines.modelLoss!.value > EXACT, "the store's loss is SAE A's error norm");
    assert.ok(a.saes[1].baselines!.baselines.modelLoss!.value < 0.99, "but not SAE B's");

    const p = a.probe;
    assert.equal(p.sae.width, 32);
    assert.ok(p.result.probeR2.value > EXACT);
    assert.ok(p.result.correlation > EXACT);
    assert.ok(p.result.latents.length <= LEARNED_B && p.result.latents.length >= LEARNED_B - 2, "only learned latents fire");
    p.result.latents.forEach((latent, k) => {
      assert.ok(Math.abs(p.result.meanActive[k] - magnitude(latent)) < 1e-5);
      assert.ok(Math.abs(p.result.probe[k] - magnitude(latent)) < 1e-6, `a*·d_${latent} = ${p.result.probe[k]}`);
      assert.equal(ctx.store!.rowInfo(p.topRows[k], 1).token[0] % d, latent, "the top row is a token of that latent's feature");
    });
    ctx.model = { params: null as never, tokenizer: tiny().tokenizer };
    const text = probeTokenText(ctx, a)!;
    assert.equal(text.labels.length, p.result.latents.length);
    const fig = probeVsLatentFigure(p.result, { ...text });
    const hover = (fig.data[0].customdata as unknown[][]).map((c) => c[4] as string);
    text.labels.forEach((l, k) => assert.ok(hover[k].includes(hoverSafe(l)) && hover[k].includes(hoverSafe(text.contexts[k])), "hover shows the top token and its context"));
    assert.throws(() => probeVsLatentFigure(p.result, { labels: text.labels.slice(1) }), /labels/);
    assert.deepEqual(normPredictionClaims(a).map((c) => c.holds)[2], true);
    assert.equal(baselineTableRows(a).length, 2);
  });
});

test("the user path with a tensor file: token identity and model loss are reported missing, the rest runs", async () => {
  const x = new Float32Array(400 * d);
  const u = normals(400, 5);
  for (let t = 0; t < 400; t++) { const f = Math.floor(Math.abs(u[t]) * 1000) % d; x[t * d + f] = magnitude(f); }
  writeNpy(path.join(dir, "acts.npy"), { dtype: "float32", shape: [400, d], data: x });
  await withContext({ saeDir: path.join(dir, "saes"), activations: path.join(dir, "acts.npy") }, async (ctx) => {
    const a = await normPredictionFamily(ctx, { bootstrap: false });
    assert.match(a.tokensMissing ?? "", /tensor file/);
    for (const s of a.saes) {
      assert.equal(s.baselines!.baselines.tokenIdentity, null);
      assert.equal(s.baselines!.baselines.modelLoss, null);
      assert.ok(s.baselines!.baselines.x!.value > EXACT);
    }
    assert.equal(probeTokenText(ctx, a), null);
    const baselineClaim = normPredictionClaims(a)[1];
    assert.match(baselineClaim.measured, /not measured: tokenIdentity, modelLoss \(the activations came from a tensor file/);
    assert.equal(baselineClaim.holds, false, "SAE B's L0 (1 exactly when its error is 0) comes within 0.1 of x; that decides it");
  });
});

/** A NormPredictionAnalysis with the given per-SAE R² values (everything else inert). */
function synthetic(perSae: { comps: Partial<Record<string, number>>; baselines: Partial<Record<string, number | null>> }[], correlation: number): NormPredictionAnalysis {
  const est = (value: number) => ({ value, interval: null });
  const saes = perSae.map((s, i) => ({
    sae: { path: `s${i}`, format: "saelens", width: 128 << i, l0: 16, layer: 3, hook: HOOK },
    l0Empirical: 16,
    test: { components: Object.fromEntries(["x", "sae", "saeError", "linearError", "nonlinearError", "saePlusNonlinear"].map((c) => [c, est(s.comps[c] ?? 0.9)])) } as unknown as NormPredictionResult,
    baselines: { baselines: Object.fromEntries(["x", "tokenIdentity", "modelLoss", "l0", "xNorm"].map((b) => [b, s.baselines[b] === null ? null : est(s.baselines[b] ?? 0.2)])) } as unknown as BaselineResult,
  }));
  const result = { correlation, latents: new Int32Array(10), probeR2: est(0.5) } as unknown as ProbeVsLatentResult;
  return {
    rows: 100, rowsAvailable: 100, l0: 16, sharedL0: saes.map((_, i) => i), saes,
    probe: { sae: saes[saes.length - 1].sae, result, topRows: new Int32Array(10), runningCorrelation: correlation }, tokensMissing: null, warnings: [],
  };
}

test("the claims follow the numbers across their thresholds", () => {
  const good = synthetic([
    { comps: { nonlinearError: 0.6 }, baselines: { x: 0.9, tokenIdentity: 0.5 } },
    { comps: { nonlinearError: 0.7 }, baselines: { x: 0.95, modelLoss: 0.3 } },
  ], 0.8);
  assert.deepEqual(normPredictionClaims(good).map((c) => c.holds), [true, true, true]);
  const bad = synthetic([
    { comps: { nonlinearError: 0.95 }, baselines: { x: 0.9, tokenIdentity: 0.85 } },
    { comps: { nonlinearError: 0.7 }, baselines: { x: 0.95, modelLoss: 0.3 } },
  ], 0.3);
  const claims = normPredictionClaims(bad);
  assert.deepEqual(claims.map((c) => c.holds), [false, false, false], "1 of 2 SAEs is below 80 %; a margin of 0.05 is not far better; r 0.3");
  assert.match(claims[0].measured, /lowest in 1 of 2 SAEs/);
  assert.match(claims[1].measured, /smallest margin 0\.050 .*tokenIdentity 0\.850/);
  const missing = synthetic([{ comps: {}, baselines: { x: 0.1, tokenIdentity: null, modelLoss: null, l0: 0.3 } }], NaN);
  const m = normPredictionClaims(missing);
  assert.equal(m[1].holds, false, "a measured baseline beating x decides the claim even with others missing");
  assert.equal(m[2].holds, null, "no correlation, no verdict");
  const undecided = synthetic([{ comps: {}, baselines: { x: 0.9, tokenIdentity: null, modelLoss: 0.3 } }], 0.9);
  assert.equal(normPredictionClaims(undecided)[1].holds, null, "x beats every measured baseline, but one could not be measured");
  const none = { ...good, sharedL0: [] };
  const n = normPredictionClaims(none)[1];
  assert.equal(n.holds, null, "no SAE at a shared L0: no baseline compared, no verdict");
  assert.match(n.measured, /no baseline was compared/);
});
