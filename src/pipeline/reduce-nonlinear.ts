// Reducing the nonlinear error (paper §3.10 and §3.11) over an analysis context:
// * gradient pursuit with each token's own L0 budget, for the SAEs across widths at one L0: fvu and fvu_nonlinear of
//   the pursuit reconstructions next to the encoder's on the same tokens, and Figure 1's "encoder error" band;
// * linear maps to the target SAE's SaeError, LinearError and NonlinearError from other components: the same layer's
//   SAE reconstruction, the previous residual layer's, and the same block's MLP and attention outputs, which come
//   from a second store built with the main store's config (so its rows are the same tokens, which is checked).
import * as fs from "fs";
import * as path from "path";
import { ActivationStore, buildActivationStore, FingerprintedModel, hashTokenizer, hashWeights, StoreInputs } from "../activations/index";
import { RowAccounting } from "../darkmatter/decomposition";
import { crossComponentPrediction, CrossComponentResult, CrossSource } from "../darkmatter/cross-component";
import { decomposeSaeError, DecompositionResult } from "../darkmatter/decomposition";
import { Estimate } from "../darkmatter/common";
import { BandInput, fitPowerLaw } from "../darkmatter/powerlaw";
import { gradientPursuit } from "../darkmatter/pursuit";
import { InputError } from "../errors";
import { defaultFamilyPlan } from "../family/default-family";
import { BootstrapOptions } from "../linalg/bootstrap";
import { arraySource, generatedSource, readChunks, RowSource } from "../linalg/rows";
import { defaultCorpus, loadTextCorpus } from "../lm/corpus";
import { isForwardModel, toWeights } from "../lm/model";
import { Progress, silentProgress } from "../progress";
import type { Claim } from "./claim";
import { openSae, requireWholeSae } from "../sae/index";
import type { PursuitComparison, PursuitRunSummary } from "../viz/figures/pursuit";
import type { Row } from "../viz/table";
import { cached, contentFingerprint } from "./cache";
import { AnalysisContext } from "./context";
import { saeSweeps } from "./downstream";
import { listSaes, SaeEntry } from "./saes";

/** `count` row indices evenly spaced over `rows` (every row when count ≥ rows), ascending. */
export function spreadRows(rows: number, count: number): Int32Array {
  const k = Math.min(rows, Math.max(1, Math.floor(count)));
  return Int32Array.from({ length: k }, (_, i) => Math.floor((i * rows) / k));
}

/** The rows `ids` (ascending) of a source, in one pass. */
export function gatherRows(source: RowSource, ids: Int32Array): Float32Array {
  const d = source.cols, out = new Float32Array(ids.length * d);
  let k = 0;
  for (const { data, start, rows } of readChunks(source, 8192)) {
    for (; k < ids.length && ids[k] < start + rows; k++) {
      const r = ids[k] - start;
      for (let j = 0; j < d; j++) out[k * d + j] = data[r * d + j];
    }
    if (k === ids.length) break;
  }
  if (k !== ids.length) throw new InputError(source.name ?? "activations", `has ${source.rows} rows; row ${ids[k]} was asked for`);
  return out;
}

/** One hook of a store as a row source. */
function hookSource(store: ActivationStore, hook: string): RowSource {
  return generatedSource(store.rows, store.d, function* (n) { for (const c of store.chunks(hook, n)) yield c.x; }, `${store.dir} (${hook})`);
}

// ---------------------------------------------------------------------------------------------------------------
// §3.10 gradient pursuit

export interface FvuSummary {
  fvu: Estimate;
  fvuNonlinear: Estimate;
  /** r2_mean_over_dims of LinearError as a prediction of the error. */
  vectorR2: Estimate;
  rows: RowAccounting;
}

export interface PursuitPoint {
  sae: SaeEntry;
  /** Mean latents per token of the SAE's encoder and of pursuit (≤ the encoder's, token by token). */
  encoderL0: number;
  pursuitL0: number;
  /** The decomposition of x against Sae(x) and against pursuit(x), on the same tokens and split. */
  encoder: FvuSummary;
  pursuit: FvuSummary;
  run: PursuitRunSummary;
  /** Seconds the pursuit took when computed (a cached result keeps the original time). */
  seconds: number;
}

export interface PursuitSweep {
  l0: number | null;
  /** Tokens pursued (evenly spaced over the activations) and how many there are. */
  tokens: number;
  totalRows: number;
  points: PursuitPoint[];
  /** Figure 1's band input from these tokens (null with fewer than 3 widths: no power law). */
  bands: BandInput | null;
  scaledDown: string;
}

export interface PursuitSweepOptions {
  /** Nominal L0 of the SAEs (default: the one most widths share, as in widthScaling). */
  l0?: number;
  /** Tokens to pursue (default 2,048 in the ci profile, 4,096 in full; the paper: 246,900). */
  tokens?: number;
  /** Pursuit's step safeguard (default true; false is the paper's algorithm exactly; see darkmatter/pursuit). */
  safeguard?: boolean;
  /** Bootstrap of the decompositions (default 200 resamples). */
  bootstrap?: BootstrapOptions | false;
}

const DEFAULT_PURSUIT_TOKENS = { ci: 2048, full: 4096 } as const;

const summary = (r: DecompositionResult): FvuSummary => ({ fvu: r.fvu, fvuNonlinear: r.fvuNonlinear, vectorR2: r.vectorR2, rows: r.rows });

/**
 * §3.10 on a context: for each width at one L0, gradient pursuit over the SAE's decoder with each token's budget =
 * its L0 under the SAE's encoder; then b* is fitted (train split) on x → x − pursuit(x) and on x → x − Sae(x), and
 * fvu, fvu_nonlinear are measured on the same test tokens. Cached per SAE.
 */
export async function pursuitSweep(ctx: AnalysisContext, options: PursuitSweepOptions = {}, progress: Progress = silentProgress): Promise<PursuitSweep> {
  const { l0, byWidth } = saeSweeps(ctx.saes, { l0: options.l0 });
  const ids = spreadRows(ctx.rows, options.tokens ?? DEFAULT_PURSUIT_TOKENS[ctx.profile]);
  let x: Float32Array | null = null; // read only when something is not cached
  const settings = { safeguard: options.safeguard ?? true, bootstrap: options.bootstrap ?? {} };
  const points: PursuitPoint[] = [];
  for (const [i, entry] of byWidth.entries()) {
    progress(i, byWidth.length, `gradient pursuit: width ${entry.width}, L0 ${entry.l0 ?? "?"}`);
    const key = { sae: contentFingerprint(entry.path), activations: ctx.activationsKey, tokens: ids.length, rows: ctx.rows, settings };
    const point = await cached("pursuit", key, async () => {
      x ??= gatherRows(ctx.activations, ids);
      return pursueOne(entry, x, ctx.d, settings);
    }, __filename);
    points.push({ ...point, sae: entry });
  }
  progress(byWidth.length, byWidth.length, "gradient pursuit done");
  let bands: BandInput | null = null;
  if (new Set(points.map((p) => p.sae.width)).size >= 3) {
    const widths = points.map((p) => p.sae.width), fvu = points.map((p) => p.encoder.fvu.value);
    const fit = fitPowerLaw(widths, fvu, { bootstrap: false });
    bands = {
      widths, fvu, fvuNonlinear: points.map((p) => p.encoder.fvuNonlinear.value),
      pursuitFvuNonlinear: points.map((p) => p.pursuit.fvuNonlinear.value), fit: { c: fit.c, a: fit.a, m: fit.m },
    };
  }
  return {
    l0, tokens: ids.length, totalRows: ctx.rows, points, bands,
    scaledDown: `${ids.length.toLocaleString("en-US")} of ${ctx.rows.toLocaleString("en-US")} tokens, evenly spaced (the paper: 246,900), ` +
      `b* fitted on ${points[0]?.encoder.rows.train ?? "?"} of them and evaluated on the other ${points[0]?.encoder.rows.evaluated ?? "?"}`,
  };
}

async function pursueOne(entry: SaeEntry, x: Float32Array, d: number, settings: { safeguard: boolean; bootstrap: BootstrapOptions | false }): Promise<PursuitPoint> {
  const sae = requireWholeSae(await openSae(entry.path), "gradient pursuit");
  try {
    const enc = sae.forward(x, { latents: false });
    const t0 = Date.now();
    const run = gradientPursuit({ decoder: sae.W_dec.dataSync() as Float32Array, latents: sae.d_sae, d, bias: sae.b_dec.dataSync() as Float32Array },
      x, enc.l0, { safeguard: settings.safeguard });
    const seconds = (Date.now() - t0) / 1000;
    const rowsOf = (a: Float32Array, name: string) => arraySource(a, d, name);
    const opts = { bootstrap: settings.bootstrap };
    const encoder = decomposeSaeError({ activations: rowsOf(x, "x"), sae: { reconstructions: rowsOf(enc.reconstruction, "Sae(x)") } }, opts);
    const pursuit = decomposeSaeError({ activations: rowsOf(x, "x"), sae: { reconstructions: rowsOf(run.reconstructions, "pursuit(x)") } }, opts);
    let pl0 = 0;
    for (const v of run.l0) pl0 += v;
    return {
      sae: entry, encoderL0: enc.meanL0, pursuitL0: pl0 / run.tokens, encoder: summary(encoder), pursuit: summary(pursuit),
      run: { tokens: run.tokens, latents: run.latents, l0: run.l0, iterations: run.iterations, residualEnergy: run.residualEnergy, safeguardedSteps: run.safeguardedSteps },
      seconds,
    };
  } finally {
    sae.dispose();
  }
}

/** The sweep as the pursuit figure's points (encoder vs pursuit per width). */
export function pursuitComparisons(p: PursuitSweep): PursuitComparison[] {
  return p.points.map((q) => ({ width: q.sae.width, encoder: q.encoder, pursuit: q.pursuit }));
}

// ---------------------------------------------------------------------------------------------------------------
// §3.11 cross-component prediction

export interface CrossComponentOptions {
  /** Nominal L0 and width of the target SAE (defaults: the width-sweep L0 and the middle width, see saeSweeps). */
  l0?: number;
  width?: number;
  /** Tokens used (evenly spaced; default 8,192 in ci, 16,384 in full; the paper: 246,900). */
  rows?: number;
  /** What the second store (MLP and attention outputs) is built from; default: the main store's model, tokenizer and
   * corpus, found again from the context (the project's default corpus, or the text file the store was built from). */
  storeInputs?: StoreInputs;
  bootstrap?: BootstrapOptions | false;
}

export interface CrossComponentAnalysis {
  target: SaeEntry;
  /** Tokens used, and how many the activations have. */
  rows: number;
  totalRows: number;
  /** Each predictor, with what it is. */
  sources: { name: string; description: string }[];
  /** Predictors that could not be used here, with the reason. */
  skipped: { name: string; reason: string }[];
  /** The second store's folder (MLP/attention outputs), when built. */
  companionStore: string | null;
  result: CrossComponentResult;
  /** Seconds the analysis took when computed, and the part of it spent building the MLP/attention store (0 if reused). */
  seconds: number;
  companionSeconds: number;
  scaledDown: string;
}

const DEFAULT_CROSS_ROWS = { ci: 8192, full: 16384 } as const;

export const SOURCE_NAMES = {
  same: "residual SAE, same layer",
  previous: "residual SAE, previous layer",
  mlp: "MLP output",
  attention: "attention output",
} as const;

/** The SAEs next to the context's ones (other hooks too): its SAE folder, or the default family's. */
function siblingSaes(ctx: AnalysisContext): SaeEntry[] {
  const under = (dir: string) => ctx.saes.every((s) => path.resolve(s.path).startsWith(path.resolve(dir) + path.sep));
  for (const dir of [ctx.sources.saes, defaultFamilyPlan(ctx.profile).dir]) {
    if (dir && fs.existsSync(dir) && fs.statSync(dir).isDirectory() && under(dir)) return listSaes(dir).saes;
  }
  return ctx.saes;
}

/** The store's model, tokenizer and corpus again, so a second store with other hooks has the same contexts. */
function resolveStoreInputs(ctx: AnalysisContext, store: ActivationStore): StoreInputs | string {
  if (!ctx.model) return "no language model was given (a tensor file or a store folder), so its MLP and attention outputs cannot be computed";
  const m = store.manifest;
  const p = ctx.model.params;
  const weights = isForwardModel(p) ? undefined : toWeights(p);
  const model = isForwardModel(p) && "fingerprint" in p ? p as FingerprintedModel : undefined;
  if (!weights && !model) return "the context's model has no fingerprint to match against the store";
  if ((weights ? hashWeights(weights) : model!.fingerprint) !== m.model.sha256) return `the context's model is not the one the store ${store.dir} was built with`;
  if (hashTokenizer(ctx.model.tokenizer) !== m.tokenizer.sha256) return `the context's tokenizer is not the one the store ${store.dir} was built with`;
  if (m.corpus.name === "token ids") {
    // Built from given token ids: the store holds them.
    const tokens = store.tokens();
    return { weights, model, tokenizer: ctx.model.tokenizer, modelFile: m.model.file, tokenizerFile: m.tokenizer.file,
      tokens: { tokens, count: m.config.contexts, ctx: m.config.ctx, source: m.corpus.source } };
  }
  let corpus = null;
  const def = defaultCorpus();
  if (def.hash === m.corpus.sha256) corpus = def;
  else if (m.corpus.source.startsWith("text file ")) {
    const file = m.corpus.source.slice("text file ".length);
    if (fs.existsSync(file)) {
      const c = loadTextCorpus(file);
      if (c.hash === m.corpus.sha256) corpus = c;
    }
  }
  if (!corpus) return `the corpus the store was built from (${m.corpus.name}) cannot be found again; pass storeInputs`;
  return { weights, model, tokenizer: ctx.model.tokenizer, corpus, modelFile: m.model.file, tokenizerFile: m.tokenizer.file };
}

/**
 * The store of `hooks` built with the main store's config otherwise (same contexts, seed, ctx, skip), cached by
 * config; its token ids are compared with the main store's before use, so its rows are the same tokens.
 */
export function companionStore(main: ActivationStore, hooks: string[], inputs: StoreInputs, progress?: Progress): ActivationStore {
  const config = { ...main.manifest.config, hooks };
  const built = buildActivationStore(inputs, { root: path.dirname(main.dir), config, progress });
  const store = built.store!;
  // Same tokens from another model would pass the token check, so the model and tokenizer are compared first.
  for (const part of ["model", "tokenizer"] as const) {
    if (store.manifest[part].sha256 !== main.manifest[part].sha256) {
      store.close();
      throw new InputError(store.dir, `was built with another ${part} than the store ${main.dir}; pass the main store's ${part}`);
    }
  }
  const a = main.tokens(), b = store.tokens();
  const pa = main.manifest.positions, pb = store.manifest.positions;
  let bad = a.length !== b.length || store.rows !== main.rows || pa.first !== pb.first || pa.end !== pb.end ? 0 : -1;
  for (let i = 0; bad < 0 && i < a.length; i++) if (a[i] !== b[i]) bad = i;
  if (bad >= 0) {
    store.close();
    const T = main.manifest.config.ctx;
    throw new InputError(store.dir, `is not row-aligned with the store ${main.dir}: ` + (a.length !== b.length || store.rows !== main.rows
      ? `${store.rows} rows vs ${main.rows}` : `the token of context ${Math.floor(bad / T)}, position ${bad % T} differs (${b[bad]} vs ${a[bad]}); ` +
      "it was built from another model, tokenizer or corpus"));
  }
  return store;
}

/** The previous layer's residual hook of a hook `blocks.L.*`, or null for block 0. */
function previousResidHook(hook: string): string | null {
  const m = /^blocks\.(\d+)\./.exec(hook);
  return m && Number(m[1]) > 0 ? `blocks.${Number(m[1]) - 1}.hook_resid_post` : null;
}

/**
 * §3.11 on a context: predict the target SAE's SaeError, LinearError and NonlinearError (b* fitted on the training
 * rows) by OLS from each source; test r2_mean_over_dims with bootstrap intervals. Sources that cannot be had here
 * are listed in `skipped` with the reason. Cached by the SAEs' contents, the activations and the options.
 */
export async function crossComponentErrors(ctx: AnalysisContext, options: CrossComponentOptions = {},
  progress: Progress = silentProgress): Promise<CrossComponentAnalysis> {
  const sw = saeSweeps(ctx.saes, { l0: options.l0, width: options.width });
  const target = ctx.saes.find((s) => s.width === sw.width && s.l0 === (sw.l0 ?? undefined)) ?? sw.byWidth[Math.floor((sw.byWidth.length - 1) / 2)];
  if (!target) throw new InputError("saes", "no SAE to analyse");
  const ids = spreadRows(ctx.rows, options.rows ?? DEFAULT_CROSS_ROWS[ctx.profile]);
  const skipped: { name: string; reason: string }[] = [];

  // Previous layer: its SAE of the same width and L0 (else the nearest), and its activations from the same store.
  const prevHook = ctx.hook ? previousResidHook(ctx.hook) : null;
  let prev: SaeEntry | null = null;
  if (!prevHook) skipped.push({ name: SOURCE_NAMES.previous, reason: ctx.hook ? `${ctx.hook} is in the first block` : "the activations' hook is unknown" });
  else if (!ctx.store || !ctx.store.hooks.includes(prevHook)) skipped.push({ name: SOURCE_NAMES.previous, reason: `the activations hold no ${prevHook}` });
  else {
    const candidates = siblingSaes(ctx).filter((s) => s.hook === prevHook);
    const dist = (s: SaeEntry) => Math.abs(Math.log2(s.width / target.width)) * 1000 + Math.abs((s.l0 ?? 0) - (target.l0 ?? 0));
    prev = candidates.sort((a, b) => dist(a) - dist(b))[0] ?? null;
    if (!prev) skipped.push({ name: SOURCE_NAMES.previous, reason: `no SAE was trained on ${prevHook}` });
  }
  // MLP and attention outputs of the same block: a second store with the main store's config.
  const block = ctx.hook ? /^blocks\.(\d+)\./.exec(ctx.hook)?.[1] : undefined;
  const companionHooks = block !== undefined ? [`blocks.${block}.hook_attn_out`, `blocks.${block}.hook_mlp_out`] : null;
  let inputs: StoreInputs | null = null;
  if (!companionHooks || !ctx.store) {
    const reason = !ctx.store ? "the activations are a tensor file, not a store built from a model" : "the activations' hook is unknown";
    skipped.push({ name: SOURCE_NAMES.mlp, reason }, { name: SOURCE_NAMES.attention, reason });
  } else {
    const resolved = options.storeInputs ?? resolveStoreInputs(ctx, ctx.store);
    if (typeof resolved === "string") skipped.push({ name: SOURCE_NAMES.mlp, reason: resolved }, { name: SOURCE_NAMES.attention, reason: resolved });
    else inputs = resolved;
  }

  const key = {
    target: contentFingerprint(target.path), previous: prev ? contentFingerprint(prev.path) : null, activations: ctx.activationsKey,
    companion: inputs ? companionHooks : null, rows: ids.length, totalRows: ctx.rows, bootstrap: options.bootstrap ?? {},
  };
  return cached("cross-component", key, async () => {
    const t0 = Date.now();
    const d = ctx.d;
    const reconstruct = async (entry: SaeEntry, x: Float32Array) => {
      const sae = await openSae(entry.path);
      try { return sae.forward(x, { latents: false }).reconstruction; } finally { sae.dispose(); }
    };
    progress(0, 4, "cross-component: reading the target's activations");
    const x = gatherRows(ctx.activations, ids);
    const recon = await reconstruct(target, x);
    const sources: CrossSource[] = [{ name: SOURCE_NAMES.same, rows: arraySource(recon, d, SOURCE_NAMES.same) }];
    const described: { name: string; description: string }[] = [{ name: SOURCE_NAMES.same, description: `Sae(x) of the target SAE (${ctx.hook ?? "?"}, width ${target.width}, L0 ${target.l0 ?? "?"})` }];
    if (prev && prevHook && ctx.store) {
      progress(1, 4, "cross-component: the previous layer's SAE");
      const xp = gatherRows(hookSource(ctx.store, prevHook), ids);
      sources.push({ name: SOURCE_NAMES.previous, rows: arraySource(await reconstruct(prev, xp), d, SOURCE_NAMES.previous) });
      described.push({ name: SOURCE_NAMES.previous, description: `Sae(x) of ${prevHook}'s SAE of width ${prev.width}, L0 ${prev.l0 ?? "?"}` });
    }
    let companionDir: string | null = null, companionSeconds = 0;
    if (inputs && companionHooks && ctx.store) {
      progress(2, 4, "cross-component: MLP and attention outputs (building their store once)");
      const tc = Date.now();
      const comp = companionStore(ctx.store, companionHooks, inputs, progress);
      companionSeconds = (Date.now() - tc) / 1000;
      companionDir = comp.dir;
      try {
        const [attn, mlp] = companionHooks;
        sources.push({ name: SOURCE_NAMES.mlp, rows: arraySource(gatherRows(hookSource(comp, mlp), ids), comp.d, SOURCE_NAMES.mlp) });
        sources.push({ name: SOURCE_NAMES.attention, rows: arraySource(gatherRows(hookSource(comp, attn), ids), comp.d, SOURCE_NAMES.attention) });
        described.push({ name: SOURCE_NAMES.mlp, description: `${mlp} itself (no SAE is trained there; the paper uses its SAE's reconstruction)` },
          { name: SOURCE_NAMES.attention, description: `${attn} itself (the paper: the SAE reconstruction of hook_z, flattened)` });
      } finally {
        comp.close();
      }
    }
    progress(3, 4, "cross-component: fitting");
    const result = crossComponentPrediction({ target: { activations: arraySource(x, d, "x"), sae: { reconstructions: arraySource(recon, d, "Sae(x)") } }, sources },
      { bootstrap: options.bootstrap });
    progress(4, 4, "cross-component done");
    return {
      target, rows: ids.length, totalRows: ctx.rows, sources: described, skipped, companionStore: companionDir, result,
      seconds: (Date.now() - t0) / 1000, companionSeconds,
      scaledDown: `${ids.length.toLocaleString("en-US")} of ${ctx.rows.toLocaleString("en-US")} tokens, evenly spaced (the paper: 246,900); ` +
        `fits on ${result.rows.train}, test R² on ${result.rows.evaluated}`,
    };
  }, __filename);
}

/** One row per predictor: what it is, or why it was skipped. */
export function crossSourceRows(c: CrossComponentAnalysis): Row[] {
  return [
    ...c.sources.map((s) => ({ source: s.name, used: "yes", what: s.description })),
    ...c.skipped.map((s) => ({ source: s.name, used: "no", what: s.reason })),
  ];
}

// ---------------------------------------------------------------------------------------------------------------
// Claims

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const pct = (x: number) => `${(100 * x).toFixed(1)} %`;
/** Relative change (to − from)/from. */
const change = (from: number, to: number) => (to - from) / from;

/** Thresholds of the verdicts. */
export const REDUCE_THRESHOLDS = {
  /** "Lowers FVU a little": a median reduction above 0 and at most this (the paper: 3–5 %). */
  smallFvuReduction: 0.15,
  /** "Barely changes FVU_nonlinear": a median relative change at most this in size. */
  nonlinearUnchanged: 0.05,
  /** "A meaningful part" of the nonlinear error: test r2_mean_over_dims at least this (the paper: up to 0.5). */
  meaningfulR2: 0.2,
} as const;

/** Pursuit's relative reduction of fvu_nonlinear for `sae` (or the median over widths when it was not pursued). */
function pursuitNonlinearReduction(p: PursuitSweep, sae: SaeEntry): { value: number; where: string } {
  const at = p.points.find((q) => q.sae.path === sae.path);
  if (at) return { value: -change(at.encoder.fvuNonlinear.value, at.pursuit.fvuNonlinear.value), where: `width ${sae.width}, L0 ${sae.l0 ?? "?"}` };
  return { value: median(p.points.map((q) => -change(q.encoder.fvuNonlinear.value, q.pursuit.fvuNonlinear.value))), where: "median over the pursued widths" };
}

/**
 * §3.10: pursuit lowers fvu a little but barely changes fvu_nonlinear; §3.11: SAE reconstructions explain a meaningful
 * share of the nonlinear error, and the previous layer's SAE output removes more of it than pursuit does.
 */
export function reduceNonlinearClaims(p: PursuitSweep, c: CrossComponentAnalysis | null): Claim[] {
  const t = REDUCE_THRESHOLDS;
  const claims: Claim[] = [];
  const fvuRed = p.points.map((q) => -change(q.encoder.fvu.value, q.pursuit.fvu.value));
  const nlChange = p.points.map((q) => change(q.encoder.fvuNonlinear.value, q.pursuit.fvuNonlinear.value));
  const range = (xs: number[]) => `${pct(Math.min(...xs))} to ${pct(Math.max(...xs))}`;
  const some = p.points.length > 0;
  claims.push({
    claim: `Gradient pursuit at each token's own L0 lowers fvu a little (the paper: 3–5 %; here: a median reduction in (0, ${pct(t.smallFvuReduction)}])`,
    measured: some ? `median fvu reduction ${pct(median(fvuRed))} over ${p.points.length} widths at L0 ${p.l0 ?? "?"} (${range(fvuRed)})` : "no SAE pursued",
    holds: some && Number.isFinite(median(fvuRed)) ? median(fvuRed) > 0 && median(fvuRed) <= t.smallFvuReduction : null,
  });
  claims.push({
    claim: `… but barely changes fvu_nonlinear (here: a median relative change within ±${pct(t.nonlinearUnchanged)})`,
    measured: some ? `median fvu_nonlinear change ${pct(median(nlChange))} (${range(nlChange)})` : "no SAE pursued",
    holds: some && Number.isFinite(median(nlChange)) ? Math.abs(median(nlChange)) <= t.nonlinearUnchanged : null,
  });
  if (!c) return claims;
  const r2 = c.result.r2;
  const saeSources: string[] = [SOURCE_NAMES.same, SOURCE_NAMES.previous].filter((s) => r2[s]);
  const best = saeSources.reduce((b, s) => (r2[s].nonlinearError > r2[b].nonlinearError ? s : b), saeSources[0]);
  const others = Object.keys(r2).filter((s) => !saeSources.includes(s))
    .map((s) => `${s} ${r2[s].nonlinearError.toFixed(3)}`).join(", ");
  claims.push({
    claim: `Linear maps from SAE reconstructions explain a meaningful part of the nonlinear error (the paper: up to 50 %; here: best test ` +
      `r2_mean_over_dims ≥ ${t.meaningfulR2})`,
    measured: `best: ${best} ${r2[best].nonlinearError.toFixed(3)}` + saeSources.filter((s) => s !== best).map((s) => `; ${s} ${r2[s].nonlinearError.toFixed(3)}`).join("") +
      (others ? ` (raw activations: ${others})` : ""),
    holds: Number.isFinite(r2[best].nonlinearError) ? r2[best].nonlinearError >= t.meaningfulR2 : null,
  });
  const prevCell = c.result.cells.find((x) => x.source === SOURCE_NAMES.previous && x.target === "nonlinearError");
  const pursuit = pursuitNonlinearReduction(p, c.target);
  claims.push({
    claim: "Linear maps from the previous layer's SAE output reduce the nonlinear error more than gradient pursuit does",
    measured: prevCell
      ? `previous layer's SAE removes ${pct(1 - prevCell.fvu)} of NonlinearError's variance (1 − fvu of the prediction) vs pursuit's ` +
        `${pct(pursuit.value)} reduction of fvu_nonlinear (${pursuit.where})`
      : `not measured: ${c.skipped.find((s) => s.name === SOURCE_NAMES.previous)?.reason ?? "no previous layer"}`,
    holds: prevCell && Number.isFinite(prevCell.fvu) && Number.isFinite(pursuit.value) ? 1 - prevCell.fvu > pursuit.value : null,
  });
  return claims;
}

/** The headline numbers of notebook 09. */
export function reduceNonlinearNumbers(p: PursuitSweep, c: CrossComponentAnalysis | null): Record<string, unknown> {
  return {
    pursuit: {
      l0: p.l0, tokens: p.tokens,
      perWidth: p.points.map((q) => ({ width: q.sae.width, fvuEncoder: q.encoder.fvu.value, fvuPursuit: q.pursuit.fvu.value,
        fvuNonlinearEncoder: q.encoder.fvuNonlinear.value, fvuNonlinearPursuit: q.pursuit.fvuNonlinear.value, encoderL0: q.encoderL0, pursuitL0: q.pursuitL0 })),
    },
    crossComponent: c ? { target: { width: c.target.width, l0: c.target.l0 }, rows: c.rows, r2: c.result.r2, skipped: c.skipped } : null,
  };
}
