import { test } from "node:test";
import * as assert from "node:assert/strict";
import { initBackend, tf } from "../../src/backend";
import { arrayData, splitHeldOut } from "../../src/train/data";
import { DeadLatentTracker } from "../../src/train/dead-latents";
import { encoderProduct } from "../../src/train/dense";
import { SaeTrainingState } from "../../src/train/sae-state";
import { TrainConfig, resolveTrainConfig, trainSae } from "../../src/train/trainer";
import { normals } from "../helpers/random";
import { sparseDirections } from "./synthetic";

const d = 16;
const small = sparseDirections({ d, nTrue: 40, rows: 4096, minActive: 2, maxActive: 4, noise: 0.02, seed: 7 });
const CONFIG: Partial<TrainConfig> & { nLatents: number } = { nLatents: 64, k: 4, batchSize: 128, epochs: 3, warmupSteps: 10 };

test("training is deterministic: same seed and data give bit-identical weights; another seed does not", async () => {
  const data = arrayData(small.x, d);
  const a = await trainSae(data, CONFIG), b = await trainSae(data, CONFIG), c = await trainSae(data, { ...CONFIG, seed: 1 });
  for (const name of ["W_enc", "b_enc", "W_dec", "b_dec"] as const) {
    assert.deepEqual(Buffer.from(a[name].buffer), Buffer.from(b[name].buffer), `${name} identical`);
  }
  assert.deepEqual(a.trainingLog.lossCurve, b.trainingLog.lossCurve);
  assert.notDeepEqual(Buffer.from(a.W_dec.buffer), Buffer.from(c.W_dec.buffer));
});

test("the result has the canonical layout and a training log", async () => {
  const { train, heldOut } = splitHeldOut(arrayData(small.x, d), 512, 3);
  const sae = await trainSae(train, CONFIG, { heldOut });
  assert.equal(sae.architecture, "topk");
  assert.equal(sae.d_in, d);
  assert.equal(sae.d_sae, 64);
  assert.equal(sae.apply_b_dec_to_input, true);
  assert.equal(sae.W_enc.length, d * 64);
  assert.equal(sae.W_dec.length, 64 * d);
  assert.equal(sae.threshold, undefined);
  for (let j = 0; j < 64; j++) {
    let s = 0;
    for (let t = 0; t < d; t++) s += sae.W_dec[j * d + t] ** 2;
    assert.ok(Math.abs(Math.sqrt(s) - 1) < 1e-5, "decoder rows are unit-norm");
  }
  const log = sae.trainingLog;
  const steps = 3 * Math.floor(3584 / 128);
  assert.equal(log.steps, steps);
  assert.equal(log.tokensSeen, steps * 128);
  assert.equal(log.lossCurve[log.lossCurve.length - 1].step, steps - 1);
  assert.equal(log.config.warmupStepsUsed, 8, "warm-up capped at 10% of 84 steps");
  assert.ok(Math.abs(log.config.lr - 2e-4 / Math.sqrt(64 / 16384)) < 1e-12);
  assert.equal(log.deadWindowTokens, 10_000_000);
  assert.equal(log.finalDeadFraction, 0, "nothing can be dead before a 10M-token window has passed");
  assert.ok(log.geometricMedian.converged);
  assert.equal(log.geometricMedian.sampleRows, 128);
  assert.equal(log.heldOut!.rows, 512);
  assert.ok(log.wallTimeS >= 0 && log.backend.length > 0);
});

test("b_dec starts at the geometric median of the first batch", async () => {
  // One step at a negligible learning rate: Adam moves each coordinate by about lr.
  const data = arrayData(small.x, d);
  const sae = await trainSae(data, { ...CONFIG, steps: 1, lr: 1e-9, shuffle: false });
  const { geometricMedian } = await import("../../src/train/geometric-median");
  const gm = geometricMedian(small.x.subarray(0, 128 * d), 128, d);
  for (let t = 0; t < d; t++) assert.ok(Math.abs(sae.b_dec[t] - gm.median[t]) < 1e-6);
});

test("BatchTopK keeps k per token on average and exports a JumpReLU whose threshold gives about k on held-out rows", async () => {
  const { train, heldOut } = splitHeldOut(arrayData(small.x, d), 512, 4);
  const sae = await trainSae(train, { ...CONFIG, architecture: "batchtopk", epochs: 6, thresholdBeta: 0.9 }, { heldOut });
  assert.equal(sae.architecture, "jumprelu");
  const theta = sae.trainingLog.threshold!;
  assert.ok(theta > 0);
  assert.ok(sae.threshold!.every((v) => v === Math.fround(theta)));
  for (const s of sae.trainingLog.lossCurve) assert.equal(s.l0, 4, "exactly k·batch activations per batch");
  const l0 = sae.trainingLog.heldOut!.l0;
  assert.ok(l0 > 0.6 * 4 && l0 < 1.5 * 4, `JumpReLU held-out L0 ${l0}`);
});

test("AuxK revives latents that cannot win the top-k (with it, dead latents learn the unexplained features)", async () => {
  await initBackend();
  const dd = 16, nTrue = 32, n = 32, B = 256, k = 2;
  const data = sparseDirections({ d: dd, nTrue, rows: B * 400, minActive: 1, maxActive: 2, noise: 0.01, seed: 9 });
  const deadAtEnd: number[] = [];
  for (const auxkCoef of [0, 1 / 32]) {
    const s = new SaeTrainingState({ d: dd, nLatents: n, k, batchSize: B, architecture: "topk", auxkCoef, kAux: 8,
      adamBeta1: 0.9, adamBeta2: 0.999, adamEps: 1e-8, gradClip: 1 }, encoderProduct());
    // Latents 0–15 sit on features 0–15; latents 16–31 point at random and start with b_enc = −1.5, so they never
    // make the top-k and features 16–31 stay in the residual.
    const r = normals(n * dd, 3);
    for (let j = 0; j < n; j++) {
      const src = j < 16 ? data.directions.subarray(j * dd, j * dd + dd) : r.subarray(j * dd, j * dd + dd);
      const norm = Math.hypot(...src);
      for (let t = 0; t < dd; t++) s.params.Wdec[j * dd + t] = src[t] / norm;
      if (j >= 16) s.params.benc[j] = -1.5;
    }
    s.params.WencT.set(s.params.Wdec);
    const dead = new DeadLatentTracker(n, 2 * B);
    for (let step = 0; step < 400; step++) {
      s.x.set(data.x.subarray(step * B * dd, (step + 1) * B * dd));
      s.forwardBackward(dead);
      s.update(3e-3);
      dead.update(s.acts, B);
    }
    deadAtEnd.push(dead.deadCount());
  }
  assert.equal(deadAtEnd[0], 16, "without AuxK the 16 latents stay dead");
  assert.ok(deadAtEnd[1] <= 13, `with AuxK some revive (dead at the end: ${deadAtEnd[1]})`);
});

test("bad settings are InputErrors that name the setting", () => {
  const shape = { d: 8, rows: 100 };
  assert.throws(() => resolveTrainConfig({ nLatents: 16, k: 17 }, shape), /config\.k.*exceeds nLatents/);
  assert.throws(() => resolveTrainConfig({ nLatents: 16, k: 4, batchSize: 101 }, shape), /config\.batchSize.*100 training rows/);
  assert.throws(() => resolveTrainConfig({ nLatents: 16, k: 4, batchSize: 10, lr: -1 }, shape), /config\.lr/);
  assert.throws(() => resolveTrainConfig({ nLatents: 16, k: 4, batchSize: 10, adamBeta2: 1 }, shape), /config\.adamBeta2/);
  assert.throws(() => resolveTrainConfig({ nLatents: 16, k: 4, batchSize: 10, architecture: "gated" as never }, shape), /architecture/);
  assert.throws(() => resolveTrainConfig({ nLatents: 16, k: 4, batchSize: 10, learningRate: 1 } as never, shape), /config\.learningRate.*is not a setting/);
  assert.throws(() => resolveTrainConfig({ nLatents: 0 }, shape), /config\.nLatents/);
  const c = resolveTrainConfig({ nLatents: 16, k: 4, batchSize: 10, steps: undefined }, shape);
  assert.equal(c.steps, 10);
  assert.equal(c.kAux, 4);
});

// Last: switches the backend to plain wasm, where the encoder product goes through tfjs tensors.
test("no tfjs tensors leak over many steps on a tfjs-backed encoder product", async () => {
  await initBackend("wasm");
  const data = arrayData(small.x, d);
  const counts: number[] = [];
  const before = tf.memory().numTensors;
  await trainSae(data, { ...CONFIG, batchSize: 64, epochs: 4 }, { progress: () => { counts.push(tf.memory().numTensors); } });
  assert.equal(counts.length, 4 * 64);
  assert.ok(counts.every((c) => c === before), `tensor counts ${Math.min(...counts)}…${Math.max(...counts)} vs ${before}`);
  assert.equal(tf.memory().numTensors, before);
});
