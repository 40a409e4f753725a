// Per-token scaling (§3.3) on a tiny store whose activations are one feature per token, x = s_f·e_f with
// f = token mod d, and TopK (k = 1) SAEs that reconstruct exactly the features below some m. Then
// ‖SaeError‖ = s_f·1[f ≥ m] exactly, the error is linear in x (‖NonlinearError‖ ≈ 0), and an SAE padded with latents
// that never fire has exactly the same per-token norms as the unpadded one.
import { before, test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { buildActivationStore } from "../../src/activations/index";
import { initBackend } from "../../src/backend/index";
import type { PerTokenPredictability } from "../../src/darkmatter/pertoken";
import { writeNpy } from "../../src/io/index";
import { perTokenClaims, perTokenScaling, PerTokenScaling, sharedL0Saes } from "../../src/pipeline/pertoken";
import { analysisRows, tokenDataMissing, tokenText, tokenTextMissing } from "../../src/pipeline/tokens";
import { Sae, saveSaeLens } from "../../src/sae/index";
import { tiny } from "../activations/tiny";
import { normals } from "../helpers/random";
import { featureSae, withContext } from "./fixtures";

const HOOK = "blocks.0.hook_resid_post";
const d = 16;
const magnitude = (f: number) => 1 + f;
let dir: string, storeDir: string;

before(async () => {
  await initBackend();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "dm-pertoken-"));
  process.env.DARKMATTER_ANALYSIS_CACHE = path.join(dir, "cache");
  const t = tiny();
  const built = buildActivationStore({ weights: t.weights, tokenizer: t.tokenizer, corpus: t.corpus }, {
    root: path.join(dir, "stores"),
    config: { hooks: [HOOK], contexts: 12, ctx: 24, skip: 5, seed: 3, corpusPart: "all", contextsPerChunk: 6 },
    capture: (tokens, count, ctx) => {
      const acts = new Float32Array(count * ctx * d), losses = new Float32Array(count * (ctx - 1));
      for (let i = 0; i < count * ctx; i++) { const f = tokens[i] % d; acts[i * d + f] = magnitude(f); }
      return { acts: new Map([[HOOK, acts]]), losses };
    },
  });
  storeDir = built.dir;
  built.store?.close();
  featureSae(d, 16, 1, 6, HOOK, path.join(dir, "saes"));
  featureSae(d, 32, 1, 6, HOOK, path.join(dir, "saes")); // the same SAE padded with 16 latents that never fire
  const other = new Sae({
    architecture: "topk", d_in: d, d_sae: 32, k: 2, applyBDecToInput: true,
    weights: { W_enc: normals(d * 32, 1), b_enc: new Float32Array(32), W_dec: normals(32 * d, 2), b_dec: new Float32Array(d) },
    metadata: { hookName: HOOK, layer: 0 },
  });
  saveSaeLens(other, path.join(dir, "saes", "layer_0", "width_32", "average_l0_2"));
  other.dispose();
});

test("one SAE per width at the most shared L0; exact per-token norms; identical SAEs predict each other perfectly", async () => {
  await withContext({ saeDir: path.join(dir, "saes"), activations: storeDir, hook: HOOK }, async (ctx) => {
    const sel = await sharedL0Saes(ctx);
    assert.equal(sel.l0, 1);
    assert.deepEqual(sel.saes.map((s) => [s.width, s.l0]), [[16, 1], [32, 1]]);
    const r = await perTokenScaling(ctx);
    assert.equal(r.rows, ctx.rows, "ci caps at 12,000 tokens; the fixture has fewer");
    assert.deepEqual(r.widths, [16, 32]);
    const info = ctx.store!.rowInfo(0, r.rows);
    for (let t = 0; t < r.rows; t++) {
      const f = info.token[t] % d, expected = f >= 6 ? magnitude(f) : 0;
      for (const w of r.norms) {
        assert.ok(Math.abs(w.saeError[t] - expected) < 1e-5, `token ${t}: ‖SaeError‖ ${w.saeError[t]} vs ${expected}`);
        assert.ok(Math.abs(w.linearError![t] - expected) < 1e-4, "the error is linear in x, so LinearError is all of it");
        assert.ok(w.nonlinearError![t] < 1e-4, "nothing nonlinear is left");
      }
    }
    assert.ok(Math.abs(r.predictability.r2[0][1] - 1) < 1e-9 && Math.abs(r.predictability.r2[1][0] - 1) < 1e-9, "identical norms: R² = 1");
    assert.equal(r.variation.saeError.relativeSpread, 0);
    assert.deepEqual(Array.from(r.traces.tokenIndex.slice(0, 3)), [0, 1, 2], "few tokens: the window starts at 0");
    assert.equal(r.traces.tokenIndex.length, 100);
    assert.equal(perTokenClaims(r)[0].holds, true);
    const again = await perTokenScaling(ctx);
    assert.deepEqual(Array.from(again.norms[1].saeError), Array.from(r.norms[1].saeError), "the cached norms come back unchanged");
    assert.ok(fs.readdirSync(path.join(dir, "cache", "pertoken-norms")).some((f) => fs.existsSync(path.join(dir, "cache", "pertoken-norms", f, "entry.json"))), "the norms were cached");
  });
});

test("token text: the token quoted and its context decoded around it; ids without a tokenizer; null without a store", async () => {
  await withContext({ saeDir: path.join(dir, "saes"), activations: storeDir, hook: HOOK }, async (ctx) => {
    assert.equal(tokenDataMissing(ctx), null);
    assert.match(tokenTextMissing(ctx) ?? "", /no tokenizer/);
    const ids = tokenText(ctx, [0, 17])!;
    const tok0 = ctx.store!.rowInfo(0, 1).token[0];
    assert.equal(ids.labels[0], `#${tok0}`);
    assert.match(ids.contexts[0], new RegExp(`⟦#${tok0}⟧`));

    const tokenizer = tiny().tokenizer;
    ctx.model = { params: null as never, tokenizer };
    assert.equal(tokenTextMissing(ctx), null);
    const rows = [0, 5, 17, ctx.rows - 1];
    const text = tokenText(ctx, rows, { before: 6, after: 2 })!;
    const all = ctx.store!.tokens(), T = ctx.store!.manifest.config.ctx;
    rows.forEach((r, i) => {
      const info = ctx.store!.rowInfo(r, 1), c = info.context[0], p = info.position[0];
      const piece = Buffer.from(tokenizer.decodePiece(all[c * T + p - 1], info.token[0])).toString("utf8");
      assert.equal(text.labels[i], JSON.stringify(piece));
      const plain = text.contexts[i].replace(/^…/, "").replace(/…$/, "").replace("⟦", "").replace("⟧", "");
      assert.equal(plain, tokenizer.decode(all.subarray(c * T + Math.max(0, p - 6), c * T + Math.min(T, p + 3))));
    });
    assert.throws(() => tokenText(ctx, [ctx.rows]), /outside/);
  });
});

test("the user path with a tensor file: no token data, said plainly; the analysis still runs", async () => {
  const x = new Float32Array(300 * d);
  const u = normals(300, 7);
  for (let t = 0; t < 300; t++) { const f = Math.floor(Math.abs(u[t]) * 1000) % d; x[t * d + f] = magnitude(f); }
  writeNpy(path.join(dir, "acts.npy"), { dtype: "float32", shape: [300, d], data: x });
  await withContext({ saeDir: path.join(dir, "saes"), activations: path.join(dir, "acts.npy") }, async (ctx) => {
    assert.match(tokenDataMissing(ctx) ?? "", /tensor file/);
    assert.equal(tokenText(ctx, [0, 1]), null);
    const r = await perTokenScaling(ctx, { rows: 250 });
    assert.equal(r.rows, 250);
    assert.ok(r.predictability.r2[0][1] > 1 - 1e-9);
    assert.equal(analysisRows(ctx, { full: 10, ci: 5 }), 5);
    assert.throws(() => analysisRows(ctx, { full: 10, ci: 5 }, 0), /positive integer/);
  });
});

test("SAEs that state no L0 are placed by their measured L0", async () => {
  for (const [width, learned] of [[16, 4], [32, 12]]) {
    const W_enc = new Float32Array(d * width), W_dec = new Float32Array(width * d);
    for (let j = 0; j < learned; j++) { W_enc[j * width + j] = 1; W_dec[j * d + j] = 1; }
    const sae = new Sae({
      architecture: "relu", d_in: d, d_sae: width, applyBDecToInput: true,
      weights: { W_enc, b_enc: new Float32Array(width), W_dec, b_dec: new Float32Array(d) }, metadata: { hookName: HOOK, layer: 0 },
    });
    saveSaeLens(sae, path.join(dir, "relu-saes", `relu-${width}`));
    sae.dispose();
  }
  await withContext({ saeDir: path.join(dir, "relu-saes"), activations: storeDir, hook: HOOK }, async (ctx) => {
    assert.deepEqual(ctx.saes.map((s) => s.l0), [undefined, undefined]);
    const tokens = ctx.store!.rowInfo(0, Math.min(ctx.rows, 2048)).token;
    const share = (learned: number) => Array.from(tokens).filter((t) => t % d < learned).length / tokens.length;
    const sel = await sharedL0Saes(ctx);
    assert.ok(Math.abs(sel.l0 - share(4)) < 1e-12, `each token fires one latent when its feature is learned: L0 ${sel.l0} vs ${share(4)}`);
    assert.deepEqual(sel.saes.map((s) => s.width), [16, 32], "one SAE per width, the other width at its closest L0");
    assert.equal(sel.warnings.length, 1);
  });
});

/** A PerTokenScaling with the given matrices and spreads (everything else inert). */
function synthetic(r2: number[][], pct: number[][] | null, spreads: { nl: number; lin: number }): PerTokenScaling {
  const v = (relativeSpread: number) => ({ meanNorm: 1, meanSpread: relativeSpread, relativeSpread });
  const widths = r2.map((_, i) => 128 << i);
  const predictability: PerTokenPredictability = {
    widths, tokens: { total: 1000, train: 600, test: 400, seed: 0 }, r2, r2WithNonlinear: null, percentRemainingExplained: pct, warnings: [],
  };
  return {
    l0: 16, widths, saes: [], rows: 1000, rowsAvailable: 1000, norms: [], predictability,
    traces: { tokenIndex: new Uint32Array(0), series: [] },
    variation: { saeError: v(0.2), linearError: v(spreads.lin), nonlinearError: v(spreads.nl) },
    linearMap: { intercept: true, trainRows: 600 }, warnings: [],
  };
}

test("the claims follow the numbers across their thresholds", () => {
  const good = synthetic([[1, 0.8, 0.7], [0.8, 1, 0.9], [0.6, 0.85, 1]], [[NaN, 30, 20], [5, NaN, 15], [1, 2, NaN]], { nl: 0.05, lin: 0.3 });
  assert.deepEqual(perTokenClaims(good).map((c) => c.holds), [true, true, true]);
  assert.match(perTokenClaims(good)[0].measured, /median R² 0\.800 over 3 pairs/);
  assert.match(perTokenClaims(good)[1].measured, /median 20\.000 %/);
  const bad = synthetic([[1, 0.3, 0.2], [0.8, 1, 0.45], [0.6, 0.85, 1]], [[NaN, 3, 20], [5, NaN, 1], [1, 2, NaN]], { nl: 0.2, lin: 0.3 });
  assert.deepEqual(perTokenClaims(bad).map((c) => c.holds), [false, false, false]);
  const one = synthetic([[1]], null, { nl: 0, lin: 0 });
  assert.deepEqual(perTokenClaims(one).map((c) => c.holds), [null, null, null], "one width decides nothing");
});

test("each per-token verdict just either side of its threshold (R² ≥ 0.5, > 10 %, spread < 0.5×), and NaN is undecided", () => {
  const e = 1e-9;
  const holds = (r2: number, pct: number, nl: number, lin = 0.3) =>
    perTokenClaims(synthetic([[1, r2], [r2, 1]], [[NaN, pct], [pct, NaN]], { nl, lin })).map((c) => c.holds);
  assert.deepEqual(holds(0.5, 10 + e, 0.15 - e), [true, true, true]);
  assert.deepEqual(holds(0.5 - e, 10, 0.15), [false, false, false], "10 % is not above 10 %; 0.15 is not below 0.5 × 0.3");
  assert.deepEqual(holds(NaN, NaN, NaN), [null, null, null]);
  assert.deepEqual(holds(0.9, 20, 0.1, NaN), [true, true, null]);
});
