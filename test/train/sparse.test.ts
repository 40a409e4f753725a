import { test } from "node:test";
import * as assert from "node:assert/strict";
import { KernelArena } from "../../src/train/kernels";
import { BatchTopKSelector, RowScratch, SparseActs, decode, kthLargest, selectAboveThreshold, selectTopK } from "../../src/train/sparse";
import { normals, rng } from "../helpers/random";

function setup(rows: number, n: number) {
  const arena = new KernelArena(KernelArena.bytesFor([rows * n, n, n, n, n, n, 64 * 64, rows * 64]));
  return { arena, pre: arena.floats(rows * n), bias: arena.floats(n), scratch: new RowScratch(arena, n), K: arena.k };
}

/** Expected top-k of one row: (latent, value) sorted by value desc, then latent asc. */
function refRow(pre: Float32Array, bias: Float32Array, b: number, n: number, k: number): [number, number][] {
  const out: [number, number][] = [];
  for (let j = 0; j < n; j++) {
    const v = Math.fround(pre[b * n + j] + bias[j]);
    if (v > 0) out.push([j, v]);
  }
  return out.sort((x, y) => y[1] - x[1] || x[0] - y[0]).slice(0, k);
}

function rowEntries(a: SparseActs, b: number): [number, number][] {
  const out: [number, number][] = [];
  for (let p = a.ptr[b]; p < a.ptr[b + 1]; p++) out.push([a.idx[p], a.val[p]]);
  return out.sort((x, y) => y[1] - x[1] || x[0] - y[0]);
}

test("selectTopK keeps each row's k largest positive entries (ties: lower latent), for every n mod 4 and k", () => {
  const u = rng(3);
  for (const [rows, n, k] of [[7, 13, 3], [5, 64, 1], [6, 300, 32], [4, 4096, 32], [3, 1030, 128], [9, 8, 8]]) {
    const { pre, bias, scratch, K } = setup(rows, n);
    pre.set(normals(rows * n, n + k));
    bias.set(normals(n, 7).map((v) => 0.3 * v));
    // ties: a few repeated values, and one row with fewer than k positive entries
    for (let i = 0; i < rows * n; i += 5) pre[i] = 1.25 - bias[i % n];
    for (let j = 0; j < n; j++) pre[(rows - 1) * n + j] = (j % 2 === 1 && j < 2 * (k - 1) ? 1 : -1) * (1 + u()) - bias[j];
    const out = new SparseActs(rows, 1);
    selectTopK(K, scratch, pre, bias, rows, n, k, out, 0);
    for (let b = 0; b < rows; b++) {
      assert.deepEqual(rowEntries(out, b), refRow(pre, bias, b, n, k), `rows=${rows} n=${n} k=${k} row ${b}`);
      for (let p = out.ptr[b] + 1; p < out.ptr[b + 1]; p++) assert.ok(out.idx[p] > out.idx[p - 1], `row ${b} is in latent order`);
    }
    assert.ok(out.ptr[rows] - out.ptr[rows - 1] < k, "the last row has fewer than k positive entries");
  }
});

test("selectTopK fills rows chunk by chunk and honours a −∞ bias (AuxK's dead-latent mask)", () => {
  const rows = 6, n = 40, k = 4;
  const { pre, bias, scratch, K } = setup(rows, n);
  pre.set(normals(rows * n, 9));
  for (let j = 0; j < n; j++) bias[j] = j % 3 === 0 ? 0.1 : -Infinity;
  const out = new SparseActs(rows, rows * k);
  selectTopK(K, scratch, pre.subarray(0, 4 * n), bias, 4, n, k, out, 0);
  selectTopK(K, scratch, pre.subarray(4 * n), bias, 2, n, k, out, 4);
  for (let b = 0; b < rows; b++) {
    const got = rowEntries(out, b);
    assert.deepEqual(got, refRow(pre, bias, b, n, k));
    for (const [j] of got) assert.equal(j % 3, 0);
  }
});

test("BatchTopK keeps exactly k·rows entries over the whole batch, breaking ties in row-major order", () => {
  const rows = 8, n = 50, k = 3;
  const { pre, bias, scratch, K } = setup(rows, n);
  pre.set(normals(rows * n, 13));
  for (let i = 0; i < rows * n; i += 7) pre[i] = 0.9; // many ties around the cut-off
  const all: [number, number][] = [];
  for (let i = 0; i < rows * n; i++) if (pre[i] > 0) all.push([i, pre[i]]);
  all.sort((x, y) => y[1] - x[1] || x[0] - y[0]);
  const want = new Set(all.slice(0, k * rows).map(([i]) => i));
  for (const floor of [0, 0.5, 5]) {
    const sel = new BatchTopKSelector(K, scratch, n);
    const out = new SparseActs(rows, 1);
    sel.begin(floor);
    sel.scan(pre.subarray(0, 5 * n), bias, 5, 0);
    sel.scan(pre.subarray(5 * n), bias, 3, 5);
    const ok = sel.finish(k * rows, out);
    if (floor === 5) {
      assert.equal(ok, false, "a floor above the cut-off asks for a rescan");
      continue;
    }
    assert.ok(ok);
    assert.equal(out.nnz, k * rows);
    const got = new Set<number>();
    for (let b = 0; b < rows; b++) for (let p = out.ptr[b]; p < out.ptr[b + 1]; p++) got.add(b * n + out.idx[p]);
    assert.deepEqual([...got].sort((a, c) => a - c), [...want].sort((a, c) => a - c));
    assert.equal(sel.lastCutoff, all[k * rows - 1][1]);
  }
});

test("BatchTopK keeps every positive entry when there are fewer than k·rows", () => {
  const rows = 4, n = 8;
  const { pre, bias, scratch, K } = setup(rows, n);
  pre.fill(-1);
  pre[3] = 2; pre[17] = 0.5; pre[30] = 1;
  const sel = new BatchTopKSelector(K, scratch, n);
  const out = new SparseActs(rows, 1);
  sel.begin(0);
  sel.scan(pre, bias, rows, 0);
  assert.ok(sel.finish(2 * rows, out));
  assert.deepEqual(Array.from(out.ptr), [0, 1, 1, 2, 3]);
  assert.deepEqual(Array.from(out.idx.subarray(0, 3)), [3, 1, 6]);
  assert.equal(sel.lastCutoff, 0.5);
});

test("selectAboveThreshold keeps entries above each latent's threshold (JumpReLU), exactly at the boundary", () => {
  const rows = 5, n = 23;
  const { arena, pre, bias, scratch, K } = setup(rows, n);
  const threshold = arena.floats(n), above = arena.floats(n);
  pre.set(normals(rows * n, 17));
  bias.set(normals(n, 18).map((v) => 0.2 * v));
  for (let j = 0; j < n; j++) {
    threshold[j] = j % 4 === 0 ? -0.5 : 0.3 + 0.05 * j;
    above[j] = Math.max(threshold[j], 0);
  }
  // Entries whose float32 pre + bias lands exactly on the threshold (never kept) and one float32 step above it (kept),
  // in the SIMD part of the row and in its scalar tail.
  for (const j of [1, 2, 21, 22]) {
    bias[j] = 0.125;
    pre[j] = Math.fround(threshold[j] - 0.125);
    pre[n + j] = pre[j];
    while (Math.fround(pre[n + j] + bias[j]) <= threshold[j]) pre[n + j] = nextUp(pre[n + j]);
  }
  const out = new SparseActs(rows, 1);
  selectAboveThreshold(K, scratch, pre, bias, above, rows, n, out, 0);
  for (let b = 0; b < rows; b++) {
    const want: [number, number][] = [];
    for (let j = 0; j < n; j++) {
      const v = Math.fround(pre[b * n + j] + bias[j]);
      if (v > threshold[j] && v > 0) want.push([j, v]);
    }
    const got: [number, number][] = [];
    for (let p = out.ptr[b]; p < out.ptr[b + 1]; p++) got.push([out.idx[p], out.val[p]]);
    assert.deepEqual(got, want, `row ${b}, in latent order`);
  }
  for (const j of [1, 2, 21, 22]) {
    assert.equal(Math.fround(pre[j] + bias[j]), threshold[j]);
    const row1 = Array.from(out.idx.subarray(out.ptr[1], out.ptr[2]));
    assert.ok(!Array.from(out.idx.subarray(out.ptr[0], out.ptr[1])).includes(j) && row1.includes(j), `latent ${j} at and above θ`);
  }
});

/** The next float32 above x (x > 0). */
function nextUp(x: number): number {
  const f = Float32Array.of(x), i = new Int32Array(f.buffer);
  i[0]++;
  return f[0];
}

test("kthLargest finds order statistics", () => {
  const vals = normals(1001, 23);
  const sorted = Array.from(vals).sort((a, b) => b - a);
  for (const k of [1, 2, 500, 1000, 1001]) assert.equal(kthLargest(vals.slice(), k), sorted[k - 1]);
  assert.equal(kthLargest(new Float32Array([2, 2, 2, 1]), 3), 2);
});

test("decode adds the active decoder rows (times their values) to the bias", () => {
  const rows = 3, n = 5, d = 7;
  const arena = new KernelArena(KernelArena.bytesFor([n * d, d, rows * d]));
  const W = arena.floats(n * d), bias = arena.floats(d), out = arena.floats(rows * d);
  W.set(normals(n * d, 29));
  bias.set(normals(d, 30));
  const acts = new SparseActs(rows, 4);
  acts.ptr.set([0, 2, 2, 4]);
  acts.idx.set([4, 1, 0, 4]);
  acts.val.set([0.5, 2, 1.5, 3]);
  decode(arena.k, acts, W, bias, out, d);
  for (let t = 0; t < d; t++) {
    assert.ok(Math.abs(out[t] - (bias[t] + 0.5 * W[4 * d + t] + 2 * W[d + t])) < 1e-6);
    assert.equal(out[d + t], bias[t]);
    assert.ok(Math.abs(out[2 * d + t] - (bias[t] + 1.5 * W[t] + 3 * W[4 * d + t])) < 1e-6);
  }
  decode(arena.k, acts, W, null, out, d);
  assert.equal(out[d], 0);
});
