import { test } from "node:test";
import * as assert from "node:assert/strict";
import { InputError } from "../../src/errors";
import { arraySource, collectRows, generatedSource, mapSource, nestedArraySource, readChunks, zipChunks } from "../../src/linalg";

test("readChunks re-chunks ragged sources into exact chunks, keeping every value", () => {
  const cols = 2, rows = 11;
  const data = Float32Array.from({ length: rows * cols }, (_, i) => i);
  const ragged = generatedSource(rows, cols, function* () {
    yield data.subarray(0, 2); yield Float64Array.from(data.subarray(2, 10)); yield data.subarray(10, 22);
  }, "ragged");
  const seen = [...readChunks(ragged, 3)].map((c) => ({ start: c.start, rows: c.rows, values: Array.from(c.data) }));
  assert.deepEqual(seen.map((c) => [c.start, c.rows]), [[0, 3], [3, 3], [6, 3], [9, 2]]);
  assert.deepEqual(seen.flatMap((c) => c.values), Array.from(data));
  assert.deepEqual(Array.from(collectRows(ragged, 4)), Array.from(data));
});

test("zipChunks keeps sources in lockstep and rejects different row counts", () => {
  const a = arraySource(Float32Array.from([1, 2, 3, 4, 5, 6]), 2, "a"), b = arraySource(Float32Array.from([7, 8, 9]), 1, "b");
  const steps = [...zipChunks([a, b], 2)].map((s) => [s.start, s.rows, Array.from(s.data[0]), Array.from(s.data[1])]);
  assert.deepEqual(steps, [[0, 2, [1, 2, 3, 4], [7, 8]], [2, 1, [5, 6], [9]]]);
  assert.throws(() => [...zipChunks([a, arraySource(Float32Array.from([1, 2]), 1, "c")], 2)], /c: has 2 rows but a has 3/);
});

test("nested arrays and mapped sources", () => {
  const src = nestedArraySource([[1, 2], [3, 4], [5, 6]], "rows");
  assert.deepEqual([src.rows, src.cols], [3, 2]);
  const sums = mapSource(src, 1, (c, k) => Float64Array.from({ length: k }, (_, t) => c[2 * t] + c[2 * t + 1]), "sums");
  assert.deepEqual(Array.from(collectRows(sums, 2)), [3, 7, 11]);
  assert.throws(() => nestedArraySource([[1, 2], [3]], "rows"), (e: unknown) => e instanceof InputError && /row 1 has 1 values/.test(e.message));
  const bad = mapSource(src, 2, (c) => c.subarray(0, 1), "bad");
  assert.throws(() => collectRows(bad), /bad: mapping returned 1 values for 3 rows of 2/);
  assert.throws(() => arraySource(new Float32Array(5), 2, "odd"), /odd: length 5 is not a multiple of 2/);
  assert.throws(() => generatedSource(-1, 2, () => []), InputError);
});
