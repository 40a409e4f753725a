import { test } from "node:test";
import * as assert from "node:assert/strict";
import { InputError } from "../../src/errors";
import { normPredictionBaselines } from "../../src/darkmatter";
import { arraySource, explicitSplit } from "../../src/linalg";
import { f32, fixtures, maxRelError } from "../linalg/fixtures";

const fx = fixtures.decomposition;
const n = fx.x.length, d = fx.d as number, nTrain = fx.n_train as number;
const range = (a: number, b: number) => Array.from({ length: b - a }, (_, i) => a + i);
const split = explicitSplit(n, range(0, nTrain), range(nTrain, n));
const input = () => ({
  activations: arraySource(f32(fx.x), d, "acts"), sae: { reconstructions: arraySource(f32(fx.xhat), d) },
  tokens: fx.tokens as number[], modelLoss: Float32Array.from(fx.loss), l0: fx.l0 as number[],
});

test("baselines match numpy: x (with intercept), token identity (in-sample), loss, L0, ‖x‖", () => {
  const r = normPredictionBaselines(input(), { split, bootstrap: { resamples: 50, seed: 2 } });
  const b = fx.baselines;
  const got = [r.baselines.x!.value, r.baselines.tokenIdentity!.value, r.baselines.modelLoss!.value, r.baselines.l0!.value, r.baselines.xNorm!.value];
  const want = [fx.intercept.norm_r2, b.tokenIdentity, b.modelLoss, b.l0, b.xNorm];
  assert.ok(maxRelError(got, want, 0) < 1e-6, `${got} vs ${want}`);
  assert.equal(r.baselines.tokenIdentity!.interval, null, "in-sample token identity has no interval");
  for (const k of ["x", "modelLoss", "l0", "xNorm"] as const) assert.equal(r.baselines[k]!.interval!.replicates.length, 50);
  assert.ok(r.baselines.x!.value > r.baselines.xNorm!.value, "x beats ‖x‖ on this data");
  assert.deepEqual([r.rows.train, r.rows.evaluated], [nTrain, n - nTrain]);
});

test("missing baseline data gives null entries; bad per-token data is an InputError", () => {
  const r = normPredictionBaselines({ activations: input().activations, sae: input().sae }, { split, bootstrap: false });
  assert.equal(r.baselines.tokenIdentity, null);
  assert.equal(r.baselines.modelLoss, null);
  assert.ok(Number.isFinite(r.baselines.xNorm!.value));
  assert.throws(() => normPredictionBaselines({ ...input(), tokens: [1, 2] }, { split }), (e: unknown) => e instanceof InputError && /tokens: has 2 values/.test(e.message));
  assert.throws(() => normPredictionBaselines({ ...input(), tokens: range(0, n).map((i) => (i === 5 ? 1.5 : 1)) }, { split }), /tokens: row 5/);
  const loss = Float32Array.from(fx.loss);
  loss[250] = NaN;
  assert.throws(() => normPredictionBaselines({ ...input(), modelLoss: loss }, { split }), /modelLoss: row 250 is not finite/);
  const dropped = normPredictionBaselines({ ...input(), modelLoss: loss }, { split, dropNonFinite: true, bootstrap: false });
  assert.equal(dropped.rows.droppedNonFinite, 1);
  assert.equal(dropped.rows.evaluated, n - nTrain - 1);
});
