// The paper's experiments as functions over activations and SAE outputs, returning typed results.
export { decomposeSaeError, decomposeSaeFamily, decompositionSummary, inputGramFor, HeldOutEvaluation } from "./decomposition";
export { decompositionShard, mergeDecompositionShards, finishDecomposition } from "./decomposition-shards";
export type { DecompositionShard, ShardRange, ShardSettings, ShardOptions, FinishOptions, BootstrapSums } from "./decomposition-shards";
export { evaluationFit, bootstrapShard, mergeBootstrapShards } from "./bootstrap-shards";
export type { EvaluationFit, BootstrapShard, BootstrapPlan } from "./bootstrap-shards";
export {
  readStatsFile, writeDecompositionShard, decodeDecompositionShard, writeEvaluationFit, decodeEvaluationFit, writeBootstrapShard, decodeBootstrapShard,
} from "./shard-file";
export type { DecompositionOptions, DecompositionResult, AnalysisOptions, RowAccounting } from "./decomposition";
export { normPredictionTest, NORM_COMPONENTS } from "./norm-prediction";
export type { NormPredictionOptions, NormPredictionResult, NormComponent } from "./norm-prediction";
export { normPredictionBaselines, BASELINES } from "./baselines";
export type { BaselineInput, BaselineResult, BaselineName } from "./baselines";
export { probeVsLatent, runningMean, pearson } from "./probe-vs-latent";
export type { ProbeInput, ProbeOptions, ProbeVsLatentResult, SparseLatents } from "./probe-vs-latent";
export { defaultTrainRows } from "./common";
export type { SaeInput, SaeOutputs, ReconstructFn, Estimate, SplitChoice, SaeModelLike, ModelSaeInput } from "./common";
export { fitPowerLaw, darkMatterBands } from "./powerlaw";
export type { PowerLawFit, PowerLawFitOptions, BandInput, BandBreakdown, Bands } from "./powerlaw";
export { gradientPursuit } from "./pursuit";
export type { PursuitDictionary, PursuitOptions, PursuitResult } from "./pursuit";
export { perTokenPredictability, perTokenTraces, acrossWidthVariation } from "./pertoken";
export type { PerTokenNorms, PerTokenPredictability, PerTokenTraces } from "./pertoken";
export {
  detectionScores, TopTokensExplainer, TokenMatchScorer, binomialProportion, meanWithBootstrap, sampleLatents,
} from "./autointerp";
export type {
  AutoInterpCorpus, LatentActivations, Explainer, Scorer, DetectionOptions, DetectionResult, LatentDetection,
} from "./autointerp";
export { syntheticExperiment, syntheticPoints, noiseCorrelationTable } from "./synthetic";
export type {
  SyntheticInput, SyntheticConfig, SyntheticOptions, SyntheticExperimentOptions, SyntheticPoint, SyntheticSetup,
  SyntheticExperimentResult, NoiseCorrelationTable,
} from "./synthetic";
export { downstreamCe } from "./downstream-ce";
export type { DownstreamCeInput, DownstreamCeOptions, DownstreamCeResult, CeRun, ComponentShares } from "./downstream-ce";
export { crossComponentPrediction, componentRows, CROSS_TARGETS } from "./cross-component";
export type { CrossTarget, CrossSource, CrossComponentInput, CrossComponentOptions, CrossComponentCell, CrossComponentResult } from "./cross-component";
export { contourGrid, contourGrids, familyPoint, matchedL0, delaunay, interpolateOnTriangles } from "./contours";
export type { FamilyPoint, ContourMetric, ContourOptions, ContourGrid, MatchedSae } from "./contours";
export { saeFitWarnings, NormAccumulator, SANITY_LIMITS } from "./sanity";
export type { SaeFitFacts } from "./sanity";
// Types the public signatures above use, so the API reference can show them.
export type { PowerLawParameters, PowerLawWeighting, PowerLawBootstrapOptions } from "./powerlaw";
export type { InputGram } from "../linalg/least-squares";
export type { DetectionSummary, Proportion, ScoredExample, ScoringExample, ActivatingExample } from "./autointerp";
export type { SparseCodes } from "./pursuit";
export type { AcrossWidthVariation } from "./pertoken";
export type { EvaluationShifts } from "./decomposition";
export type { StatsFile } from "./shard-file";
export type { ShardRows } from "./bootstrap-shards";
export type { LazyShard } from "./decomposition-shards";
export type { SaeChunk } from "./common";
