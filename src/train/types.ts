// The trainers' shared types (settings, logs, results), below both trainers so neither imports the other's module.
import type { Progress } from "../progress";
import type { TrainingData } from "./data";
import type { EvalResult, SaeWeights } from "./evaluate";

export interface TrainConfig {
  /** Number of latents (d_sae). Required. */
  nLatents: number;
  /** Active latents per token (TopK) or per token on average (BatchTopK). Paper: 32. */
  k: number;
  /** "topk": per-token top-k. "batchtopk": top k·batch over the batch, exported as jumprelu with a learned threshold. */
  architecture: "topk" | "batchtopk";
  /** Tokens per step. (Paper: 8 sequences × 824 positions = 6,592.) */
  batchSize: number;
  /** Passes over the training rows; used when `steps` is not given. */
  epochs: number;
  /** Optimiser steps (default: epochs · ⌊rows / batchSize⌋). */
  steps?: number;
  /** Peak learning rate (default: 2e-4 / √(nLatents / 2^14)). */
  lr?: number;
  /** Warm-up steps (paper: 1000) … */
  warmupSteps: number;
  /** … but at most this fraction of all steps. */
  maxWarmupFraction: number;
  adamBeta1: number;
  adamBeta2: number;
  adamEps: number;
  /** Global gradient-norm clip (paper: 1; Infinity turns it off). */
  gradClip: number;
  /** AuxK loss weight: the paper's fork uses 0 (off); upstream sparsify's default is 1/32. */
  auxkCoef: number;
  /** Dead latents per token in AuxK (default ⌊d/2⌋). */
  kAux?: number;
  /** A latent is dead when it has not fired in this many training tokens (sparsify: 10M). */
  deadWindowTokens: number;
  /** Rows of the first batch used for the geometric median of b_dec (default: the whole first batch). */
  medianSampleRows?: number;
  medianMaxIter: number;
  medianTol: number;
  /** BatchTopK: the threshold θ ← β·θ + (1 − β)·(smallest kept activation) … */
  thresholdBeta: number;
  /** … updated from this step on (default: after warm-up). */
  thresholdStartStep?: number;
  /** Visit rows in a seeded random order each epoch (false: consecutive ranges, friendlier to files). */
  shuffle: boolean;
  /** Seeds the initial weights and the row order, so a run is reproducible. */
  seed: number;
  /** Record the loss every this many steps (default: ~200 points per run). */
  logEvery?: number;
}

export interface JumpReluConfig {
  architecture: "jumprelu";
  /** Number of latents (d_sae). Required. */
  nLatents: number;
  /** The target L0: mean active latents per token that λ is steered to. */
  k: number;
  /** Rows per step. */
  batchSize: number;
  /** Passes over the training rows (ignored when `steps` is given). */
  epochs: number;
  steps?: number;
  /** Peak learning rate (default: 2e-4 / √(nLatents / 2^14), as the TopK recipe). */
  lr?: number;
  /**
   * log θ's peak learning rate is max(thresholdLrScale·lr, 30/steps): θ must travel ~7 in log space (0.001 → O(1))
   * in a fraction of the run whatever the width (lr falls as 1/√width, so a wide SAE's θ would never arrive).
   */
  thresholdLrScale: number;
  warmupSteps: number;
  maxWarmupFraction: number;
  /** λ rises linearly from 0 to its controlled value over this fraction of the steps (Gemma Scope: 10k steps). */
  sparsityWarmupFraction: number;
  /** Rectangle-kernel bandwidth ε in normalised units (Gemma Scope: 0.001). */
  bandwidth: number;
  /** Initial θ of every latent in normalised units (Gemma Scope: 0.001). */
  thresholdInit: number;
  /**
   * Start every θ instead at the value where the first batch fires the target L0 (never below thresholdInit): the
   * median over its rows of each row's k-th largest pre-activation, lowered per latent so that each fires on at
   * least one row of that batch. Gemma Scope's θ = 0.001 fires about half the
   * latents and has ~10⁵ steps to climb; our runs have 10²–10³, too few at large widths.
   */
  calibrateThresholds: boolean;
  /** Gain of the L0 controller in units of d_in / k (the mse of normalised inputs is O(d_in)). */
  controllerGain: number;
  adamBeta1: number;
  adamBeta2: number;
  adamEps: number;
  /** Global gradient-norm clip (Infinity: off; a θ kernel hit makes spikes of size λ/(B·ε) that clipping would turn into whole-model slowdowns). */
  gradClip: number;
  /** Scale inputs to E‖x‖² = d_in while training (folded back into the saved weights). */
  normaliseInput: boolean;
  /** Rows the scale is estimated on (default: up to 16384 rows of the shuffled training order). */
  normSampleRows?: number;
  deadWindowTokens: number;
  medianSampleRows?: number;
  medianMaxIter: number;
  medianTol: number;
  shuffle: boolean;
  /** Seeds the initial weights and the row order. */
  seed: number;
  logEvery?: number;
}

export type ResolvedJumpReluConfig = Required<JumpReluConfig> & { warmupStepsUsed: number; sparsityWarmupSteps: number };

export type ResolvedTrainConfig = Required<TrainConfig> & { warmupStepsUsed: number };

export interface LossSample {
  step: number;
  tokens: number;
  fvu: number;
  auxk: number;
  l0: number;
  lr: number;
  gradNorm: number;
  deadFraction: number;
  /** JumpReLU: the sparsity coefficient λ of the step (after its warm-up). */
  lambda?: number;
}

export interface TrainingLog {
  steps: number;
  tokensSeen: number;
  /** Loss etc. every `config.logEvery` steps and at the last step. */
  lossCurve: LossSample[];
  /** Fraction of latents that did not fire in the last `deadWindowTokens` training tokens. */
  finalDeadFraction: number;
  deadWindowTokens: number;
  /** BatchTopK: the learned JumpReLU threshold (the same for every latent). */
  threshold?: number;
  /** JumpReLU: the L0 target, the controller's final λ and the input scale s (E‖s·x‖² = d) folded into the weights. */
  jumprelu?: { targetL0: number; thresholdStart: number; finalLambda: number; inputScale: number; meanSquaredNorm: number };
  geometricMedian: { sampleRows: number; iterations: number; converged: boolean };
  /** Held-out metrics, when held-out rows were given. */
  heldOut?: EvalResult;
  wallTimeS: number;
  backend: string;
  encoderProduct: string;
  data: string;
  config: ResolvedTrainConfig | ResolvedJumpReluConfig;
}

/** A trained SAE: canonical weights plus how it was trained. */
export interface TrainedSae extends SaeWeights {
  trainingLog: TrainingLog;
}

/** The settings of either trainer: TopK/BatchTopK (TrainConfig) or JumpReLU (JumpReluConfig, `k` = target L0). */
export type SaeTrainerConfig = (Partial<TrainConfig> & {
  /** Latents (d_sae): the one required setting. */
  nLatents: number;
}) | (Partial<JumpReluConfig> & {
  /** Latents (d_sae). */
  nLatents: number;
  architecture: "jumprelu";
});

export interface TrainOptions {
  /** Rows to evaluate on after training (FVU, L0, dead fraction). */
  heldOut?: TrainingData;
  progress?: Progress;
}

