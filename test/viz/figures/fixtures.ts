// Small hand-made results for the figure tests: every number is written out (no fitting, no randomness), so a
// snapshot changes only when a builder does.
import type { Interval } from "../../../src/linalg/bootstrap";
import type { Estimate } from "../../../src/darkmatter/common";
import type { BandInput, PowerLawFit } from "../../../src/darkmatter/powerlaw";
import type { PerTokenPredictability, PerTokenTraces } from "../../../src/darkmatter/pertoken";
import type { NormComponent } from "../../../src/darkmatter/norm-prediction";
import type { Proportion } from "../../../src/darkmatter/autointerp";
import type { SyntheticExperimentResult } from "../../../src/darkmatter/synthetic";
import type { CrossTarget } from "../../../src/darkmatter/cross-component";
import type {
  BaselineSummary, CeSummary, CeSweep, ContourSummary, CrossComponentSummary, DecompositionSummary, DetectionEntry, Labelled, NormPredictionSummary,
  ProbeVsLatentSummary, PursuitComparison, PursuitRunSummary,
} from "../../../src/viz/figures/index";

const iv = (lo: number, hi: number): Interval => ({ lo, hi, level: 0.95, se: (hi - lo) / 3.92, replicates: Float64Array.from([lo, hi]) });
const est = (value: number, lo?: number, hi?: number): Estimate => ({ value, interval: lo === undefined ? null : iv(lo, hi as number) });
const rows = (evaluated: number) => ({ total: evaluated * 2, train: evaluated, evaluated, droppedNonFinite: 0, seed: 0 });

export const decomposition: DecompositionSummary = {
  d: 64, intercept: true, evaluatedOn: "test", rows: rows(1000),
  vectorR2: est(0.512345678901, 0.5, 0.525), normR2: est(0.93125, 0.92, 0.94),
  fvu: est(0.2, 0.195, 0.205), fvuNonlinear: est(0.125, 0.12, 0.13),
  energy: { saeError: 4.5, linearError: 2.25, nonlinearError: 2.0, crossTerm: 0.25 },
};

export const WIDTHS = [16384, 32768, 65536, 131072, 262144, 524288, 1048576];
export const bandInput: BandInput = {
  widths: WIDTHS,
  fvu: [0.2489, 0.2119, 0.1895, 0.1678, 0.1574, 0.1467, 0.1385], // 0.12 + 10·W^(−0.45) ± 0.002
  fvuNonlinear: [0.081, 0.079, 0.080, 0.078, 0.079, 0.080, 0.078],
  pursuitFvuNonlinear: [0.076, 0.075, 0.077, 0.075, 0.076, 0.077, 0.075],
  fit: { c: 0.12, a: 10, m: 0.45 },
};
export const powerLawFit: Pick<PowerLawFit, "c" | "a" | "m" | "r2" | "rss" | "points" | "weighting" | "intervals"> = {
  c: 0.12, a: 40, m: 0.45, r2: 0.9991, rss: 1.5e-6, points: 7, weighting: "uniform",
  intervals: { c: iv(0.11, 0.13), a: iv(30, 55), m: iv(0.4, 0.5), method: "residuals", resamples: 200, discarded: 0, seed: 0 },
};

export const perToken: PerTokenPredictability = {
  widths: [16384, 65536, 262144],
  tokens: { total: 500, train: 300, test: 200, seed: 0 },
  r2: [[1, 0.81, 0.72], [0.8, 1, 0.86], [0.7, 0.85, 1]],
  r2WithNonlinear: [[1, 0.9, 0.84], [0.88, 1, 0.91], [0.8, 0.9, 1]],
  percentRemainingExplained: [[NaN, 47.36842105263158, 42.857142857142854], [40, NaN, 35.714285714285715], [33.333333333333336, 33.33333333333333, NaN]],
  warnings: [],
};

export const traces: PerTokenTraces = {
  tokenIndex: Uint32Array.from([40, 41, 42, 43]),
  series: [
    { width: 16384, saeError: Float64Array.from([3, 4, 5, 4.5]), linearError: Float64Array.from([2, 3, 3.5, 3]), nonlinearError: Float64Array.from([2, 2.5, 3, 3]) },
    { width: 65536, saeError: Float64Array.from([2.5, 3.5, 4.25, 4]), linearError: Float64Array.from([1.5, 2.5, 3, 2.5]), nonlinearError: Float64Array.from([2, 2.5, 3.1, 3]) },
  ],
};
/** Token strings with markup characters and a newline, to check hover escaping. */
export const traceLabels = ["Once", " <b>upon", " a&b", "\ntime"];
export const traceContexts = ["[Once] upon a", "Once [upon] a time", "upon [a] time", "a [time] there"];

const normValues = (v: number[]): NormPredictionSummary["components"] => {
  const names: NormComponent[] = ["x", "sae", "saeError", "linearError", "nonlinearError", "saePlusNonlinear"];
  return Object.fromEntries(names.map((n, i) => [n, est(v[i], v[i] - 0.01, Math.min(1, v[i] + 0.01))])) as NormPredictionSummary["components"];
};
export const normPrediction: NormPredictionSummary = { components: normValues([0.99, 0.97, 0.93, 0.95, 0.72, 0.96]), rows: rows(800) };
export const normPredictionList: Labelled<NormPredictionSummary>[] = [
  { label: "16k/L0 58", result: normPrediction },
  { label: "65k/L0 61", result: { components: normValues([0.99, 0.96, 0.91, 0.94, 0.68, 0.95]), rows: rows(800) } },
  { label: "1m <L0 60>", result: { components: normValues([0.99, 0.95, 0.9, 0.93, 0.45, 0.94]), rows: rows(800) } },
];

export const baselines: BaselineSummary = {
  rows: rows(900),
  baselines: { x: est(0.91, 0.9, 0.92), tokenIdentity: est(0.42), modelLoss: null, l0: est(0.11, 0.09, 0.13), xNorm: est(0.25, 0.22, 0.28) },
};

export const probe: ProbeVsLatentSummary = {
  latentCount: 16, rows: { total: 200, train: 120, evaluated: 80, seed: 0 },
  probeR2: est(0.97, 0.96, 0.98), correlation: 0.93,
  latents: Int32Array.from([5, 2, 9, 0, 11, 7, 3, 14, 1, 8]),
  meanActive: Float64Array.from([9, 8.5, 7, 6.5, 5, 4, 3.5, 3, 2, 1]),
  probe: Float64Array.from([8.7, 9.1, 6.2, 6.9, 5.5, 3.1, 3.8, 2.2, 2.4, 0.9]),
  activeCount: Float64Array.from([3, 10, 4, 20, 5, 6, 30, 2, 40, 50]),
};

export const pursuitPoints: PursuitComparison[] = [
  { width: 65536, encoder: { fvu: est(0.19, 0.185, 0.195), fvuNonlinear: est(0.08, 0.078, 0.082) }, pursuit: { fvu: est(0.182, 0.177, 0.187), fvuNonlinear: est(0.079, 0.077, 0.081) } },
  { width: 16384, encoder: { fvu: 0.24, fvuNonlinear: 0.081 }, pursuit: { fvu: 0.23, fvuNonlinear: 0.08 } },
  { width: 262144, encoder: { fvu: est(0.16), fvuNonlinear: est(0.079) }, pursuit: { fvu: est(0.155), fvuNonlinear: est(0.0785) } },
];

export const pursuitRun: PursuitRunSummary = {
  tokens: 4, latents: 32, l0: Uint32Array.from([3, 2, 3, 1]), iterations: Uint32Array.from([3, 2, 3, 1]),
  residualEnergy: Float64Array.from([10, 6, 4, 3.5]), safeguardedSteps: 1,
};

const prop = (correct: number, total: number): Proportion => {
  const p = correct / total, h = 1.96 * Math.sqrt((p * (1 - p)) / total);
  return { correct, total, accuracy: p, wilson: { lo: Math.max(0, p - h * 0.9), hi: Math.min(1, p + h * 0.9) }, normal: { lo: Math.max(0, p - h), hi: Math.min(1, p + h) } };
};
const detection = (deciles: [number, number][], negatives: [number, number], latents: number): DetectionEntry["result"] => ({
  skipped: [{ latent: 7, reason: "only 12 activating windows" }],
  summary: {
    latents, deciles: deciles.map(([c, t]) => prop(c, t)), negatives: prop(...negatives),
    meanAccuracy: est(0.71, 0.66, 0.75), meanBalancedAccuracy: est(0.69, 0.64, 0.74),
  },
});
export const detectionEntries: DetectionEntry[] = [
  { label: "trained on LinearError", trainedOn: "linearError", result: detection([[30, 70], [45, 70], [63, 70]], [450, 500], 10) },
  { label: "trained on NonlinearError", trainedOn: "nonlinearError", result: detection([[20, 70], [31, 70], [50, 70]], [430, 500], 10) },
];

const point = (ablatedPercent: number, sigmaActivation: number, sigmaReconstruction: number, fvuRecon: number, fvuLinear: number) => ({
  ablatedPercent, sigmaActivation, sigmaReconstruction, ablatedLatents: Math.floor((64 * ablatedPercent) / 100),
  fvuRecon, fvuLinear, estimatedLinearError: fvuRecon - fvuLinear, estimatedNonlinearError: fvuLinear,
});
const levels = [0, 1, 2];
const cells = levels.flatMap((a) => levels.map((r) => point(0, a, r, 0.05 * a + 0.04 * r + 0.01, 0.04 * r + 0.005)));
export const synthetic: Pick<SyntheticExperimentResult, "lines" | "grid" | "correlation"> = {
  lines: [
    { sigmaActivation: 1, sigmaReconstruction: 0.6, points: [point(0, 1, 0.6, 0.08, 0.03), point(25, 1, 0.6, 0.2, 0.031), point(50, 1, 0.6, 0.35, 0.032)] },
    { sigmaActivation: 0.6, sigmaReconstruction: 1, points: [point(0, 0.6, 1, 0.09, 0.05), point(25, 0.6, 1, 0.21, 0.051), point(50, 0.6, 1, 0.36, 0.052)] },
  ],
  grid: {
    levels, ablatedPercent: 0, points: cells,
    estimatedLinearError: levels.map((_, i) => levels.map((__, j) => cells[i * 3 + j].estimatedLinearError)),
    estimatedNonlinearError: levels.map((_, i) => levels.map((__, j) => cells[i * 3 + j].estimatedNonlinearError)),
  },
  correlation: { rows: ["sigmaActivation", "sigmaReconstruction"], columns: ["estimatedLinearError", "estimatedNonlinearError"], values: [[0.98, 0.02], [0.05, 0.99]] },
};

const ceResult = (shares: { ce: [number, number]; r2: [number, number]; norm: [number, number] }, losses = { clean: 2.1, sae: 2.5, linear: 2.334, nonlinear: 2.279, zero: 6 }): CeSummary => {
  const run = (ce: number) => ({ ce, ceDelta: ce - losses.clean, ceRecovered: (losses.zero - ce) / (losses.zero - losses.clean) });
  return {
    clean: losses.clean, sae: run(losses.sae), saePlusLinear: run(losses.linear), saePlusNonlinear: run(losses.nonlinear), zeroAblation: run(losses.zero),
    errorCeRecovered: { linear: shares.ce[0], nonlinear: shares.ce[1] }, evaluatedTokens: 4000,
    errorShares: {
      energy: { linear: shares.norm[0] ** 2, nonlinear: shares.norm[1] ** 2, cross: 1 - shares.norm[0] ** 2 - shares.norm[1] ** 2 },
      norm: { linear: shares.norm[0], nonlinear: shares.norm[1] }, r2Recovered: { linear: shares.r2[0], nonlinear: shares.r2[1] },
    },
  };
};
export const ceSweeps: CeSweep[] = [
  {
    title: "Width sweep (L0 ≈ 60)", xTitle: "SAE width",
    points: [
      { label: "16k", result: ceResult({ ce: [0.415, 0.5525], r2: [0.45, 0.52], norm: [0.61, 0.72] }) },
      { label: "131k", result: ceResult({ ce: [0.38, 0.6], r2: [0.4, 0.58], norm: [0.58, 0.75] }, { clean: 2.1, sae: 2.4, linear: 2.286, nonlinear: 2.22, zero: 6 }) },
    ],
  },
  {
    title: "L0 sweep (16k)", xTitle: "L0",
    points: [
      { label: "20", result: ceResult({ ce: [0.3, 0.7], r2: [0.35, 0.66], norm: [0.55, 0.8] }) },
      { label: "<68>", result: ceResult({ ce: [0.35, 0.64], r2: [0.38, 0.6], norm: [0.57, 0.77] }) },
    ],
  },
];

const crossCell = (source: string, target: CrossTarget, r2: number) => ({ source, target, r2: est(r2, r2 - 0.02, r2 + 0.02), fvu: 1 - r2 + 0.01 });
const crossSources = ["residual L20", "residual L19", "MLP L20", "attention L20"];
const crossR2: Record<CrossTarget, number[]> = { saeError: [0.45, 0.29, 0.1, 0.07], linearError: [0.38, 0.27, 0.09, 0.06], nonlinearError: [0.52, 0.31, 0.12, 0.08] };
export const crossComponent: CrossComponentSummary = {
  rows: rows(700),
  sources: crossSources.map((name) => ({ name, cols: 64 })),
  targets: ["saeError", "linearError", "nonlinearError"],
  cells: crossSources.flatMap((s, i) => (["saeError", "linearError", "nonlinearError"] as CrossTarget[]).map((t) => crossCell(s, t, crossR2[t][i]))),
};

export const contourGrids: ContourSummary[] = [
  {
    metric: "fvuNonlinear", l0: "nominal",
    x: [16384, 46341, 131072], y: [20, 42.42640687119285, 90],
    z: [[0.12, 0.11, null], [0.09, 0.085, 0.08], [0.07, 0.065, 0.06]],
    points: [{ width: 16384, l0: 20, value: 0.12, id: "16k/20" }, { width: 16384, l0: 90, value: 0.07, id: "16k/90" }, { width: 131072, l0: 30, value: 0.1, id: "131k/30" }, { width: 131072, l0: 90, value: 0.06, id: "131k/90" }],
    axisRange: { x: [16384 / 1.15, 131072 * 1.15], y: [20 / 1.15, 90 * 1.15] },
  },
  {
    metric: "normR2", l0: "nominal",
    x: [16384, 131072], y: [20, 90], z: [[0.93, 0.91], [0.95, 0.94]],
    points: [{ width: 16384, l0: 20, value: 0.93 }, { width: 131072, l0: 90, value: 0.94 }],
    axisRange: { x: [16384 / 1.15, 131072 * 1.15], y: [20 / 1.15, 90 * 1.15] },
  },
];
