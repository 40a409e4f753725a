import { test } from "node:test";
import * as assert from "node:assert/strict";
import { arrayData } from "../../src/train/data";
import { SaeWeights, evaluateSae } from "../../src/train/evaluate";
import { normals } from "../helpers/random";

test("FVU golden check: x = [[2,0],[0,4]], x̂ = [[2,1],[0,3]] gives 0.2", async () => {
  const sae: SaeWeights = {
    architecture: "topk", k: 1, d_in: 2, d_sae: 2, apply_b_dec_to_input: true,
    W_enc: Float32Array.from([0.5, 0, 0, 0.25]), b_enc: new Float32Array(2),
    W_dec: Float32Array.from([2, 1, 0, 3]), b_dec: new Float32Array(2),
  };
  const r = await evaluateSae(sae, arrayData(Float32Array.from([2, 0, 0, 4]), 2));
  assert.ok(Math.abs(r.fvu - 0.2) < 1e-12, `fvu ${r.fvu}`);
  assert.equal(r.l0, 1);
  assert.equal(r.deadFraction, 0);
});

test("reconstructing every row by the mean explains nothing (FVU 1); batches and shifts do not matter", async () => {
  const rows = 37, d = 3;
  const x = normals(rows * d, 2).map((v, i) => v + 1000 * (1 + (i % d)));
  const mean = new Float32Array(d);
  for (let i = 0; i < rows * d; i++) mean[i % d] += x[i] / rows;
  const sae: SaeWeights = {
    architecture: "topk", k: 1, d_in: d, d_sae: 4, apply_b_dec_to_input: true,
    W_enc: normals(d * 4, 3), b_enc: new Float32Array(4), W_dec: new Float32Array(4 * d), b_dec: mean,
  };
  const r = await evaluateSae(sae, arrayData(x, d), { batchSize: 10 });
  assert.ok(Math.abs(r.fvu - 1) < 1e-6, `fvu ${r.fvu}`);
});

/** float64 reference: fvu, l0, dead fraction. */
function reference(sae: SaeWeights, x: Float32Array, rows: number) {
  const { d_in: d, d_sae: n } = sae;
  let sse = 0, active = 0;
  const fired = new Set<number>();
  const mean = new Float64Array(d);
  for (let i = 0; i < rows * d; i++) mean[i % d] += x[i] / rows;
  let centred = 0;
  for (let b = 0; b < rows; b++) {
    const pre: [number, number][] = [];
    for (let j = 0; j < n; j++) {
      let s = sae.b_enc[j];
      for (let t = 0; t < d; t++) s += (x[b * d + t] - (sae.apply_b_dec_to_input ? sae.b_dec[t] : 0)) * sae.W_enc[t * n + j];
      pre.push([s, j]);
    }
    const kept = sae.architecture === "topk"
      ? pre.filter(([v]) => v > 0).sort((a, c) => c[0] - a[0] || a[1] - c[1]).slice(0, sae.k)
      : pre.filter(([v, j]) => v > sae.threshold![j] && v > 0);
    for (let t = 0; t < d; t++) {
      let xh = sae.b_dec[t];
      for (const [v, j] of kept) xh += v * sae.W_dec[j * d + t];
      sse += (xh - x[b * d + t]) ** 2;
      centred += (x[b * d + t] - mean[t]) ** 2;
    }
    active += kept.length;
    for (const [, j] of kept) fired.add(j);
  }
  return { fvu: sse / centred, l0: active / rows, deadFraction: (n - fired.size) / n };
}

test("evaluateSae agrees with a float64 reference for topk and jumprelu, with and without b_dec on the input", async () => {
  const rows = 300, d = 10, n = 48;
  const x = normals(rows * d, 5);
  for (const architecture of ["topk", "jumprelu"] as const) {
    for (const apply of [true, false]) {
      const sae: SaeWeights = {
        architecture, k: 5, d_in: d, d_sae: n, apply_b_dec_to_input: apply,
        W_enc: normals(d * n, 6).map((v) => 0.5 * v), b_enc: normals(n, 7).map((v) => 0.1 * v - 0.3),
        W_dec: normals(n * d, 8).map((v) => 0.3 * v), b_dec: normals(d, 9).map((v) => 0.1 * v),
        threshold: architecture === "jumprelu" ? normals(n, 10).map((v) => 0.5 + 0.2 * v) : undefined,
      };
      if (architecture === "jumprelu") for (let j = 40; j < n; j++) sae.threshold![j] = 1e9; // never fire
      const got = await evaluateSae(sae, arrayData(x, d), { batchSize: 64 });
      const want = reference(sae, x, rows);
      assert.ok(Math.abs(got.fvu - want.fvu) < 1e-5 * want.fvu, `${architecture}/${apply}: fvu ${got.fvu} vs ${want.fvu}`);
      assert.equal(got.l0, want.l0);
      assert.equal(got.deadFraction, want.deadFraction);
      if (architecture === "jumprelu") assert.ok(got.deadFraction >= 8 / n);
    }
  }
});

test("evaluateSae rejects inconsistent weights and data", async () => {
  const ok: SaeWeights = {
    architecture: "topk", k: 1, d_in: 2, d_sae: 2, apply_b_dec_to_input: true,
    W_enc: new Float32Array(4), b_enc: new Float32Array(2), W_dec: new Float32Array(4), b_dec: new Float32Array(2),
  };
  const data = arrayData(new Float32Array(6), 2);
  await assert.rejects(evaluateSae({ ...ok, W_dec: new Float32Array(3) }, data), /W_dec must be a Float32Array of length 4/);
  await assert.rejects(evaluateSae({ ...ok, k: 3 }, data), /k must be an integer/);
  await assert.rejects(evaluateSae({ ...ok, architecture: "jumprelu" }, data), /threshold/);
  await assert.rejects(evaluateSae(ok, arrayData(new Float32Array(6), 3)), /expects d_in = 2/);
});
