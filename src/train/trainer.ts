// Training a TopK (or BatchTopK) SAE with the recipe of the paper's §3.8 (EleutherAI sparsify): geometric-median
// b_dec, encoder = decoderᵀ at init, FVU loss, unit-norm decoder rows with the parallel gradient removed, Adam with
// lr = 2e-4/√(n/2^14), linear warm-up then linear decay to 0, gradient-norm clipping at 1, optional AuxK.
import { InputError } from "../errors";
import { formatNumber, withSummary } from "../inspect";
import { backendInfo, initBackend } from "../backend/index";
import { silentProgress, Progress } from "../progress";
import { batchPlan } from "./batches";
import type { TrainingData } from "./data";
import { DeadLatentTracker } from "./dead-latents";
import { encoderProduct, encoderProductPath } from "./dense";
import { EvalResult, SaeWeights, evaluateSae } from "./evaluate";
import { geometricMedian } from "./geometric-median";
import { trainJumpRelu } from "./jumprelu";
import type { TrainConfig, ResolvedTrainConfig, LossSample, TrainingLog, TrainedSae, SaeTrainerConfig, TrainOptions, JumpReluConfig, ResolvedJumpReluConfig } from "./types";
export type { TrainConfig, ResolvedTrainConfig, LossSample, TrainingLog, TrainedSae, SaeTrainerConfig, TrainOptions } from "./types";
import { SaeTrainingState } from "./sae-state";
import { defaultLearningRate, effectiveWarmup, learningRateAt } from "./schedule";


export const DEFAULT_TRAIN_CONFIG: Omit<TrainConfig, "nLatents"> = {
  k: 32, architecture: "topk", batchSize: 4096, epochs: 1,
  warmupSteps: 1000, maxWarmupFraction: 0.1,
  adamBeta1: 0.9, adamBeta2: 0.999, adamEps: 1e-8, gradClip: 1,
  auxkCoef: 0, deadWindowTokens: 10_000_000,
  medianMaxIter: 100, medianTol: 1e-5,
  thresholdBeta: 0.999, shuffle: true, seed: 0,
};

const OPTIONAL_KEYS = ["nLatents", "steps", "lr", "kAux", "medianSampleRows", "thresholdStartStep", "logEvery"];

/** Every setting as used, with defaults filled in. */
function positiveInt(name: string, v: number, min = 1): void {
  if (!Number.isInteger(v) || v < min) throw new InputError(`trainSae config.${name}`, `must be an integer ≥ ${min}, got ${v}`);
}
function inRange(name: string, v: number, lo: number, hi: number, openLo = false, openHi = false): void {
  const ok = (openLo ? v > lo : v >= lo) && (openHi ? v < hi : v <= hi);
  if (!(typeof v === "number" && ok)) throw new InputError(`trainSae config.${name}`, `must be in ${openLo ? "(" : "["}${lo}, ${hi}${openHi ? ")" : "]"}, got ${v}`);
}

/** Fills in defaults and validates every setting against the data (throws InputError naming the setting). */
export function resolveTrainConfig(config: Partial<TrainConfig> & { nLatents: number }, data: { d: number; rows: number }): ResolvedTrainConfig {
  const known = new Set([...Object.keys(DEFAULT_TRAIN_CONFIG), ...OPTIONAL_KEYS]);
  for (const key of Object.keys(config)) {
    if (!known.has(key)) throw new InputError(`trainSae config.${key}`, `is not a setting (known: ${[...known].sort().join(", ")})`);
  }
  const given = Object.fromEntries(Object.entries(config).filter(([, v]) => v !== undefined));
  const c = { ...DEFAULT_TRAIN_CONFIG, ...given } as TrainConfig;
  positiveInt("nLatents", c.nLatents);
  positiveInt("k", c.k);
  if (c.k > c.nLatents) throw new InputError("trainSae config.k", `k = ${c.k} exceeds nLatents = ${c.nLatents}`);
  if (c.architecture !== "topk" && c.architecture !== "batchtopk") throw new InputError("trainSae config.architecture", `must be "topk" or "batchtopk", got ${String(c.architecture)}`);
  positiveInt("batchSize", c.batchSize);
  if (data.rows < c.batchSize) throw new InputError("trainSae config.batchSize", `${c.batchSize} is more than the ${data.rows} training rows`);
  if (c.batchSize * c.nLatents >= 2 ** 31) throw new InputError("trainSae config.batchSize", `batchSize × nLatents must stay below 2^31`);
  positiveInt("epochs", c.epochs);
  const stepsPerEpoch = Math.floor(data.rows / c.batchSize);
  const steps = c.steps ?? c.epochs * stepsPerEpoch;
  positiveInt("steps", steps);
  const lr = c.lr ?? defaultLearningRate(c.nLatents);
  inRange("lr", lr, 0, Infinity, true, true);
  positiveInt("warmupSteps", c.warmupSteps, 0);
  inRange("maxWarmupFraction", c.maxWarmupFraction, 0, 1);
  inRange("adamBeta1", c.adamBeta1, 0, 1, false, true);
  inRange("adamBeta2", c.adamBeta2, 0, 1, false, true);
  inRange("adamEps", c.adamEps, 0, Infinity, true, true);
  inRange("gradClip", c.gradClip, 0, Infinity, true, false);
  inRange("auxkCoef", c.auxkCoef, 0, Infinity, false, true);
  const kAux = c.kAux ?? Math.max(1, Math.floor(data.d / 2));
  positiveInt("kAux", kAux);
  positiveInt("deadWindowTokens", c.deadWindowTokens);
  const medianSampleRows = c.medianSampleRows ?? c.batchSize;
  positiveInt("medianSampleRows", medianSampleRows);
  if (medianSampleRows > c.batchSize) throw new InputError("trainSae config.medianSampleRows", `must be ≤ batchSize = ${c.batchSize}, got ${medianSampleRows}`);
  positiveInt("medianMaxIter", c.medianMaxIter, 0);
  inRange("medianTol", c.medianTol, 0, Infinity, false, true);
  inRange("thresholdBeta", c.thresholdBeta, 0, 1, false, true);
  const warmupStepsUsed = effectiveWarmup(steps, c.warmupSteps, c.maxWarmupFraction);
  const thresholdStartStep = c.thresholdStartStep ?? warmupStepsUsed;
  positiveInt("thresholdStartStep", thresholdStartStep, 0);
  if (!Number.isInteger(c.seed)) throw new InputError("trainSae config.seed", `must be an integer, got ${c.seed}`);
  const logEvery = c.logEvery ?? Math.max(1, Math.floor(steps / 200));
  positiveInt("logEvery", logEvery);
  return {
    ...c, steps, lr, kAux, medianSampleRows, thresholdStartStep, logEvery, warmupStepsUsed,
  } as ResolvedTrainConfig;
}

/**
 * Trains an SAE on `data`. Deterministic: the same data, config and backend give bit-identical weights.
 * Reports progress, yields to the event loop a few times a second (so notebook outputs update), and returns the
 * weights in the canonical layout with a training log. `architecture: "jumprelu"` trains a JumpReLU SAE at the
 * target L0 `k` (src/train/jumprelu.ts); otherwise TopK or BatchTopK with this file's recipe.
 */
export async function trainSae(data: TrainingData, config: SaeTrainerConfig, options: TrainOptions = {}): Promise<TrainedSae> {
  const trained = config.architecture === "jumprelu"
    ? await trainJumpRelu(data, config as Partial<JumpReluConfig> & { nLatents: number }, options)
    : await trainTopK(data, config as Partial<TrainConfig> & { nLatents: number }, options);
  return withSummary(trained, trainedSummary);
}

/** The printed form of a trained SAE (a cell's last value): what was trained and how it ended, not the weights. */
export function trainedSummary(t: TrainedSae): string[] {
  const log = t.trainingLog, last = log.lossCurve[log.lossCurve.length - 1];
  const lines = [`TrainedSae ${t.architecture} ${t.d_in} → ${t.d_sae} (k ${t.k}) on ${log.data}: ${log.steps} steps, ${log.tokensSeen} tokens, ` +
    `dead ${formatNumber(100 * log.finalDeadFraction, 3)} %`];
  if (last) lines.push(`  last step: fvu ${formatNumber(last.fvu, 3)}, L0 ${formatNumber(last.l0, 3)}`);
  if (log.heldOut) lines.push(`  held out (${log.heldOut.rows} rows): fvu ${formatNumber(log.heldOut.fvu, 3)}, L0 ${formatNumber(log.heldOut.l0, 3)}`);
  lines.push("  dm.train.toSae(trained) gives the Sae; .trainingLog has the loss curve");
  return lines;
}

async function trainTopK(data: TrainingData, config: Partial<TrainConfig> & { nLatents: number }, options: TrainOptions): Promise<TrainedSae> {
  const started = Date.now();
  const cfg = resolveTrainConfig(config, data);
  const progress = options.progress ?? silentProgress;
  if (options.heldOut && options.heldOut.d !== data.d) {
    throw new InputError("trainSae heldOut", `held-out rows are ${options.heldOut.d} wide, training rows ${data.d}`);
  }
  await initBackend();
  const d = data.d, n = cfg.nLatents, B = cfg.batchSize;
  const state = new SaeTrainingState({
    d, nLatents: n, k: cfg.k, batchSize: B, architecture: cfg.architecture, auxkCoef: cfg.auxkCoef, kAux: cfg.kAux,
    adamBeta1: cfg.adamBeta1, adamBeta2: cfg.adamBeta2, adamEps: cfg.adamEps, gradClip: cfg.gradClip,
  }, encoderProduct());
  const plan = batchPlan(data.rows, B, cfg.shuffle, cfg.seed);

  // b_dec starts at the geometric median of (a sample of) the first batch.
  const first = plan(0);
  const sampleIdx = first.subarray(0, cfg.medianSampleRows);
  const sample = new Float32Array(sampleIdx.length * d);
  await data.read(sampleIdx, sample);
  const gm = geometricMedian(sample, sampleIdx.length, d, { maxIter: cfg.medianMaxIter, tol: cfg.medianTol });
  state.initialise(gm.median, cfg.seed);

  const dead = new DeadLatentTracker(n, cfg.deadWindowTokens);
  const lossCurve: LossSample[] = [];
  let threshold = -1;
  let lastYield = Date.now();
  for (let step = 0; step < cfg.steps; step++) {
    await data.read(step === 0 ? first : plan(step), state.x);
    const stats = state.forwardBackward(dead);
    const lr = learningRateAt(step, cfg.lr, cfg.warmupStepsUsed, cfg.steps);
    const upd = state.update(lr);
    dead.update(state.acts, B);
    if (cfg.architecture === "batchtopk" && step >= cfg.thresholdStartStep) {
      const cut = state.lastCutoff;
      threshold = threshold < 0 ? cut : cfg.thresholdBeta * threshold + (1 - cfg.thresholdBeta) * cut;
    }
    if (step % cfg.logEvery === 0 || step === cfg.steps - 1) {
      lossCurve.push({ step, tokens: (step + 1) * B, fvu: stats.fvu, auxk: stats.auxk, l0: stats.l0, lr, gradNorm: upd.gradNorm, deadFraction: dead.deadFraction() });
    }
    progress(step + 1, cfg.steps, `train SAE (n=${n}, k=${cfg.k}) fvu ${stats.fvu.toFixed(4)}`);
    if (Date.now() - lastYield > 200) {
      await new Promise((resolve) => setImmediate(resolve));
      lastYield = Date.now();
    }
  }
  if (cfg.architecture === "batchtopk" && threshold < 0) threshold = state.lastCutoff;

  const w = state.weights();
  const weights: SaeWeights = cfg.architecture === "topk"
    ? { architecture: "topk", k: cfg.k, d_in: d, d_sae: n, apply_b_dec_to_input: true, ...w }
    : { architecture: "jumprelu", k: cfg.k, d_in: d, d_sae: n, apply_b_dec_to_input: true, ...w, threshold: new Float32Array(n).fill(threshold) };
  const heldOut = options.heldOut ? await evaluateSae(weights, options.heldOut) : undefined;
  const trainingLog: TrainingLog = {
    steps: cfg.steps, tokensSeen: cfg.steps * B, lossCurve,
    finalDeadFraction: dead.deadFraction(), deadWindowTokens: cfg.deadWindowTokens,
    ...(cfg.architecture === "batchtopk" ? { threshold } : {}),
    geometricMedian: { sampleRows: sampleIdx.length, iterations: gm.iterations, converged: gm.converged },
    ...(heldOut ? { heldOut } : {}),
    wallTimeS: (Date.now() - started) / 1000,
    backend: backendInfo().name, encoderProduct: encoderProductPath(), data: data.description, config: cfg,
  };
  return { ...weights, trainingLog };
}
