import { test } from "node:test";
import * as assert from "node:assert/strict";
import { arrayData, mapTarget, rangeData, splitHeldOut, subsetRows } from "../../src/train/data";
import { InputError } from "../../src/errors";

const rowsOf = (n: number, d: number) => Float32Array.from({ length: n * d }, (_, i) => i);

test("arrayData reads the requested rows in order and rejects bad shapes and indices", async () => {
  const src = arrayData(rowsOf(5, 3), 3);
  assert.equal(src.rows, 5);
  const out = new Float32Array(6);
  await src.read(Int32Array.from([1, 4]), out);
  assert.deepEqual(Array.from(out), [3, 4, 5, 12, 13, 14]);
  assert.throws(() => arrayData(new Float32Array(7), 3), InputError);
  assert.throws(() => src.read(Int32Array.from([5]), out), /outside \[0, 5\)/);
});

test("rangeData turns each run of consecutive indices into one range read", async () => {
  const calls: [number, number][] = [];
  const x = rowsOf(10, 2);
  const src = rangeData(2, 10, (start, count) => {
    calls.push([start, count]);
    return x.slice(start * 2, (start + count) * 2);
  });
  const out = new Float32Array(12);
  await src.read(Int32Array.from([0, 1, 2, 5, 8, 9]), out);
  assert.deepEqual(calls, [[0, 3], [5, 1], [8, 2]]);
  assert.deepEqual(Array.from(out), [0, 1, 2, 3, 4, 5, 10, 11, 16, 17, 18, 19]);
  const bad = rangeData(2, 10, () => new Float32Array(1));
  await assert.rejects(async () => bad.read(Int32Array.from([0]), new Float32Array(2)), /returned 1 values, expected 2/);
});

test("mapTarget transforms each batch (possibly to another width) and checks the result's size", async () => {
  const src = arrayData(rowsOf(4, 2), 2, "x");
  const sums = mapTarget(src, (x, rows) => Float32Array.from({ length: rows }, (_, r) => x[2 * r] + x[2 * r + 1]), { d: 1, description: "sum" });
  assert.equal(sums.d, 1);
  const out = new Float32Array(2);
  await sums.read(Int32Array.from([0, 3]), out);
  assert.deepEqual(Array.from(out), [1, 13]);
  const asyncNeg = mapTarget(src, async (x) => x.map((v) => -v));
  const out2 = new Float32Array(2);
  await asyncNeg.read(Int32Array.from([2]), out2);
  assert.deepEqual(Array.from(out2), [-4, -5]);
  const wrong = mapTarget(src, () => new Float32Array(3));
  await assert.rejects(async () => wrong.read(Int32Array.from([0]), new Float32Array(2)), /returned 3 values/);
});

test("splitHeldOut is a seeded partition; subsetRows maps indices", async () => {
  const src = arrayData(rowsOf(50, 1), 1);
  const a = splitHeldOut(src, 10, 3), b = splitHeldOut(src, 10, 3), c = splitHeldOut(src, 10, 4);
  const all = async (s: typeof src) => {
    const out = new Float32Array(s.rows);
    await s.read(Int32Array.from({ length: s.rows }, (_, i) => i), out);
    return Array.from(out);
  };
  const held = await all(a.heldOut), train = await all(a.train);
  assert.equal(held.length, 10);
  assert.deepEqual([...held, ...train].sort((x, y) => x - y), Array.from({ length: 50 }, (_, i) => i));
  assert.deepEqual(held, [...held].sort((x, y) => x - y), "rows stay in ascending order");
  assert.deepEqual(await all(b.heldOut), held);
  assert.notDeepEqual(await all(c.heldOut), held);
  const sub = subsetRows(src, [7, 9]);
  assert.deepEqual(await all(sub), [7, 9]);
  assert.throws(() => splitHeldOut(src, 50), /heldOutRows/);
  assert.throws(() => subsetRows(src, [50]), /outside/);
});
