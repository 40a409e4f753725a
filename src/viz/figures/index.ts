// Figure builders and table views for the paper's analyses: pure functions from typed results to Plotly figures
// (`dm.viz.plot(fig)`) and to row records (`dm.viz.table(rows)`, or `toDataFrame(rows)` for a danfo DataFrame).
export { COMPONENT_COLORS, COMPONENT_LABELS, METRIC_LABELS, sequentialColors, widthLabels } from "./common";
export type { FigureOptions, Labelled } from "./common";
export { decompositionFigure, decompositionRows } from "./decomposition";
export type { DecompositionSummary } from "./decomposition";
export { darkMatterFigure, powerLawFitFigure, powerLawRows, darkMatterBandRows } from "./powerlaw";
export type { DarkMatterFigureOptions, PowerLawFigureInput } from "./powerlaw";
export { perTokenR2Heatmap, perTokenImprovementHeatmap, perTokenTracesFigure, perTokenRows, perTokenTraceRows } from "./pertoken";
export type { HeatmapOptions, TraceFigureOptions } from "./pertoken";
export { normPredictionFigure, normR2VsDepthFigure, normPredictionRows } from "./norm-prediction";
export type { NormPredictionFigureOptions, NormPredictionSummary, DepthSeries } from "./norm-prediction";
export { baselinesFigure, baselinesByLayerFigure, baselineRows, BASELINE_LABELS } from "./baselines";
export type { BaselineSummary } from "./baselines";
export { probeVsLatentFigure, probeVsLatentRows } from "./probe-vs-latent";
export type { ProbeFigureOptions, ProbeVsLatentSummary } from "./probe-vs-latent";
export { pursuitFigure, pursuitRows, pursuitConvergenceFigure, pursuitResultRows } from "./pursuit";
export type { FvuPair, PursuitComparison, PursuitRunSummary } from "./pursuit";
export { detectionFigure, detectionRows, detectionSummaryRows, trainedOnErrorFigure } from "./autointerp";
export type { DetectionEntry, TrainedOnErrorEntry } from "./autointerp";
export { syntheticLinesFigure, syntheticGridFigure, syntheticCorrelationRows, syntheticRows } from "./synthetic";
export type { SyntheticLines, SyntheticGrid } from "./synthetic";
export { ceRecoveredFigure, ceRows } from "./downstream-ce";
export type { CeSummary, CeSweep } from "./downstream-ce";
export { crossComponentFigure, crossComponentRows } from "./cross-component";
export type { CrossComponentSummary } from "./cross-component";
export { contourFigure, contourRows } from "./contours";
export type { ContourSummary, ContourPoints, ContourPanelInput, ContourFigureOptions } from "./contours";
export { headlineMetricsFigure, gapClosedFigure } from "./why-differ";
export type { HeadlineSeries, HeadlineFigureOptions, GapClosedEntry, MeasureLike } from "./why-differ";
// Types the public signatures above use, so the API reference can show them.
export type { ColoredComponent } from "./common";
