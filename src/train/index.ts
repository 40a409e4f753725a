// SAE training: a TopK / BatchTopK trainer with the paper's recipe, its data sources and held-out evaluation.
export { trainSae, resolveTrainConfig, DEFAULT_TRAIN_CONFIG } from "./trainer";
export type { TrainConfig, ResolvedTrainConfig, TrainedSae, TrainingLog, LossSample, TrainOptions, SaeTrainerConfig } from "./trainer";
export { trainJumpRelu, resolveJumpReluConfig, DEFAULT_JUMPRELU_CONFIG, foldInputScale, controlledLambda, sparsityWarmup } from "./jumprelu";
export type { JumpReluConfig, ResolvedJumpReluConfig } from "./jumprelu";
export { JumpReluTrainingState } from "./jumprelu-state";
export { arrayData, rangeData, mapTarget, subsetRows, splitHeldOut } from "./data";
export type { TrainingData } from "./data";
export { evaluateSae } from "./evaluate";
export type { SaeWeights, EvalResult } from "./evaluate";
export { geometricMedian } from "./geometric-median";
export type { GeometricMedian, GeometricMedianOptions } from "./geometric-median";
export { defaultLearningRate, effectiveWarmup, learningRateAt } from "./schedule";
export { DeadLatentTracker } from "./dead-latents";
export { SaeTrainingState } from "./sae-state";
export type { SaeStateConfig, StepStats, UpdateStats } from "./sae-state";
export { toSae } from "./to-sae";
// Types the public signatures above use, so the API reference can show them.
export type { SparseActs, CsrView } from "./sparse";
export type { KernelArena, Kernels, WasmMemory } from "./kernels";
export type { JumpReluStateConfig, JumpReluParams, JumpReluStepStats, UpdateStats as JumpReluUpdateStats } from "./jumprelu-state";
export type { ParamViews } from "./sae-state";
export type { EncoderProduct } from "./dense";
