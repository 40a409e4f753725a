// The done-when of issue 6: SAEs trained on LinearError and on NonlinearError of the same reference SAE, end to
// end, with both held-out FVUs and dead fractions side by side.
import * as assert from "node:assert/strict";
import * as path from "node:path";
import { after, before, test } from "node:test";
import { compareErrorTargets, fitLinearMap, heldOutSplit, makeTarget, storeRows, trainOnTarget, resolveRecipe } from "../../src/family";
import { loadSae, type Sae } from "../../src/sae";
import { HOOKS, tinyStore, TinyStore } from "./store";

let env: TinyStore;
let reference: Sae;
const recipe = resolveRecipe({ tokens: 2048, batchSize: 128 });
before(async () => {
  env = await tinyStore();
  // The reference: an SAE trained on x at the same hook.
  const rows = storeRows(env.store, HOOKS[1]);
  const x = makeTarget(rows, { target: "x", split: heldOutSplit(rows.rows, 108, 0) });
  reference = (await trainOnTarget(x, 32, 4, recipe)).sae;
});
after(() => { reference.dispose(); env.cleanup(); });

test("compareErrorTargets trains on LinearError and NonlinearError and reports both side by side", async () => {
  const out = path.join(env.root, "compare");
  const labels: string[] = [];
  const c = await compareErrorTargets(env.store, reference, {
    width: 16, k: 2, tokens: 2048, hook: HOOKS[1], recipe: { batchSize: 128 }, out, progress: (_d, _t, l) => labels.push(l),
  });
  assert.equal(c.hook, HOOKS[1]);
  assert.equal(c.linear.target, "linear");
  assert.equal(c.nonlinear.target, "nonlinear");
  for (const r of [c.linear, c.nonlinear]) {
    assert.deepEqual([r.width, r.k, r.tokensSeen, r.deadWindowTokens], [16, 2, 2048, 108]);
    assert.ok(Number.isFinite(r.fvu) && r.fvu > 0, `fvu ${r.fvu}`);
    assert.ok(r.deadFraction >= 0 && r.deadFraction <= 1);
  }
  assert.ok(labels.some((l) => l.startsWith("linear: ")) && labels.some((l) => l.startsWith("nonlinear: ")));
  // The shared b* is the one fitLinearMap finds on the same split.
  const rows = storeRows(env.store, HOOKS[1]);
  const split = heldOutSplit(rows.rows, 108, 0);
  const map = fitLinearMap(rows, reference, split);
  assert.deepEqual(c.linearMap, map.report);
  const lines = c.table.trim().split("\n");
  assert.equal(lines.length, 4);
  assert.ok(lines[2].startsWith("| LinearError | 16 | 2 | " + c.linear.fvu.toFixed(4)));
  assert.ok(lines[3].startsWith("| NonlinearError | 16 | 2 | " + c.nonlinear.fvu.toFixed(4)));

  // The reported held-out FVU is that of the saved SAE on the held-out rows of its target, recomputed here.
  for (const kind of ["linear", "nonlinear"] as const) {
    const sae = await loadSae(path.join(out, kind));
    try {
      assert.equal((sae.metadata.provenance.target as { target: string }).target, kind);
      const held = makeTarget(rows, { target: kind, split, reference, linearMap: map }).heldOut;
      const y = new Float32Array(held.rows * held.d);
      await held.read(Int32Array.from({ length: held.rows }, (_, i) => i), y);
      const yhat = sae.forward(y, { latents: false }).reconstruction;
      const d = held.d, mean = new Float64Array(d);
      for (let i = 0; i < y.length; i++) mean[i % d] += y[i] / held.rows;
      let sse = 0, sst = 0;
      for (let i = 0; i < y.length; i++) { sse += (y[i] - yhat[i]) ** 2; sst += (y[i] - mean[i % d]) ** 2; }
      const r = kind === "linear" ? c.linear : c.nonlinear;
      assert.ok(Math.abs(sse / sst - r.fvu) < 1e-4, `${kind}: ${sse / sst} vs ${r.fvu}`);
    } finally {
      sae.dispose();
    }
  }
});
