// Loads the numpy reference fixtures (test/fixtures/linalg/fixtures.json, made by make_fixtures.py).
import * as fs from "fs";
import * as path from "path";

export const fixtures = JSON.parse(fs.readFileSync(path.join(__dirname, "..", "fixtures", "linalg", "fixtures.json"), "utf8"));

/** Row-major float32 copy of nested rows (the fixture values are exact float32 numbers). */
export function f32(rows: number[][]): Float32Array {
  const cols = rows[0].length;
  const out = new Float32Array(rows.length * cols);
  rows.forEach((r, i) => out.set(r, i * cols));
  return out;
}

export function flat(rows: number[][]): Float64Array {
  const cols = rows[0].length;
  const out = new Float64Array(rows.length * cols);
  rows.forEach((r, i) => out.set(r, i * cols));
  return out;
}

/** Largest |a − b| / max(|b|, floor) over the elements, floor = floorShare × max|b| (guards values near 0). */
export function maxRelError(actual: ArrayLike<number>, expected: ArrayLike<number>, floorShare = 1e-3): number {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length} vs ${expected.length}`);
  let scale = 0;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]));
  const floor = floorShare * scale;
  let worst = 0;
  for (let i = 0; i < actual.length; i++) {
    const err = Math.abs(actual[i] - expected[i]) / Math.max(Math.abs(expected[i]), floor, 1e-300);
    if (Number.isNaN(err)) return Infinity;
    worst = Math.max(worst, err);
  }
  return worst;
}
