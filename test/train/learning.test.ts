// Real learning tests on synthetic data with known features: a TopK SAE trained with the default recipe (only a
// shorter warm-up and more epochs than the paper, for a small problem) recovers the features, and held-out FVU falls
// as the dictionary grows.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import { arrayData, splitHeldOut } from "../../src/train/data";
import { trainSae } from "../../src/train/trainer";
import { bestCosines, sparseDirections } from "./synthetic";

test("a TopK SAE recovers the ground-truth directions (cosine > 0.9 for ≥ 80% of them)", async () => {
  const d = 32;
  const data = sparseDirections({ d, nTrue: 64, rows: 16384, minActive: 3, maxActive: 5, noise: 0.02, seed: 1 });
  const { train, heldOut } = splitHeldOut(arrayData(data.x, d), 2048, 1);
  const sae = await trainSae(train, { nLatents: 128, k: 5, batchSize: 256, epochs: 12, lr: 4e-3, warmupSteps: 50 }, { heldOut });
  const cos = bestCosines(data.directions, sae.W_dec, d);
  const recovered = cos.filter((c) => c > 0.9).length;
  assert.ok(recovered >= 0.8 * cos.length, `recovered ${recovered} of ${cos.length}`);
  const log = sae.trainingLog;
  assert.ok(log.heldOut!.fvu < 0.2, `held-out FVU ${log.heldOut!.fvu}`);
  assert.equal(log.heldOut!.l0, 5);
  assert.ok(log.lossCurve[log.lossCurve.length - 1].fvu < 0.5 * log.lossCurve[0].fvu, "the training loss falls");
});

test("held-out FVU falls as the width grows at fixed k (16 → 64 → 256 latents)", async () => {
  const d = 32;
  const data = sparseDirections({ d, nTrue: 256, rows: 16384, minActive: 3, maxActive: 5, noise: 0.02, seed: 2 });
  const { train, heldOut } = splitHeldOut(arrayData(data.x, d), 2048, 2);
  const fvu: number[] = [];
  for (const nLatents of [16, 64, 256]) {
    const sae = await trainSae(train, { nLatents, k: 4, batchSize: 256, epochs: 8, warmupSteps: 50 }, { heldOut });
    fvu.push(sae.trainingLog.heldOut!.fvu);
  }
  assert.ok(fvu[1] < 0.9 * fvu[0] && fvu[2] < 0.95 * fvu[1], `held-out FVU by width: ${fvu.join(", ")}`);
});
