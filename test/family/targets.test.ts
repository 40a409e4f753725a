import * as assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { InputError } from "../../src/errors";
import {
  ActivationRows, arrayRows, errorComponents, heldOutSplit, makeTarget, saeFingerprint, storeRows, TargetRows,
} from "../../src/family/targets";
import type { Sae } from "../../src/sae";
import type { TrainingData } from "../../src/train";
import { randomSae, tinyStore, TinyStore, HOOKS } from "./store";

let env: TinyStore;
let rows: ActivationRows;
let sae: Sae;
before(async () => {
  env = await tinyStore();
  rows = storeRows(env.store, HOOKS[1]);
  sae = randomSae(rows.d, 48, 4, 11);
});
after(() => { sae.dispose(); env.cleanup(); });

async function readAll(data: TrainingData): Promise<Float32Array> {
  const out = new Float32Array(data.rows * data.d);
  await data.read(Int32Array.from({ length: data.rows }, (_, i) => i), out);
  return out;
}

/** Sae(x) by hand in float64: TopK of relu((x − b_dec)·W_enc + b_enc), decoded with W_dec + b_dec. */
function reconstructByHand(x: Float32Array, n: number): Float64Array {
  const d = sae.d_in, m = sae.d_sae, k = sae.k!;
  const Wenc = sae.hostWeight("W_enc")!, Wdec = sae.hostWeight("W_dec")!, benc = sae.hostWeight("b_enc")!, bdec = sae.hostWeight("b_dec")!;
  const out = new Float64Array(n * d);
  for (let r = 0; r < n; r++) {
    const pre = new Float64Array(m);
    for (let j = 0; j < m; j++) {
      let s = benc[j];
      for (let t = 0; t < d; t++) s += (x[r * d + t] - bdec[t]) * Wenc[t * m + j];
      pre[j] = Math.max(0, s);
    }
    const top = Array.from(pre.keys()).sort((a, b) => pre[b] - pre[a]).slice(0, k);
    for (let t = 0; t < d; t++) out[r * d + t] = bdec[t];
    for (const j of top) for (let t = 0; t < d; t++) out[r * d + t] += pre[j] * Wdec[j * d + t];
  }
  return out;
}

function target(kind: "x" | "error" | "linear" | "nonlinear", extra: Partial<Parameters<typeof makeTarget>[1]> = {}): TargetRows {
  return makeTarget(rows, { target: kind, split: heldOutSplit(rows.rows, 200, 3), reference: kind === "x" ? undefined : sae, referencePath: "/refs/sae", ...extra });
}

describe("training targets", () => {
  it("x: the raw rows; train and held-out rows follow the split", async () => {
    const t = target("x");
    const split = heldOutSplit(rows.rows, 200, 3);
    assert.equal(split.train.length + split.heldOut.length, rows.rows);
    assert.equal(new Set([...split.train, ...split.heldOut]).size, rows.rows);
    const x = await readAll(rows.data), held = await readAll(t.heldOut);
    assert.equal(t.heldOut.rows, 200);
    split.heldOut.forEach((r, i) => assert.deepEqual(held.subarray(i * rows.d, (i + 1) * rows.d), x.subarray(r * rows.d, (r + 1) * rows.d)));
    assert.deepEqual(await readAll(t.all), x);
  });

  it("streams from disk with the same rows as in memory", async () => {
    const disk = storeRows(env.store, HOOKS[1], { maxMemoryBytes: 0 });
    const idx = Int32Array.of(0, 1, 2, 500, 501, rows.rows - 1);
    const a = new Float32Array(idx.length * rows.d), b = new Float32Array(idx.length * rows.d);
    await disk.data.read(idx, a);
    await rows.data.read(idx, b);
    assert.deepEqual(a, b);
    assert.ok(rows.store && rows.store.key === env.store.manifest.key && rows.store.hook === HOOKS[1]);
  });

  it("error = x − Sae(x), checked against a float64 computation by hand", async () => {
    const x = await readAll(rows.data), e = await readAll(target("error").all);
    const n = 64, recon = reconstructByHand(x, n);
    let worst = 0, scale = 0;
    for (let i = 0; i < n * rows.d; i++) {
      worst = Math.max(worst, Math.abs(e[i] - (x[i] - recon[i])));
      scale = Math.max(scale, Math.abs(e[i]));
    }
    assert.ok(scale > 0.1, "the reference SAE leaves a real error");
    assert.ok(worst < 1e-4 * Math.max(1, scale), `max deviation ${worst}`);
  });

  it("linear = predict(b*, x) with b* the least-squares fit on the training rows; linear + nonlinear = error", async () => {
    const t = target("linear"), tn = target("nonlinear", { linearMap: { fit: t.linearMap!, report: t.provenance.linearMap! } });
    const fit = t.linearMap!;
    assert.ok(fit.intercept, "with an intercept by default");
    const x = await readAll(rows.data), lin = await readAll(t.all), nl = await readAll(tn.all), err = await readAll(target("error").all);
    const d = rows.d;
    // Every row: linear + nonlinear reproduces the error to float32 rounding.
    for (let i = 0; i < err.length; i++) assert.ok(Math.abs(lin[i] + nl[i] - err[i]) <= 2e-6 * Math.max(1, Math.abs(err[i])), `row ${Math.floor(i / d)}`);
    // The same numbers as errorComponents on a batch (the SAE's float32 matmul may round differently per batch size).
    const comp = errorComponents(x.subarray(0, 10 * d), 10, sae, fit);
    assert.deepEqual(comp.linear, lin.subarray(0, 10 * d));
    for (let i = 0; i < 10 * d; i++) {
      assert.ok(Math.abs(comp.nonlinear[i] - nl[i]) < 1e-5 && Math.abs(comp.error[i] - err[i]) < 1e-5, `entry ${i}`);
    }
    // Least squares: on the training rows the residual SaeError − LinearError is orthogonal to every column of x and to 1.
    const split = heldOutSplit(rows.rows, 200, 3);
    const xr = new Float64Array(d * d), one = new Float64Array(d);
    let scale = 0;
    for (const r of split.train) {
      for (let j = 0; j < d; j++) {
        const res = err[r * d + j] - lin[r * d + j];
        one[j] += res;
        for (let i = 0; i < d; i++) xr[i * d + j] += x[r * d + i] * res;
        scale += Math.abs(x[r * d + j] * err[r * d + j]);
      }
    }
    const worst = Math.max(...xr.map(Math.abs), ...one.map(Math.abs));
    assert.ok(worst < 1e-4 * scale / d, `normal equations hold (max |Xᵀr| ${worst}, scale ${scale})`);
    // On held-out rows they do not hold exactly (out of sample), but the report measures the split there.
    const rep = t.provenance.linearMap!;
    assert.equal(rep.fitOn, "train");
    assert.equal(rep.fitRows, split.train.length);
    assert.equal(rep.evaluatedRows, 200);
    assert.ok(rep.vectorR2 > 0 && rep.referenceFvuNonlinear < rep.referenceFvu);
  });

  it("fits without an intercept, or in-sample on all rows, when asked", async () => {
    const none = target("linear", { linearMapOptions: { intercept: false } });
    assert.equal(none.linearMap!.intercept, null);
    assert.equal(none.provenance.linearMap!.intercept, false);
    const all = target("linear", { linearMapOptions: { fitOn: "all" } });
    assert.equal(all.provenance.linearMap!.fitOn, "all");
    assert.equal(all.provenance.linearMap!.fitRows, rows.rows);
    assert.equal(all.provenance.linearMap!.evaluatedOn, "all");
    assert.notDeepEqual(all.linearMap!.coefficients, target("linear").linearMap!.coefficients);
  });

  it("records target, reference and store in its provenance", () => {
    const t = target("nonlinear");
    const p = t.provenance;
    assert.equal(p.target, "nonlinear");
    assert.match(p.description, /^NonlinearError of \/refs\/sae on blocks\.1\.hook_resid_post/);
    assert.deepEqual(p.reference, { path: "/refs/sae", sha256: saeFingerprint(sae), architecture: "topk", d_sae: 48, k: 4 });
    assert.equal(p.rows.store!.key, env.store.manifest.key);
    assert.deepEqual(p.split, { seed: 3, trainRows: rows.rows - 200, heldOutRows: 200 });
    assert.equal(p.linearMap!.intercept, true);
    assert.equal(target("error").provenance.linearMap, undefined);
    assert.equal(target("x").provenance.reference, undefined);
  });

  it("the fingerprint changes with any weight", () => {
    const other = randomSae(rows.d, 48, 4, 12);
    try {
      assert.notEqual(saeFingerprint(other), saeFingerprint(sae));
      assert.equal(saeFingerprint(sae), saeFingerprint(sae));
    } finally {
      other.dispose();
    }
  });

  it("refuses bad requests with an InputError", () => {
    const split = heldOutSplit(rows.rows, 200, 3);
    assert.throws(() => makeTarget(rows, { target: "linear", split }), InputError);
    assert.throws(() => makeTarget(rows, { target: "bogus" as "x", split }), InputError);
    assert.throws(() => makeTarget(rows, { target: "x", split: heldOutSplit(100, 10, 0) }), InputError);
    const wide = randomSae(rows.d + 1, 8, 2, 1);
    try {
      assert.throws(() => makeTarget(rows, { target: "error", split, reference: wide }), InputError);
    } finally {
      wide.dispose();
    }
    assert.throws(() => heldOutSplit(10, 10, 0), InputError);
    assert.throws(() => heldOutSplit(10, 0, 0), InputError);
    assert.throws(() => makeTarget(arrayRows(new Float32Array(32), 16), { target: "x", split: heldOutSplit(2, 1, 0) }).train.read(Int32Array.of(5), new Float32Array(16)), InputError);
  });
});
