// The decomposition on shards of the rows (decomposition-shards.ts, bootstrap-shards.ts) against decomposeSaeError
// on all rows: small chunks cut by every shard boundary, dropped non-finite rows, a capped test set, in-sample fits.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import { initBackend } from "../../src/backend";
import { InputError } from "../../src/errors";
import { decomposeSaeError, DecompositionResult, SaeInput } from "../../src/darkmatter";
import { bootstrapShard, evaluationFit, mergeBootstrapShards, shardRows } from "../../src/darkmatter/bootstrap-shards";
import { DecompositionOptions } from "../../src/darkmatter/decomposition";
import { decompositionShard, finishDecomposition, loadedShard, mergeDecompositionShards, ShardRange } from "../../src/darkmatter/decomposition-shards";
import { Interval } from "../../src/linalg";
import { arraySource } from "../../src/linalg";
import { Sae } from "../../src/sae";
import { normals } from "../helpers/random";

const n = 1500, d = 6, latents = 20;

function rel(a: number, b: number): number {
  return a === b ? 0 : Math.abs(a - b) / Math.max(Math.abs(a), Math.abs(b));
}

function maxRel(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let scale = 0, diff = 0;
  for (let i = 0; i < a.length; i++) { scale = Math.max(scale, Math.abs(a[i]), Math.abs(b[i])); diff = Math.max(diff, Math.abs(a[i] - b[i])); }
  return scale === 0 ? 0 : diff / scale;
}

/** Every reported number of the merged result within `tol` (relative) of the single run's. */
function assertSame(single: DecompositionResult, merged: DecompositionResult, tol = 1e-9): void {
  assert.deepEqual(merged.rows, single.rows);
  assert.deepEqual(merged.warnings, single.warnings);
  assert.deepEqual([merged.intercept, merged.d, merged.fitOn, merged.evaluatedOn], [single.intercept, single.d, single.fitOn, single.evaluatedOn]);
  assert.deepEqual(merged.bootstrap, single.bootstrap);
  for (const k of ["vectorR2", "normR2", "fvu", "fvuNonlinear"] as const) {
    assert.ok(rel(merged[k].value, single[k].value) <= tol, `${k}: ${merged[k].value} vs ${single[k].value}`);
    const [a, b] = [merged[k].interval, single[k].interval] as [Interval | null, Interval | null];
    assert.equal(a === null, b === null, `${k} interval`);
    if (a && b) for (const f of ["lo", "hi", "se", "level"] as const) assert.ok(rel(a[f], b[f]) <= tol, `${k}.${f}: ${a[f]} vs ${b[f]}`);
  }
  const e = merged.energy, s = single.energy;
  for (const k of ["saeError", "linearError", "nonlinearError"] as const) assert.ok(rel(e[k], s[k]) <= tol, `energy ${k}`);
  assert.ok(Math.abs(e.crossTerm - s.crossTerm) <= tol * s.saeError, "cross term (0 in-sample, so compared to ‖SaeError‖²)");
  assert.ok(maxRel(merged.linearMap.coefficients, single.linearMap.coefficients) <= tol, "b*");
  if (single.linearMap.intercept) assert.ok(maxRel(merged.linearMap.intercept!, single.linearMap.intercept) <= tol, "b* intercept");
  assert.ok(maxRel(merged.normProbe.coefficients, single.normProbe.coefficients) <= tol, "a*");
  assert.deepEqual([merged.linearMap.rank, merged.linearMap.dependentColumns], [single.linearMap.rank, single.linearMap.dependentColumns]);
  assert.ok(rel(merged.linearMap.conditionEstimate, single.linearMap.conditionEstimate) <= tol);
  assert.ok(maxRel(merged.errorPrediction.r2PerDim, single.errorPrediction.r2PerDim) <= tol, "r2 per dim");
}

async function setup() {
  await initBackend();
  const sae = new Sae({
    architecture: "relu", d_in: d, d_sae: latents, applyBDecToInput: false,
    weights: {
      W_enc: normals(d * latents, 1).map((v) => v / Math.sqrt(d)), W_dec: normals(latents * d, 2).map((v) => v / Math.sqrt(latents)),
      b_enc: new Float32Array(latents).fill(-0.3), b_dec: normals(d, 3).map((v) => v * 0.1),
    },
  });
  const x = normals(n * d, 4).map((v, i) => v * (i % d === 1 ? 5 : 1) + (i % d === 0 ? 40 : 0.5)); // one dim with a mean far above its spread
  return { sae, x };
}

interface Case { name: string; options: DecompositionOptions; round1: number[]; round2: number[]; nanRows?: number[] }

const CASES: Case[] = [
  { name: "fit on train, capped test set, dropped rows", options: { intercept: true, trainRows: 900, testRows: 400, seed: 7, dropNonFinite: true },
    round1: [0, 333, 334, 1000, 1500], round2: [0, 333, 1500], nanRows: [5, 333, 640, 1499] },
  { name: "in-sample without intercept", options: { intercept: false, fitOn: "all", seed: 2 }, round1: [0, 700, 1500], round2: [0, 64, 65, 1200, 1500] },
];

const ranges = (cuts: number[]): ShardRange[] => cuts.slice(1).map((end, i) => ({ start: cuts[i], end }));

for (const c of CASES) {
  test(`shards merged equal one run: ${c.name}`, async () => {
    const { sae, x } = await setup();
    try {
      for (const r of c.nanRows ?? []) x[r * d + 2] = NaN;
      const input = (): SaeInput => ({ activations: arraySource(x, d, "acts"), sae: { reconstruct: (b) => sae.forward(b, { latents: false }).reconstruction } });
      const plan = { resamples: 25, seed: 5, level: 0.9 };
      const options = { ...c.options, rowsPerChunk: 64 };
      const single = decomposeSaeError(input(), { ...options, bootstrap: plan });
      const shards = ranges(c.round1).map((r) => decompositionShard(input(), r, options));
      const merged = mergeDecompositionShards(shards.map((shard, i) => loadedShard(`shard ${i}`, shard)).reverse());
      assertSame(decomposeSaeError(input(), { ...options, bootstrap: false }), finishDecomposition(merged));
      const fit = evaluationFit(merged, shards.map(shardRows), plan);
      const boots = ranges(c.round2).map((r, i) => loadedShard(`boot ${i}`, bootstrapShard(input(), r, fit, options)));
      assertSame(single, finishDecomposition(merged, { bootstrap: { plan, sums: mergeBootstrapShards(boots, fit.id) } }));
      if (c.nanRows) {
        assert.equal(single.rows.droppedNonFinite, c.nanRows.length);
        // Dropped rows are known by count only: a bootstrap shard must start where a first-round shard did.
        assert.throws(() => bootstrapShard(input(), { start: 100, end: 1500 }, fit, options), /must start where a first-round shard started/);
      }
    } finally {
      sae.dispose();
    }
  });
}

test("precomputed reconstructions shard too; bad merges are refused", async () => {
  const { sae, x } = await setup();
  try {
    const recon = sae.forward(x, { latents: false }).reconstruction;
    const input = (): SaeInput => ({ activations: arraySource(x, d, "acts"), sae: { reconstructions: arraySource(recon, d, "recon") } });
    const options = { trainRows: 1000, seed: 1, rowsPerChunk: 100 };
    const shards = ranges([0, 250, 1251, 1500]).map((r) => decompositionShard(input(), r, options));
    assertSame(decomposeSaeError(input(), { ...options, bootstrap: false }), finishDecomposition(mergeDecompositionShards(shards.map((shard, i) => loadedShard(`s${i}`, shard)))));
    const other = decompositionShard(input(), { start: 250, end: 1251 }, { ...options, seed: 2 });
    assert.throws(() => mergeDecompositionShards([loadedShard("s0", shards[0]), loadedShard("other", other), loadedShard("s2", shards[2])]),
      (e: unknown) => e instanceof InputError && e.source === "other" && /seed 2 vs 1/.test(e.message));
    assert.throws(() => decompositionShard(input(), { start: 10, end: 10 }, options), /not a non-empty range/);
    assert.throws(() => decompositionShard(input(), { start: 0, end: 1501 }, options), /not a non-empty range/);
  } finally {
    sae.dispose();
  }
});
