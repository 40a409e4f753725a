// Deterministic training of a small Llama (llama2.c layout) on a tokenised corpus: seeded initialisation, seeded batch
// order, AdamW with decoupled weight decay, linear warm-up then cosine decay, global-norm gradient clipping, periodic
// held-out evaluation, and checkpoints in a cache folder keyed by the configuration so an interrupted run resumes
// exactly where it stopped (the batch of step k depends only on (seed, k)).
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { tf } from "../backend/index";
import { InputError } from "../errors";
import { openNpy, writeFileAtomic, writeNpy } from "../io/index";
import type { Progress } from "../progress";
import { LlamaConfig, LlamaWeights, validateConfig, weightSizes } from "./checkpoint";
import { TokenizedCorpus, documentContexts, mixSeed, sampleContexts, tokenRows } from "./corpus-tokens";
import { mulberry32 } from "../linalg/random";
import { LlamaParams, disposeParams, forward, forwardTensors, paramVariables, toTrainable, toWeights } from "./model";

export interface TrainConfig {
  model: LlamaConfig;
  /** Optimiser steps and contexts per step; each context is BOS + model.seqLen − 1 corpus tokens. */
  steps: number;
  batchSize: number;
  /** Peak learning rate, reached after `warmupSteps`, then cosine decay to `minLr` at the last step. */
  lr: number;
  minLr: number;
  warmupSteps: number;
  weightDecay: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** Global L2 norm the gradient is clipped to (0 = no clipping). */
  gradClip: number;
  /** Seeds the initial weights and the batch order. */
  seed: number;
  /** Held-out evaluation every `evalEvery` steps (and at the end) on `evalContexts` fixed held-out contexts. */
  evalEvery: number;
  evalContexts: number;
  /** Checkpoint every this many steps (0 = only at the end). */
  checkpointEvery: number;
  /**
   * Contexts per forward/backward pass (gradients of the micro-batches are averaged into one step), so a wide model's
   * batch fits the wasm heap. Unset = the whole batch at once (and the config hash of earlier runs is unchanged).
   */
  microBatch?: number;
}

export const DEFAULT_MODEL: LlamaConfig = {
  dim: 128, hiddenDim: 352, nLayers: 6, nHeads: 4, nKvHeads: 4, vocabSize: 2048, seqLen: 256, sharedClassifier: true,
};

export const DEFAULT_TRAIN: TrainConfig = {
  model: DEFAULT_MODEL,
  steps: 800, batchSize: 16, lr: 2e-3, minLr: 2e-4, warmupSteps: 50, weightDecay: 0.1, beta1: 0.9, beta2: 0.95,
  eps: 1e-8, gradClip: 1, seed: 1234, evalEvery: 100, evalContexts: 64, checkpointEvery: 25,
};

export interface EvalPoint { step: number; tokensSeen: number; heldOutCE: number; trainCE: number; lr: number }

export interface TrainResult {
  weights: LlamaWeights;
  config: TrainConfig;
  /** Steps run and tokens consumed in total (all runs of a resumed training together). */
  steps: number;
  tokensSeen: number;
  /** Mean training loss of each step. */
  stepLosses: number[];
  evals: EvalPoint[];
  /** Wall seconds spent training, summed over resumed runs. */
  seconds: number;
  /** Steps this call ran (the rest came from the checkpoint). */
  stepsThisRun: number;
  parameters: number;
}

export interface TrainOptions {
  train: TokenizedCorpus;
  heldOut: TokenizedCorpus;
  /** Folder for checkpoints (a sub-folder named after the config hash, data hash included). null = none. */
  cacheDir: string | null;
  progress?: Progress;
  /** Stop after this many steps of this call (simulates an interruption; the checkpoint is written first). */
  maxStepsThisRun?: number;
  /** Called after each evaluation. */
  onEval?: (e: EvalPoint) => void;
}

/** Number of parameters of a configuration (the legacy RoPE tables are not parameters). */
export function parameterCount(c: LlamaConfig): number {
  return Object.values(weightSizes(c)).reduce((s, n) => s + n, 0);
}

function validateTrainConfig(cfg: TrainConfig): void {
  validateConfig(cfg.model, "model config");
  const ints: [string, number, number][] = [["steps", cfg.steps, 1], ["batchSize", cfg.batchSize, 1], ["warmupSteps", cfg.warmupSteps, 0],
    ["seed", cfg.seed, 0], ["evalEvery", cfg.evalEvery, 1], ["evalContexts", cfg.evalContexts, 1], ["checkpointEvery", cfg.checkpointEvery, 0]];
  for (const [name, v, min] of ints) if (!Number.isSafeInteger(v) || v < min) throw new InputError(name, `must be an integer ≥ ${min}, got ${v}`);
  if (cfg.microBatch !== undefined && !(Number.isSafeInteger(cfg.microBatch) && cfg.microBatch >= 1 && cfg.batchSize % cfg.microBatch === 0)) {
    throw new InputError("microBatch", `must be a whole divisor of batchSize ${cfg.batchSize}, got ${cfg.microBatch}`);
  }
  const pos: [string, number][] = [["lr", cfg.lr], ["eps", cfg.eps]];
  for (const [name, v] of pos) if (!(v > 0) || !Number.isFinite(v)) throw new InputError(name, `must be a positive number, got ${v}`);
  const nonneg: [string, number][] = [["minLr", cfg.minLr], ["weightDecay", cfg.weightDecay], ["gradClip", cfg.gradClip]];
  for (const [name, v] of nonneg) if (!(v >= 0) || !Number.isFinite(v)) throw new InputError(name, `must be a number ≥ 0, got ${v}`);
  for (const [name, v] of [["beta1", cfg.beta1], ["beta2", cfg.beta2]] as [string, number][]) {
    if (!(v >= 0 && v < 1)) throw new InputError(name, `must lie in [0, 1), got ${v}`);
  }
}

/** Learning rate of step k (0-based): linear warm-up to lr, then cosine to minLr at the last step. */
export function learningRate(cfg: TrainConfig, step: number): number {
  if (step < cfg.warmupSteps) return (cfg.lr * (step + 1)) / cfg.warmupSteps;
  const span = Math.max(1, cfg.steps - cfg.warmupSteps - 1);
  const t = Math.min(1, (step - cfg.warmupSteps) / span);
  return cfg.minLr + 0.5 * (cfg.lr - cfg.minLr) * (1 + Math.cos(Math.PI * t));
}

/** Standard normals from a seeded uniform stream (Box–Muller). */
function fillNormal(a: Float32Array, std: number, u: () => number): void {
  for (let i = 0; i < a.length; i += 2) {
    const r = Math.sqrt(-2 * Math.log(1 - u())), th = 2 * Math.PI * u();
    a[i] = r * Math.cos(th) * std;
    if (i + 1 < a.length) a[i + 1] = r * Math.sin(th) * std;
  }
}

/**
 * Seeded initial weights as llama2.c's train.py makes them: every matrix N(0, 0.02²), the residual-output
 * projections wo and w2 (here w3 too, as train.py does) with std 0.02/√(2·layers), RMSNorm weights 1.
 */
export function initWeights(c: LlamaConfig, seed: number): LlamaWeights {
  validateConfig(c, "model config");
  const sizes = weightSizes(c);
  const u = mulberry32(mixSeed(seed, 0x1417));
  const mat = (n: number, std: number) => { const a = new Float32Array(n); fillNormal(a, std, u); return a; };
  const small = 0.02 / Math.sqrt(2 * c.nLayers);
  return {
    config: { ...c },
    tokenEmbedding: mat(sizes.tokenEmbedding, 0.02),
    rmsAtt: new Float32Array(sizes.rmsAtt).fill(1),
    wq: mat(sizes.wq, 0.02), wk: mat(sizes.wk, 0.02), wv: mat(sizes.wv, 0.02), wo: mat(sizes.wo, small),
    rmsFfn: new Float32Array(sizes.rmsFfn).fill(1),
    w1: mat(sizes.w1, 0.02), w2: mat(sizes.w2, small), w3: mat(sizes.w3, small),
    rmsFinal: new Float32Array(sizes.rmsFinal).fill(1),
    wcls: c.sharedClassifier ? null : mat(sizes.wcls, 0.02),
  };
}

/** Mean next-token loss of a model over contexts [n, length] (every prediction after BOS counts), in batches. */
export function meanLoss(params: LlamaParams, contexts: Int32Array, length: number, batch = 16): number {
  const rows = tokenRows(contexts, length);
  let sum = 0, n = 0;
  for (let i = 0; i < rows.length; i += batch) {
    const loss = forward(params, rows.slice(i, i + batch), { loss: true }).loss!;
    for (let j = 0; j < loss.length; j++) sum += loss[j];
    n += loss.length;
  }
  return sum / n;
}

/**
 * Cross-entropy of the unigram model (token frequencies of `train`, add-one smoothed over the vocabulary) on the
 * targets of `contexts` (every token after BOS): the baseline a language model has to beat.
 */
export function unigramCE(train: TokenizedCorpus, vocabSize: number, contexts: Int32Array, length: number): number {
  const counts = new Float64Array(vocabSize).fill(1);
  for (let i = 0; i < train.tokens.length; i++) counts[train.tokens[i]]++;
  const total = counts.reduce((s, x) => s + x, 0);
  let sum = 0, n = 0;
  for (let i = 0; i < contexts.length; i++) {
    if (i % length === 0) continue;
    sum -= Math.log(counts[contexts[i]] / total);
    n++;
  }
  return sum / n;
}

/** The fixed held-out (or train) evaluation contexts of a config. */
export function evalContexts(corpus: TokenizedCorpus, cfg: TrainConfig, which: "heldout" | "train"): Int32Array {
  return documentContexts(corpus, cfg.evalContexts, cfg.model.seqLen, mixSeed(cfg.seed, which === "heldout" ? 0xe7a1 : 0x7a1e)).tokens;
}

/** Cache key: the training config and the exact token data. */
export function trainKey(cfg: TrainConfig, train: TokenizedCorpus, heldOut: TokenizedCorpus): string {
  const h = createHash("sha256").update(JSON.stringify(cfg));
  for (const t of [train, heldOut]) h.update(new Uint8Array(t.tokens.buffer, t.tokens.byteOffset, t.tokens.byteLength)).update(new Uint8Array(t.offsets.buffer, t.offsets.byteOffset, t.offsets.byteLength));
  return h.digest("hex").slice(0, 20);
}

interface SavedState {
  step: number;
  file: string;
  stepLosses: number[];
  evals: EvalPoint[];
  seconds: number;
}

/** Parameters, Adam moments m and v, flattened in paramVariables order: [3, P]. */
function saveCheckpoint(dir: string, vars: tf.Variable[], m: tf.Tensor[], v: tf.Tensor[], state: Omit<SavedState, "file">): void {
  const P = vars.reduce((s, x) => s + x.size, 0);
  const all = new Float32Array(3 * P);
  let o = 0;
  for (const group of [vars, m, v]) for (const t of group) { all.set(t.dataSync() as Float32Array, o); o += t.size; }
  const file = `state-${String(state.step).padStart(7, "0")}.npy`;
  writeNpy(path.join(dir, file), { dtype: "float32", shape: [3, P], data: all });
  writeFileAtomic(path.join(dir, "state.json"), JSON.stringify({ ...state, file }) + "\n");
  for (const f of fs.readdirSync(dir)) if (/^state-\d+\.npy$/.test(f) && f !== file) fs.rmSync(path.join(dir, f), { force: true });
}

function loadCheckpoint(dir: string, vars: tf.Variable[], m: tf.Variable[], v: tf.Variable[]): SavedState | null {
  const stateFile = path.join(dir, "state.json");
  if (!fs.existsSync(stateFile)) return null;
  let state: SavedState;
  try {
    state = JSON.parse(fs.readFileSync(stateFile, "utf8")) as SavedState;
  } catch (err) {
    throw new InputError(stateFile, `is not valid JSON (${(err as Error).message}); delete ${dir} to restart training`);
  }
  if (!Number.isSafeInteger(state.step) || typeof state.file !== "string" || !/^state-\d+\.npy$/.test(state.file) ||
      !Array.isArray(state.stepLosses) || !Array.isArray(state.evals)) {
    throw new InputError(stateFile, `is not a training checkpoint state; delete ${dir} to restart training`);
  }
  const P = vars.reduce((s, x) => s + x.size, 0);
  const f = openNpy(path.join(dir, state.file));
  try {
    const e = f.entries[0];
    if (e.dtype !== "float32" || e.shape.length !== 2 || e.shape[0] !== 3 || e.shape[1] !== P) {
      throw new InputError(f.path, `holds ${e.dtype} [${e.shape}], expected float32 [3, ${P}]`);
    }
    const all = f.readFloat32("");
    let o = 0;
    for (const group of [vars, m, v]) for (const t of group) { t.assign(tf.tensor(all.subarray(o, o + t.size), t.shape)); o += t.size; }
  } finally {
    f.close();
  }
  return state;
}

/**
 * Mean loss over `batch` and its gradient for each variable, computed `micro` contexts at a time (equal-sized parts,
 * so the mean of their means is the batch mean). Call inside tf.tidy.
 */
function batchGradients(params: LlamaParams, vars: tf.Variable[], batch: Int32Array[], micro: number): { value: tf.Scalar; g: tf.Tensor[] } {
  const parts = batch.length / micro;
  let value: tf.Scalar | null = null;
  let g: tf.Tensor[] = [];
  for (let i = 0; i < batch.length; i += micro) {
    const r = tf.variableGrads(() => tf.mean(forwardTensors(params, batch.slice(i, i + micro)).loss!) as tf.Scalar, vars);
    const gi = vars.map((x) => r.grads[x.name]);
    // Keep only the running sums: each part's activations are freed before the next part runs.
    const next: { value: tf.Scalar; g: tf.Tensor[] } = value === null ? { value: r.value, g: gi }
      : { value: tf.add(value, r.value) as tf.Scalar, g: g.map((t, j) => tf.add(t, gi[j])) };
    if (value !== null) tf.dispose([value, ...g, r.value, ...gi]);
    value = next.value;
    g = next.g;
  }
  return parts === 1 ? { value: value!, g } : { value: tf.div(value!, parts) as tf.Scalar, g: g.map((t) => tf.div(t, parts)) };
}

/**
 * Trains (or resumes) a model. Deterministic: the same config and data give bit-identical weights on the same
 * backend, whether or not the run was interrupted and resumed.
 */
export function trainLanguageModel(cfg: TrainConfig, options: TrainOptions): TrainResult {
  validateTrainConfig(cfg);
  const { train, heldOut, progress } = options;
  const T = cfg.model.seqLen;
  const heldOutContexts = evalContexts(heldOut, cfg, "heldout");
  const trainContexts = evalContexts(train, cfg, "train");
  const dir = options.cacheDir ? path.join(options.cacheDir, trainKey(cfg, train, heldOut)) : null;
  if (dir) fs.mkdirSync(dir, { recursive: true });

  const params = toTrainable(initWeights(cfg.model, cfg.seed));
  const vars = paramVariables(params);
  const m = vars.map((x) => tf.variable(tf.zerosLike(x), false));
  const v = vars.map((x) => tf.variable(tf.zerosLike(x), false));
  const decays = vars.map((x) => x.rank >= 2); // matrices decay, RMSNorm gains do not
  let state: Omit<SavedState, "file"> = { step: 0, stepLosses: [], evals: [], seconds: 0 };
  const restored = dir ? loadCheckpoint(dir, vars, m, v) : null;
  if (restored) state = { step: restored.step, stepLosses: restored.stepLosses, evals: restored.evals, seconds: restored.seconds };

  const evaluate = (step: number) => {
    const e: EvalPoint = { step, tokensSeen: step * cfg.batchSize * (T - 1), heldOutCE: meanLoss(params, heldOutContexts, T),
      trainCE: meanLoss(params, trainContexts, T), lr: step > 0 ? learningRate(cfg, step - 1) : 0 };
    state.evals.push(e);
    options.onEval?.(e);
  };
  const checkpoint = () => { if (dir) saveCheckpoint(dir, vars, m, v, state); };

  const startStep = state.step;
  let t0 = Date.now();
  let ranThisCall = 0;
  if (state.step === 0 && state.evals.length === 0) evaluate(0);
  while (state.step < cfg.steps) {
    if (options.maxStepsThisRun !== undefined && ranThisCall >= options.maxStepsThisRun) break;
    const k = state.step;
    const batch = tokenRows(sampleContexts(train, cfg.batchSize, T, cfg.seed, k), T);
    const lr = learningRate(cfg, k);
    const loss = tf.tidy(() => {
      const { value, g } = batchGradients(params, vars, batch, cfg.microBatch ?? batch.length);
      let scale: tf.Scalar = tf.scalar(1);
      if (cfg.gradClip > 0) {
        const norm = tf.sqrt(tf.addN(g.map((t) => tf.sum(tf.square(t))))) as tf.Scalar;
        scale = tf.minimum(1, tf.div(cfg.gradClip, tf.add(norm, 1e-6))) as tf.Scalar;
      }
      const bc1 = 1 - Math.pow(cfg.beta1, k + 1), bc2 = 1 - Math.pow(cfg.beta2, k + 1);
      vars.forEach((x, i) => {
        const gi = tf.mul(g[i], scale);
        const mi = tf.add(tf.mul(m[i], cfg.beta1), tf.mul(gi, 1 - cfg.beta1));
        const vi = tf.add(tf.mul(v[i], cfg.beta2), tf.mul(tf.square(gi), 1 - cfg.beta2));
        m[i].assign(mi);
        v[i].assign(vi);
        const update = tf.div(tf.div(mi, bc1), tf.add(tf.sqrt(tf.div(vi, bc2)), cfg.eps));
        const decayed = decays[i] && cfg.weightDecay > 0 ? tf.mul(x, 1 - lr * cfg.weightDecay) : x;
        x.assign(tf.sub(decayed, tf.mul(update, lr)));
      });
      return value.dataSync()[0];
    });
    if (!Number.isFinite(loss)) throw new Error(`training diverged at step ${k} (loss ${loss}); lower the learning rate`);
    state.stepLosses.push(loss);
    state.step = k + 1;
    ranThisCall++;
    progress?.(state.step, cfg.steps, `training (loss ${loss.toFixed(3)})`);
    const now = Date.now();
    state.seconds += (now - t0) / 1000;
    t0 = now;
    if (state.step % cfg.evalEvery === 0 || state.step === cfg.steps) evaluate(state.step);
    if ((cfg.checkpointEvery > 0 && state.step % cfg.checkpointEvery === 0) || state.step === cfg.steps) checkpoint();
    t0 = Date.now(); // evaluation and checkpoints are not training time
  }
  if (state.step < cfg.steps) checkpoint();
  const weights = toWeights(params);
  disposeParams(params);
  tf.dispose([...m, ...v]);
  return {
    weights, config: cfg, steps: state.step, tokensSeen: state.step * cfg.batchSize * (T - 1), stepLosses: state.stepLosses,
    evals: state.evals, seconds: state.seconds, stepsThisRun: state.step - startStep, parameters: parameterCount(cfg.model),
  };
}
