// Paper §3.8 on an analysis context: two SAEs of the same shape and recipe, one trained on LinearError and one on
// NonlinearError of a reference SAE (one b* fit shared by both), compared on held-out rows (fvu, dead fraction) and
// by the auto-interp detection protocol on the store's token windows. The paper's claim: the nonlinear one is worse.
//
// Caching: each trained SAE is saved (SAELens) under <analysis cache>/error-sae-models/<request hash>/<target> with
// the family trainer's train-config.json record, so it is reused whenever the same request comes back (whatever the
// evaluation options); the whole comparison (numbers, intervals, detection) is cached with `cached()` on top.
import { codeFingerprint } from "../code-version";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type { ActivationStore } from "../activations/index";
import {
  AutoInterpCorpus, detectionScores, DetectionOptions, DetectionResult, Explainer, LatentActivations, parseTokenExplanation, sampleLatents, Scorer,
  TokenMatchScorer, TopTokensExplainer,
} from "../darkmatter/autointerp";
import { InputError } from "../errors";
import {
  ActivationRows, arrayRows, fitLinearMap, heldOutSplit, LinearMapOptions, LinearMapReport, makeTarget, resolveLinearMapOptions,
  storeRows, TargetRows,
} from "../family/targets";
import {
  DEFAULT_RECIPE, hashOf, readCompleteRecord, resolveRecipe, SaeRecipe, SaeResult, saveTrainedSae, trainConfigFor, trainOnTarget,
} from "../family/train-target";
import type { Estimate } from "../darkmatter/common";
import { percentileInterval } from "../linalg/bootstrap";
import { deriveSeed, uniform53 } from "../linalg/random";
import { Progress, silentProgress } from "../progress";
import type { Claim } from "./claim";
import type { DetectionEntry, TrainedOnErrorEntry } from "../viz/figures/autointerp";
import { loadSae, Sae } from "../sae/index";
import { analysisCacheRoot, cached, contentFingerprint } from "./cache";
import { AnalysisContext } from "./context";
import { SaeEntry } from "./saes";
import { middleSae } from "./synthetic";

export type ErrorTarget = "linear" | "nonlinear";
const TARGETS: readonly ErrorTarget[] = ["linear", "nonlinear"];

/** A value with a percentile-bootstrap interval (null when it could not be computed). */
export type Bounded = Estimate;

export interface AutoInterpSetup {
  /** Explainer and scorer (default: the offline TopTokensExplainer(3) and TokenMatchScorer). */
  explainer?: Explainer;
  scorer?: Scorer;
  /** Names the explainer/scorer pair in the cache key; required with a custom pair (e.g. "llama-3.1-70b simple/recall"). */
  name?: string;
  /** Latents drawn per SAE (default 1000 in "full", 200 in "ci"; at most the width). */
  latents?: number;
  /** Tokens per example window, cut from each context's stored positions (default 32; a shorter tail is dropped). */
  windowTokens?: number;
  /** The detection protocol's settings (defaults: the paper's, except minExamples = 100 in "ci"). */
  protocol?: Omit<DetectionOptions, "progress">;
}

export interface ErrorSaeOptions {
  /** The SAE whose error is split (default: `middleSae(ctx.saes)`). */
  reference?: SaeEntry;
  /** Latents and k of the two SAEs (default: 16 × d and 32, the paper's). */
  width?: number;
  k?: number;
  /** Training tokens per SAE (default: the family recipe's 262,144 in "full", a quarter in "ci"). */
  tokens?: number;
  recipe?: Partial<SaeRecipe>;
  /** Held-out rows (default min(8192, 10 % of the rows)) and split seed (default 0). */
  heldOutRows?: number;
  splitSeed?: number;
  /** How b* is fitted (default: with an intercept, on the training rows). */
  linearMap?: LinearMapOptions;
  /** Bootstrap of the held-out fvu over tokens (default 1000 resamples, seed 0, 95 %). */
  bootstrap?: { resamples?: number; seed?: number; level?: number };
  /** Auto-interp detection settings, or false to skip it. */
  autoInterp?: AutoInterpSetup | false;
}

export interface ErrorSaeRun {
  target: ErrorTarget;
  /** Where the SAE is saved (SAELens format; loadSae reads it). */
  dir: string;
  /** The trainer's held-out numbers: fvu, L0, dead fraction (window = the held-out rows), train dead fraction. */
  result: SaeResult;
  /** Held-out fvu recomputed per token, with a bootstrap interval over the held-out tokens. */
  fvu: Bounded;
  /** Latents that fire on none of the held-out rows. */
  deadLatents: number;
}

export interface ErrorSaeDetection {
  explainer: string;
  corpus: { windows: number; windowTokens: number; contexts: number };
  /** Latents drawn per SAE (the same ids for both). */
  latentsDrawn: number;
  linear: DetectionResult;
  nonlinear: DetectionResult;
  /** Mean accuracy of the linear-error SAE minus that of the nonlinear-error one; bootstrap over latents (independent). */
  accuracyDifference: Bounded;
}

export interface ErrorSaeComparison {
  profile: "full" | "ci";
  hook: string | null;
  reference: SaeEntry;
  width: number;
  k: number;
  recipe: SaeRecipe;
  split: { seed: number; trainRows: number; heldOutRows: number };
  /** The shared b* fit and the reference SAE's own held-out numbers. */
  linearMap: LinearMapReport;
  linear: ErrorSaeRun;
  nonlinear: ErrorSaeRun;
  /** fvu(nonlinear-error SAE) − fvu(linear-error SAE), paired bootstrap over the same held-out tokens. */
  fvuDifference: Bounded;
  detection: ErrorSaeDetection | null;
  /** Why detection did not run (null when it did). */
  detectionMissing: string | null;
  /** Seconds spent: training (0 when both SAEs were reused), evaluation, detection. */
  timings: { trainingS: number; evaluationS: number; detectionS: number; trained: number; reused: number };
}

const STORE_MISSING = "auto-interp detection needs the token ids behind every activation row, which an activation store " +
  "holds and a tensor file does not; pass `activations` as a store folder (or `model` + `tokenizer` + `text` to build one). " +
  "The fvu and dead-fraction comparison above does not need them.";

/** What one trained SAE depends on: its folder is keyed by this request's hash. */
function saeRequest(ctx: AnalysisContext, refFingerprint: string, target: ErrorTarget, width: number, k: number, recipe: SaeRecipe,
  split: { heldOutRows: number; seed: number }, linearMap: Required<LinearMapOptions>): Record<string, unknown> {
  return {
    analysis: "error-saes", version: 1, code: codeFingerprint(__filename), activations: ctx.activationsKey, rows: ctx.rows, d: ctx.d,
    reference: refFingerprint, target, width, k, split, linearMap, recipe, trainConfig: trainConfigFor(width, k, recipe),
  };
}

/** The context's activations as training rows: a store hook (streamed when large) or a tensor file read into memory. */
function activationRows(ctx: AnalysisContext): ActivationRows {
  if (ctx.store && ctx.hook && ctx.store.hooks.includes(ctx.hook)) return storeRows(ctx.store, ctx.hook);
  const bytes = ctx.rows * ctx.d * 4;
  if (bytes > 2 * 1024 ** 3) {
    throw new InputError("activations", `${ctx.rows} × ${ctx.d} activations (${(bytes / 1024 ** 3).toFixed(1)} GiB) are too many to train on from a tensor file in memory; build an activation store`);
  }
  const x = new Float32Array(ctx.rows * ctx.d);
  let at = 0;
  for (const chunk of ctx.activations.chunks(8192)) { x.set(chunk, at); at += chunk.length; }
  if (at !== x.length) throw new InputError("activations", `yielded ${at / ctx.d} rows, ${ctx.rows} expected`);
  return arrayRows(x, ctx.d, ctx.sources.activations ?? "activations");
}

/** Reads rows [start, start + count) of a TrainingData. */
async function readRange(t: TargetRows["all"], start: number, count: number): Promise<Float32Array> {
  const out = new Float32Array(count * t.d);
  await t.read(Int32Array.from({ length: count }, (_, i) => start + i), out);
  return out;
}

/** Per held-out token: ‖t − t̂‖² and ‖t − t̄‖² (t̄ the held-out mean), the two sums whose ratio is the held-out fvu. */
async function perTokenFvuTerms(sae: Sae, heldOut: TargetRows["heldOut"]): Promise<{ residual: Float64Array; centred: Float64Array }> {
  const n = heldOut.rows, d = heldOut.d;
  const t = await readRange(heldOut, 0, n);
  const recon = sae.forward(t, { latents: false }).reconstruction;
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j] += t[i * d + j];
  for (let j = 0; j < d; j++) mean[j] /= n;
  const residual = new Float64Array(n), centred = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let r = 0, c = 0;
    for (let j = 0; j < d; j++) {
      const v = t[i * d + j];
      r += (v - recon[i * d + j]) ** 2;
      c += (v - mean[j]) ** 2;
    }
    residual[i] = r;
    centred[i] = c;
  }
  return { residual, centred };
}

const sum = (a: Float64Array) => { let s = 0; for (const v of a) s += v; return s; };

/**
 * Held-out fvu of both SAEs and their difference, with percentile-bootstrap intervals from the same resamples of the
 * held-out tokens (paired: both SAEs see the same tokens). The centring mean is held fixed at the full held-out mean.
 */
export function fvuBootstrap(lin: { residual: Float64Array; centred: Float64Array }, nl: { residual: Float64Array; centred: Float64Array },
  options: { resamples?: number; seed?: number; level?: number } = {}): { linear: Bounded; nonlinear: Bounded; difference: Bounded } {
  const n = lin.residual.length;
  if (nl.residual.length !== n) throw new InputError("fvuBootstrap", `the two SAEs were evaluated on ${n} and ${nl.residual.length} tokens`);
  const resamples = options.resamples ?? 1000, level = options.level ?? 0.95;
  const value = { lin: sum(lin.residual) / sum(lin.centred), nl: sum(nl.residual) / sum(nl.centred) };
  if (resamples === 0 || n < 2) {
    return { linear: { value: value.lin, interval: null }, nonlinear: { value: value.nl, interval: null }, difference: { value: value.nl - value.lin, interval: null } };
  }
  const u = uniform53(deriveSeed(options.seed ?? 0, 11));
  const reps = { lin: new Float64Array(resamples), nl: new Float64Array(resamples), diff: new Float64Array(resamples) };
  for (let b = 0; b < resamples; b++) {
    let lr = 0, lc = 0, nr = 0, nc = 0;
    for (let i = 0; i < n; i++) {
      const t = Math.floor(u() * n);
      lr += lin.residual[t]; lc += lin.centred[t]; nr += nl.residual[t]; nc += nl.centred[t];
    }
    reps.lin[b] = lr / lc; reps.nl[b] = nr / nc; reps.diff[b] = nr / nc - lr / lc;
  }
  const iv = (r: Float64Array) => percentileInterval(r, level);
  return {
    linear: { value: value.lin, interval: iv(reps.lin) },
    nonlinear: { value: value.nl, interval: iv(reps.nl) },
    difference: { value: value.nl - value.lin, interval: iv(reps.diff) },
  };
}

/** mean(a) − mean(b) with a percentile bootstrap resampling a and b independently. */
export function differenceOfMeans(a: readonly number[], b: readonly number[], options: { resamples?: number; seed?: number; level?: number } = {}): Bounded {
  const mean = (xs: readonly number[]) => xs.reduce((s, v) => s + v, 0) / xs.length;
  const value = a.length && b.length ? mean(a) - mean(b) : NaN;
  const resamples = options.resamples ?? 1000, level = options.level ?? 0.95;
  if (!(a.length >= 2 && b.length >= 2) || resamples === 0) return { value, interval: null };
  const u = uniform53(deriveSeed(options.seed ?? 0, 13));
  const reps = new Float64Array(resamples);
  for (let r = 0; r < resamples; r++) {
    let sa = 0, sb = 0;
    for (let i = 0; i < a.length; i++) sa += a[Math.floor(u() * a.length)];
    for (let i = 0; i < b.length; i++) sb += b[Math.floor(u() * b.length)];
    reps[r] = sa / a.length - sb / b.length;
  }
  return { value, interval: percentileInterval(reps, level) };
}

/** The store's contexts cut into windows of `windowTokens` consecutive stored positions; each row's window and offset. */
export function storeWindows(store: Pick<ActivationStore, "rows" | "tokens" | "rowInfo" | "manifest">, windowTokens: number):
  { contexts: number[][]; rowWindow: Int32Array; rowOffset: Int32Array; contextCount: number } {
  if (!Number.isSafeInteger(windowTokens) || windowTokens < 1) throw new InputError("autoInterp.windowTokens", `must be a positive integer, got ${windowTokens}`);
  const info = store.rowInfo(0, store.rows);
  const tokens = store.tokens();
  const ctxLen = store.manifest.config.ctx; // tokens() is [contexts, ctx]
  const rowWindow = new Int32Array(store.rows).fill(-1), rowOffset = new Int32Array(store.rows).fill(-1);
  const contexts: number[][] = [];
  let contextCount = 0;
  for (let r = 0; r < store.rows;) {
    const c = info.context[r];
    let end = r;
    while (end < store.rows && info.context[end] === c) end++;
    contextCount++;
    for (let w = r; w + windowTokens <= end; w += windowTokens) {
      const win: number[] = [];
      for (let i = w; i < w + windowTokens; i++) {
        rowWindow[i] = contexts.length;
        rowOffset[i] = i - w;
        win.push(tokens[c * ctxLen + info.position[i]]);
      }
      contexts.push(win);
    }
    r = end;
  }
  return { contexts, rowWindow, rowOffset, contextCount };
}

/** Each drawn latent's activations over the windows, from the SAE run on every row of its target. */
async function latentActivations(sae: Sae, all: TargetRows["all"], latents: readonly number[], rowWindow: Int32Array, rowOffset: Int32Array,
  progress: Progress, label: string): Promise<LatentActivations[]> {
  const slot = new Int32Array(sae.d_sae).fill(-1);
  latents.forEach((l, i) => { slot[l] = i; });
  const acc = latents.map(() => ({ context: [] as number[], position: [] as number[], activation: [] as number[] }));
  const chunk = 4096;
  for (let start = 0; start < all.rows; start += chunk) {
    const rows = Math.min(chunk, all.rows - start);
    const f = sae.forward(await readRange(all, start, rows), { latents: true }).latents!;
    for (let t = 0; t < rows; t++) {
      const w = rowWindow[start + t];
      if (w < 0) continue;
      for (let e = f.rowPtr[t]; e < f.rowPtr[t + 1]; e++) {
        const s = slot[f.indices[e]];
        if (s < 0) continue;
        acc[s].context.push(w); acc[s].position.push(rowOffset[start + t]); acc[s].activation.push(f.values[e]);
      }
    }
    progress(start + rows, all.rows, `${label}: latent activations`);
  }
  return latents.map((latent, i) => ({ latent, ...acc[i] }));
}

/**
 * §3.8 on `ctx`: trains (or reuses) an SAE on LinearError and one on NonlinearError of the reference SAE, compares
 * held-out fvu (with a paired bootstrap) and dead fractions, and runs the detection protocol on both when the
 * activations come from a store. Cached by everything the result depends on.
 */
export async function errorSaes(ctx: AnalysisContext, options: ErrorSaeOptions = {}, progress: Progress = silentProgress): Promise<ErrorSaeComparison> {
  const reference = options.reference ?? middleSae(ctx.saes);
  const width = options.width ?? 16 * ctx.d;
  const k = Math.min(options.k ?? 32, width);
  const recipe = resolveRecipe({
    ...options.recipe,
    tokens: options.tokens ?? options.recipe?.tokens ?? (ctx.profile === "ci" ? DEFAULT_RECIPE.tokens / 4 : DEFAULT_RECIPE.tokens),
  });
  const heldOutRows = options.heldOutRows ?? Math.min(8192, Math.max(1, Math.round(0.1 * ctx.rows)));
  const splitSeed = options.splitSeed ?? 0;
  const linearMapOptions = resolveLinearMapOptions(options.linearMap);
  const bootstrap = { resamples: options.bootstrap?.resamples ?? 1000, seed: options.bootstrap?.seed ?? 0, level: options.bootstrap?.level ?? 0.95 };
  const ai = options.autoInterp === false ? null : options.autoInterp ?? {};
  if (ai && (ai.explainer || ai.scorer) && !ai.name) throw new InputError("autoInterp.name", "name a custom explainer/scorer pair: the name keys the cache");
  const interp = ai && {
    name: ai.name ?? "TopTokensExplainer(3) + TokenMatchScorer",
    latents: Math.min(ai.latents ?? (ctx.profile === "ci" ? 200 : 1000), width),
    windowTokens: ai.windowTokens ?? 32,
    protocol: { ...(ctx.profile === "ci" ? { minExamples: 100 } : {}), ...ai.protocol },
  };
  const refFingerprint = contentFingerprint(reference.path);
  const key = {
    reference: refFingerprint, activations: ctx.activationsKey, width, k, recipe, heldOutRows, splitSeed, linearMap: linearMapOptions,
    bootstrap, interp: interp && ctx.store ? interp : null,
  };
  const result = await cached("error-saes", key, async (): Promise<Omit<ErrorSaeComparison, "reference" | "profile">> => {
    const ref = await loadSae(reference.path);
    try {
      if (ref.d_in !== ctx.d) throw new InputError(reference.path, `has d_in = ${ref.d_in} but the activations have d = ${ctx.d}`);
      const rows = activationRows(ctx);
      const split = heldOutSplit(rows.rows, heldOutRows, splitSeed);
      progress(0, 1, "fitting b* (x → SaeError) of the reference SAE");
      const map = fitLinearMap(rows, ref, split, linearMapOptions);
      const root = analysisCacheRoot() ?? fs.mkdtempSync(path.join(os.tmpdir(), "dm-error-saes-"));
      const timings = { trainingS: 0, evaluationS: 0, detectionS: 0, trained: 0, reused: 0 };
      const runs: Partial<Record<ErrorTarget, { run: Omit<ErrorSaeRun, "fvu">; terms: { residual: Float64Array; centred: Float64Array }; target: TargetRows; sae: Sae }>> = {};
      const loaded: Sae[] = []; // disposed at the end, whatever fails
      try {
        for (const target of TARGETS) {
          const t = makeTarget(rows, { target, split, reference: ref, referencePath: reference.path, linearMap: map });
          const request = saeRequest(ctx, refFingerprint, target, width, k, recipe, { heldOutRows, seed: splitSeed }, linearMapOptions);
          const hash = hashOf(request);
          const dir = path.join(root, "error-sae-models", hash, target);
          const started = Date.now();
          let record = readCompleteRecord(dir, hash);
          let sae: Sae;
          if (record) {
            sae = await loadSae(dir);
            loaded.push(sae);
            timings.reused++;
          } else {
            const trained = await trainOnTarget(t, width, k, recipe, {
              hook: ctx.hook, progress: (s, n, label) => progress(s, n, `${target === "linear" ? "LinearError" : "NonlinearError"} SAE: ${label}`),
            });
            sae = trained.sae;
            loaded.push(sae);
            record = saveTrainedSae(dir, trained, request);
            timings.trained++;
            timings.trainingS += (Date.now() - started) / 1000;
          }
          const evalStart = Date.now();
          const terms = await perTokenFvuTerms(sae, t.heldOut);
          timings.evaluationS += (Date.now() - evalStart) / 1000;
          const result = record.result;
          runs[target] = { run: { target, dir, result, deadLatents: Math.round(result.deadFraction * result.width) }, terms, target: t, sae };
        }
        const lin = runs.linear!, nl = runs.nonlinear!;
        const fvu = fvuBootstrap(lin.terms, nl.terms, bootstrap);

        let detection: ErrorSaeDetection | null = null;
        let detectionMissing: string | null = null;
        if (!interp) detectionMissing = "auto-interp detection was switched off (autoInterp: false)";
        else if (!ctx.store) detectionMissing = STORE_MISSING;
        else {
          const detStart = Date.now();
          const windows = storeWindows(ctx.store, interp.windowTokens);
          const tokenizer = ctx.model?.tokenizer;
          const decode = tokenizer ? (t: number) => tokenizer.piece(t) : String;
          const corpus: AutoInterpCorpus = { contexts: windows.contexts, decode };
          const explainer = ai!.explainer ?? new TopTokensExplainer(3, decode);
          const scorer = ai!.scorer ?? new TokenMatchScorer();
          const drawn = sampleLatents(width, interp.latents, interp.protocol.seed ?? 0);
          const results: Partial<Record<ErrorTarget, DetectionResult>> = {};
          for (const target of TARGETS) {
            const r = runs[target]!;
            const acts = await latentActivations(r.sae, r.target.all, drawn, windows.rowWindow, windows.rowOffset, progress, target);
            results[target] = await detectionScores(corpus, acts, explainer, scorer, {
              ...interp.protocol, progress: (s, n) => progress(s, n, `${target}: detection`),
            });
          }
          const accuracies = (r: DetectionResult) => r.latents.map((l) => l.overall.accuracy).filter(Number.isFinite);
          detection = {
            explainer: interp.name, latentsDrawn: drawn.length,
            corpus: { windows: windows.contexts.length, windowTokens: interp.windowTokens, contexts: windows.contextCount },
            linear: results.linear!, nonlinear: results.nonlinear!,
            accuracyDifference: differenceOfMeans(accuracies(results.linear!), accuracies(results.nonlinear!), bootstrap),
          };
          timings.detectionS = (Date.now() - detStart) / 1000;
        }
        return {
          hook: ctx.hook ?? null, width, k, recipe,
          split: { seed: splitSeed, trainRows: split.train.length, heldOutRows: split.heldOut.length },
          linearMap: map.report,
          linear: { ...lin.run, fvu: fvu.linear }, nonlinear: { ...nl.run, fvu: fvu.nonlinear },
          fvuDifference: fvu.difference, detection, detectionMissing, timings,
        };
      } finally {
        for (const sae of loaded) sae.dispose();
      }
    } finally {
      ref.dispose();
    }
  }, __filename);
  progress(1, 1, "error-SAE comparison done");
  return { ...result, reference, profile: ctx.profile };
}

const f3 = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : "n/a");
const f4 = (x: number) => (Number.isFinite(x) ? x.toFixed(4) : "n/a");
const ivText = (b: Bounded, f = f4) => (b.interval ? `[${f(b.interval.lo)}, ${f(b.interval.hi)}]` : "(no interval)");

/** true when the interval lies above 0, false when below, null when it contains 0 (or there is none). */
function signOf(b: Bounded): boolean | null {
  if (!b.interval || !Number.isFinite(b.interval.lo) || !Number.isFinite(b.interval.hi)) return null;
  if (b.interval.lo > 0) return true;
  if (b.interval.hi < 0) return false;
  return null;
}

/**
 * §3.8's claims, each from measured numbers:
 *  1. the SAE trained on NonlinearError reaches a higher held-out fvu: the paired 95 % bootstrap interval of
 *     fvu(nonlinear) − fvu(linear) lies above 0 (below 0: false; containing 0: undecided);
 *  2. it has more dead latents (firing on none of the held-out rows): a count, so no interval; equal counts do not
 *     support the claim;
 *  3. its latents are less interpretable: the 95 % bootstrap interval of mean detection accuracy (linear − nonlinear)
 *     lies above 0 (below: false; containing 0: undecided; not measured: undecided).
 */
export function errorSaeClaims(c: Pick<ErrorSaeComparison, "linear" | "nonlinear" | "fvuDifference" | "detection" | "detectionMissing">): Claim[] {
  const lin = c.linear, nl = c.nonlinear;
  const det = c.detection;
  const acc = (r: DetectionResult) => r.summary.meanAccuracy;
  return [
    { claim: "An SAE trained on NonlinearError reaches a worse (higher) held-out fvu than one trained on LinearError",
      measured: `fvu ${f4(nl.fvu.value)} ${ivText(nl.fvu)} (nonlinear) vs ${f4(lin.fvu.value)} ${ivText(lin.fvu)} (linear); ` +
        `difference ${f4(c.fvuDifference.value)} ${ivText(c.fvuDifference)} (paired bootstrap over held-out tokens; holds if above 0)`,
      holds: signOf(c.fvuDifference) },
    { claim: "The SAE trained on NonlinearError has more dead latents",
      measured: `dead on the ${lin.result.deadWindowTokens} held-out rows: ${nl.deadLatents} of ${nl.result.width} (${f3(nl.result.deadFraction)}) ` +
        `vs ${lin.deadLatents} of ${lin.result.width} (${f3(lin.result.deadFraction)}) (linear)`,
      holds: Number.isFinite(nl.result.deadFraction) && Number.isFinite(lin.result.deadFraction) ? nl.result.deadFraction > lin.result.deadFraction : null },
    det
      ? { claim: "Latents of the SAE trained on NonlinearError are less interpretable (lower detection accuracy)",
        measured: `mean detection accuracy ${f3(acc(det.linear).value)} over ${det.linear.summary.latents} latents (linear) vs ` +
          `${f3(acc(det.nonlinear).value)} over ${det.nonlinear.summary.latents} (nonlinear); difference ${f3(det.accuracyDifference.value)} ` +
          `${ivText(det.accuracyDifference, f3)} (bootstrap over latents; holds if above 0); explainer: ${det.explainer}`,
        holds: signOf(det.accuracyDifference) }
      : { claim: "Latents of the SAE trained on NonlinearError are less interpretable (lower detection accuracy)",
        measured: `not measured: ${c.detectionMissing ?? "no detection result"}`, holds: null },
  ];
}

/** One row per SAE: held-out fvu with its interval, L0, dead latents, training tokens. */
export function errorSaeRows(c: ErrorSaeComparison): Record<string, number | string | null>[] {
  return [c.linear, c.nonlinear].map((r) => ({
    "trained on": r.target === "linear" ? "LinearError" : "NonlinearError",
    width: r.result.width, k: r.result.k, "L0 (held out)": r.result.l0,
    fvu: r.fvu.value, fvu_ci_lo: r.fvu.interval?.lo ?? null, fvu_ci_hi: r.fvu.interval?.hi ?? null,
    "fvu (trainer)": r.result.fvu,
    dead_fraction: r.result.deadFraction, "dead latents": r.deadLatents, "dead window (tokens)": r.result.deadWindowTokens,
    "train dead fraction": r.result.trainDeadFraction, "training tokens": r.result.tokensSeen, "train s": r.result.wallTimeS,
  }));
}

/** The two SAEs as entries of `trainedOnErrorFigure` (held-out fvu with its interval, dead fraction). */
export function errorSaeFigureEntries(c: Pick<ErrorSaeComparison, "linear" | "nonlinear">): TrainedOnErrorEntry[] {
  return [c.linear, c.nonlinear].map((r) => ({
    label: r.target === "linear" ? "LinearError" : "NonlinearError", trainedOn: r.target === "linear" ? "linearError" : "nonlinearError",
    fvu: r.fvu, deadFraction: r.result.deadFraction,
  }));
}

/** The two detection results as entries of `detectionFigure` / `detectionSummaryRows` (empty without detection). */
export function detectionEntries(c: Pick<ErrorSaeComparison, "detection">): DetectionEntry[] {
  if (!c.detection) return [];
  return [
    { label: "trained on LinearError", result: c.detection.linear, trainedOn: "linearError" },
    { label: "trained on NonlinearError", result: c.detection.nonlinear, trainedOn: "nonlinearError" },
  ];
}

/**
 * Per SAE, the first `count` scored latents by id (the latents were drawn at random, so this is a random sample):
 * explanation (a token-list explanation shows its decoded tokens, any other is shown as written), activating windows
 * and accuracy.
 */
export function detectionExampleRows(c: Pick<ErrorSaeComparison, "detection">, count = 6): Record<string, number | string>[] {
  if (!c.detection) return [];
  const text = (explanation: string) => {
    try {
      parseTokenExplanation(explanation);
      return (JSON.parse(explanation) as { text: string[] }).text.map((t) => JSON.stringify(t)).join(" ");
    } catch {
      return explanation;
    }
  };
  return TARGETS.flatMap((target) => [...c.detection![target].latents]
    .sort((a, b) => a.latent - b.latent).slice(0, count)
    .map((l) => ({
      "trained on": target === "linear" ? "LinearError" : "NonlinearError", latent: l.latent, explanation: text(l.explanation),
      "activating windows": l.activatingExamples, accuracy: l.overall.accuracy,
    })));
}

/** What was used or scaled down here versus the paper, as table rows. */
export function errorSaeSetupRows(c: ErrorSaeComparison): { item: string; here: string; paper: string }[] {
  const m = c.linearMap;
  const det = c.detection;
  return [
    { item: "reference SAE", here: `width ${c.reference.width}, nominal L0 ${c.reference.l0 ?? "?"} (${c.reference.path})`, paper: "Gemma Scope 2B L12, 16k, L0 82" },
    { item: "b*", here: `${m.intercept ? "with" : "no"} intercept, fitted on ${m.fitOn} rows (${m.fitRows}); held-out reference fvu ${f4(m.referenceFvu)}, fvu_nonlinear ${f4(m.referenceFvuNonlinear)}`, paper: "no intercept, all 246,900 tokens, bf16" },
    { item: "trained SAEs", here: `TopK, width ${c.width}, k ${c.k}`, paper: "TopK, 36,864 latents (16 × 2304), k 32" },
    { item: "training tokens per SAE", here: c.recipe.tokens.toLocaleString("en-US"), paper: "RedPajama sample, up to the full set (≥ 500M tokens)" },
    { item: "held-out rows", here: `${c.split.heldOutRows} (seed ${c.split.seed})`, paper: "training-time metrics (wandb)" },
    { item: "detection corpus", here: det ? `${det.corpus.windows} windows of ${det.corpus.windowTokens} tokens from ${det.corpus.contexts} contexts` : "not run", paper: "10M fineweb tokens, 128-token windows" },
    { item: "latents drawn", here: det ? String(det.latentsDrawn) : "—", paper: "1000" },
    { item: "explainer / scorer", here: det ? det.explainer : "—", paper: "Llama-3.1-70B SimpleExplainer / RecallScorer" },
    { item: "min / max activating windows", here: det ? `${det.linear.options.minExamples} / ${det.linear.options.maxExamples}` : "—", paper: "200 / 2000" },
  ];
}

/** Headline numbers for the notebook's record. */
export function errorSaeNumbers(c: ErrorSaeComparison): Record<string, unknown> {
  const det = c.detection;
  const d = (r: DetectionResult) => ({ latents: r.summary.latents, skipped: r.skipped.length, meanAccuracy: r.summary.meanAccuracy.value,
    interval: r.summary.meanAccuracy.interval ? [r.summary.meanAccuracy.interval.lo, r.summary.meanAccuracy.interval.hi] : null });
  const b = (e: Bounded) => ({ value: e.value, interval: e.interval ? [e.interval.lo, e.interval.hi] : null });
  return {
    reference: c.reference.path, width: c.width, k: c.k, tokens: c.recipe.tokens,
    fvu: { linear: b(c.linear.fvu), nonlinear: b(c.nonlinear.fvu), difference: b(c.fvuDifference) },
    deadFraction: { linear: c.linear.result.deadFraction, nonlinear: c.nonlinear.result.deadFraction },
    detection: det ? { linear: d(det.linear), nonlinear: d(det.nonlinear), difference: b(det.accuracyDifference) } : c.detectionMissing,
    timings: c.timings,
  };
}
