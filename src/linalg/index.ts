// Streaming least squares, train/test splits, bootstrap intervals and the metrics (one name, one formula each).
export { arraySource, nestedArraySource, generatedSource, mapSource, readChunks, zipChunks, collectRows, rowIsFinite, sliceRows } from "./rows";
export type { RowSource, RowChunk, ChunkView } from "./rows";
export { trainTestSplit, explicitSplit, trainSelection, testSelection, selectedCount, TRAIN, TEST, NO_ROLE } from "./split";
export type { TrainTestSplit, SplitOptions, RowSelection } from "./split";
export { NormalEquations, fitLeastSquares, evaluateLeastSquares, predict, selectOutputs, gatherRows, mergeNormalEquationStates } from "./least-squares";
export type { LeastSquaresFit, LinearMap, NormalEquationsState, SolveOptions, FitOptions, EvaluateOptions } from "./least-squares";
export {
  METRICS, RegressionAccumulator, fvu, fvuNonlinear, r2MeanOverDims, r2, r2Flat, normalizedMse, explainedVarianceLegacy, l0,
  regressionMetrics, bootstrapIntervals,
} from "./metrics";
export type { MetricName, RegressionMetrics, RegressionSums, AccumulatorBootstrap } from "./metrics";
export { MultinomialResampler, percentileInterval, bootstrapPlan } from "./bootstrap";
export type { BootstrapOptions, Interval } from "./bootstrap";
export { permutation, uniform53, deriveSeed } from "./random";
export { getKernels } from "./kernels";
export type { Kernels } from "./kernels";
