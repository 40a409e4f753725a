// Downstream cross-entropy of the error components (paper §3.9, v1 Fig. 9, TMLR Fig. 8): is NonlinearError
// responsible for a share of the CE increase proportional to its share of the error, or a disproportionate one?
//
// Per batch of contexts: one clean pass captures x at the hook and the per-token loss; then Sae(x), LinearError(x) =
// predict(b*, x) and NonlinearError(x) = x − Sae(x) − LinearError(x) are computed in float64 for the spliced positions,
// and four more passes splice, at positions [from, to] of every context (the paper: 200…1022; earlier positions keep
// their original values, the last position is left as is):
//   (i) Sae(x);  (ii) Sae(x) + LinearError(x);  (iii) Sae(x) + NonlinearError(x) = x − LinearError(x);  zero ablation.
// CE of each = the mean per-token loss over loss indices [from, to] of every context (loss[t] predicts token t + 1, so
// with T = 1024 and from = 200 these are the paper's positions 200…1022), averaged over all (context, position) pairs.
//
// Reported, per variant: `ce_delta` = CE − CE_clean and `ce_recovered` = (CE_zero − CE)/(CE_zero − CE_clean)
// (formats-and-metrics §3), and the paper's bars: the share of the SAE's CE gap a component recovers,
// (CE_sae − CE_sae+comp)/(CE_sae − CE_clean). Next to them, on the same spliced tokens, the component's share of the
// error: energy Σ‖comp‖²/Σ‖SaeError‖², norm mean‖comp‖/mean‖SaeError‖ and the "R² percent recovered"
// (R²_sae − R²_comp)/(R²_sae − 1) with R²_comp = 1 − fvu(x, Sae(x) + comp) — the spec's reconstruction of the
// unreleased script's dashed lines (§3.9 [GAP]). Every share is a fraction; multiply by 100 for the paper's percent.
import { InputError } from "../errors";
import { Progress } from "../progress";
import { LeastSquaresFit, predict } from "../linalg/least-squares";
import { RegressionAccumulator } from "../linalg/metrics";
import { HookName, parseHookName } from "../lm/hooks";
import { forward, LanguageModel, TokenBatch } from "../lm/model";
import { ReconstructFn } from "./common";

export interface DownstreamCeInput {
  /** The model (llama2.c tensors or a Hugging Face checkpoint). */
  params: LanguageModel;
  /** Token contexts of equal length T (the paper: 300 × 1024). */
  contexts: TokenBatch;
  /** Where x is taken and replaced, e.g. `blocks.L.hook_resid_post`. */
  hook: HookName;
  /** Sae(x) for rows of x at the hook. */
  reconstruct: ReconstructFn;
  /** b* (+ intercept): LinearError(x) = predict(linearMap, x), e.g. `decomposeSaeError(...).linearMap`. */
  linearMap: LeastSquaresFit;
}

export interface DownstreamCeOptions {
  /** First spliced position and loss index (default 200, the paper's). */
  from?: number;
  /** Last spliced position and loss index, inclusive (default T − 2, the last position that predicts a token). */
  to?: number;
  /** Contexts per forward pass (default 8). */
  batchSize?: number;
  native?: boolean;
  progress?: Progress;
}

/** One spliced run's CE with the formats-and-metrics §3 metrics. */
export interface CeRun {
  /** Mean per-token CE (nats) over the evaluated (context, position) pairs. */
  ce: number;
  /** `ce_delta` = ce − CE_clean. */
  ceDelta: number;
  /** `ce_recovered` = (CE_zero − ce)/(CE_zero − CE_clean). */
  ceRecovered: number;
}

export interface ComponentShares {
  linear: number;
  nonlinear: number;
}

export interface DownstreamCeResult {
  hook: HookName;
  contexts: number;
  contextLength: number;
  /** Spliced positions and evaluated loss indices, inclusive. */
  from: number;
  to: number;
  /** contexts × (to − from + 1). */
  evaluatedTokens: number;
  /** CE of the unmodified model over the same positions. */
  clean: number;
  zeroAblation: CeRun;
  sae: CeRun;
  saePlusLinear: CeRun;
  saePlusNonlinear: CeRun;
  /** The paper's bars: (CE_sae − CE_sae+comp)/(CE_sae − CE_clean) per component. */
  errorCeRecovered: ComponentShares;
  /** The error shares the bars are compared with, on the spliced tokens. */
  errorShares: {
    /** Σ‖comp‖²/Σ‖SaeError‖²; `cross` = Σ2·Linear·Nonlinear/Σ‖SaeError‖², so linear + nonlinear + cross = 1. */
    energy: ComponentShares & { cross: number };
    /** mean_t ‖comp_t‖ / mean_t ‖SaeError_t‖. */
    norm: ComponentShares;
    /** (R²_sae − R²_comp)/(R²_sae − 1), R²_comp = 1 − fvu(x, Sae(x) + comp). */
    r2Recovered: ComponentShares;
  };
  /** fvu(x, Sae(x)) and fvu(x, Sae(x) + LinearError(x)) on the spliced tokens. */
  fvu: number;
  fvuNonlinear: number;
}

const VARIANTS = ["sae", "saePlusLinear", "saePlusNonlinear", "zeroAblation"] as const;
type Variant = (typeof VARIANTS)[number];

function positiveInt(v: number, name: string): number {
  if (!Number.isSafeInteger(v) || v < 1) throw new InputError(name, `must be a positive integer, got ${v}`);
  return v;
}

/** Runs the §3.9 splice experiment (see the file comment). Call `initBackend()` first. */
export function downstreamCe(input: DownstreamCeInput, options: DownstreamCeOptions = {}): DownstreamCeResult {
  const { params, contexts, hook, reconstruct, linearMap } = input;
  const d = params.config.dim;
  parseHookName(hook, params.config.nLayers);
  if (typeof reconstruct !== "function") throw new InputError("reconstruct", "must be a function");
  if (!linearMap || linearMap.inputs !== d || linearMap.outputs !== d) {
    throw new InputError("linearMap", `maps ${linearMap?.inputs} → ${linearMap?.outputs} dims; the hook has d = ${d}`);
  }
  const N = contexts.length;
  if (N === 0) throw new InputError("contexts", "no contexts");
  const T = contexts[0].length;
  for (let c = 0; c < N; c++) {
    if (contexts[c].length !== T) throw new InputError("contexts", `context ${c} has ${contexts[c].length} tokens, context 0 has ${T}`);
  }
  if (T < 2) throw new InputError("contexts", "contexts need at least 2 tokens for a next-token loss");
  const from = options.from ?? 200, to = options.to ?? T - 2;
  if (!Number.isSafeInteger(from) || from < 0 || from > T - 2) {
    throw new InputError("from", `${from} is not a position with a next-token loss (0..${T - 2}); the paper's 200 needs contexts longer than 201 tokens`);
  }
  if (!Number.isSafeInteger(to) || to < from || to > T - 2) throw new InputError("to", `must lie in ${from}..${T - 2}, got ${to}`);
  const batchSize = positiveInt(options.batchSize ?? 8, "batchSize");
  const native = options.native;
  const width = to - from + 1;

  const sums: Record<Variant | "clean", number> = { clean: 0, sae: 0, saePlusLinear: 0, saePlusNonlinear: 0, zeroAblation: 0 };
  const saeAcc = new RegressionAccumulator(d, { native }), linAcc = new RegressionAccumulator(d, { native });
  const nlAcc = new RegressionAccumulator(d, { native });
  let eErr = 0, eLin = 0, eNl = 0, eCross = 0, nErr = 0, nLin = 0, nNl = 0;

  const lossSum = (loss: Float32Array, B: number): number => {
    let s = 0;
    for (let b = 0; b < B; b++) for (let t = from; t <= to; t++) s += loss[b * (T - 1) + t];
    return s;
  };

  for (let c0 = 0; c0 < N; c0 += batchSize) {
    const batch = contexts.slice(c0, Math.min(N, c0 + batchSize));
    const B = batch.length, n = B * width;
    const clean = forward(params, batch, { capture: [hook] });
    sums.clean += lossSum(clean.loss as Float32Array, B);
    const captured = clean.captured.get(hook) as Float32Array;
    const mask = new Uint8Array(B * T);
    const x = new Float32Array(n * d);
    for (let b = 0; b < B; b++) {
      mask.fill(1, b * T + from, b * T + to + 1);
      x.set(captured.subarray((b * T + from) * d, (b * T + to + 1) * d), b * width * d);
    }
    const sae = reconstruct(x, n);
    if (!sae || sae.length !== n * d) throw new InputError("reconstruct", `returned ${sae ? sae.length : "nothing"} values for ${n} rows of d = ${d}`);
    for (let i = 0; i < sae.length; i++) {
      if (!Number.isFinite(sae[i])) throw new InputError("reconstruct", `Sae(x) of spliced row ${Math.floor(i / d)} of batch ${c0 / batchSize} is not finite`);
    }
    const lin = predict(linearMap, x, n, { native });
    const values: Record<Variant, Float32Array> = {
      sae: Float32Array.from(sae), saePlusLinear: new Float32Array(n * d), saePlusNonlinear: new Float32Array(n * d),
      zeroAblation: new Float32Array(n * d),
    };
    const saeLin = new Float64Array(n * d), saeNl = new Float64Array(n * d);
    for (let t = 0; t < n; t++) {
      let e2 = 0, l2 = 0, nl2 = 0, cross = 0;
      for (let j = 0; j < d; j++) {
        const i = t * d + j, s = sae[i], e = x[i] - s, l = lin[i], nl = e - l;
        saeLin[i] = s + l;
        saeNl[i] = s + nl;
        e2 += e * e; l2 += l * l; nl2 += nl * nl; cross += 2 * l * nl;
      }
      eErr += e2; eLin += l2; eNl += nl2; eCross += cross;
      nErr += Math.sqrt(e2); nLin += Math.sqrt(l2); nNl += Math.sqrt(nl2);
    }
    values.saePlusLinear.set(saeLin);
    values.saePlusNonlinear.set(saeNl);
    saeAcc.add(x, sae, n);
    linAcc.add(x, saeLin, n);
    nlAcc.add(x, saeNl, n);
    for (const v of VARIANTS) {
      const run = forward(params, batch, { splice: [{ hook, at: { mask }, value: values[v] }] });
      sums[v] += lossSum(run.loss as Float32Array, B);
    }
    options.progress?.(c0 + B, N, "downstream CE");
  }

  const tokens = N * width;
  const ce = (v: Variant | "clean") => sums[v] / tokens;
  const cleanCe = ce("clean"), zeroCe = ce("zeroAblation");
  const run = (v: Variant): CeRun => ({ ce: ce(v), ceDelta: ce(v) - cleanCe, ceRecovered: (zeroCe - ce(v)) / (zeroCe - cleanCe) });
  const saeCe = ce("sae");
  const gap = saeCe - cleanCe;
  const fvuSae = saeAcc.result().fvu, fvuLin = linAcc.result().fvu, fvuNl = nlAcc.result().fvu;
  return {
    hook, contexts: N, contextLength: T, from, to, evaluatedTokens: tokens,
    clean: cleanCe,
    zeroAblation: run("zeroAblation"), sae: run("sae"), saePlusLinear: run("saePlusLinear"), saePlusNonlinear: run("saePlusNonlinear"),
    errorCeRecovered: { linear: (saeCe - ce("saePlusLinear")) / gap, nonlinear: (saeCe - ce("saePlusNonlinear")) / gap },
    errorShares: {
      energy: { linear: eLin / eErr, nonlinear: eNl / eErr, cross: eCross / eErr },
      norm: { linear: nLin / nErr, nonlinear: nNl / nErr },
      // R²_sae − R²_comp = fvu_comp − fvu_sae and R²_sae − 1 = −fvu_sae.
      r2Recovered: { linear: (fvuSae - fvuLin) / fvuSae, nonlinear: (fvuSae - fvuNl) / fvuSae },
    },
    fvu: fvuSae, fvuNonlinear: fvuLin,
  };
}
