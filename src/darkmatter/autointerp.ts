// Interpretability of SAE latents by the detection protocol (paper §3.8, EleutherAI sae-auto-interp's RecallScorer):
// an explainer writes an explanation from a latent's top-activating examples, a scorer predicts from the explanation
// alone which of a mixed set of examples activate the latent, and the accuracy measures how well the explanation
// captures the latent. Used to compare SAEs trained on LinearError vs NonlinearError.
//
// Protocol, per latent (the paper's settings are the defaults):
//   * Examples are the corpus's context windows; a window activates the latent if any of its positions has
//     activation > 0, and its activation is the maximum over its positions.
//   * Latents with fewer than `minExamples` (200) activating windows are skipped; of more than `maxExamples` (2000)
//     the top ones by activation are kept.
//   * The explainer sees the top `explainExamples` (10) windows, with their per-token activations.
//   * Test set: the kept windows sorted by activation are cut into `deciles` (10) groups of equal count (group q holds
//     sorted ranks ⌊qN/10⌋ … ⌊(q+1)N/10⌋ − 1, q = 0 lowest, 9 = top, the paper's "Q10"); `perDecile` (7) windows are
//     drawn from each without replacement, never one the explainer saw (a choice: the reference implementation's
//     overlap is unclear, and showing the scorer the explainer's own examples would inflate top-decile accuracy);
//     plus `negatives` (50) windows drawn uniformly from those where the latent is never active.
//   * The scorer sees only tokens (no activations), in a seeded random order, `scoreBatchSize` (4) at a time.
//   * Accuracy = correct / scored; recall per decile; "Not" = correct-rejection rate on the negatives.
// Sampling uses a seed derived from (seed, latent), so results do not depend on the order or concurrency of latents.
//
// Intervals: Wilson score intervals for every proportion (per latent, and pooled over latents per decile, where the
// paper draws 95 % normal-approximation bars, also reported); a percentile bootstrap over latents for mean accuracy.
import { InputError } from "../errors";
import { Progress } from "../progress";
import { Interval, percentileInterval } from "../linalg/bootstrap";
import { deriveSeed, permutation, uniform53 } from "../linalg/random";

/** The corpus: context windows of token ids (the paper: 128-token windows of fineweb). */
export interface AutoInterpCorpus {
  /** Token ids of each context window. */
  contexts: readonly ArrayLike<number>[];
  /** Renders a token for text-reading explainers and scorers (default: the id as a string). */
  decode?: (token: number) => string;
}

/** One latent's non-zero activations over the corpus: parallel arrays, one entry per (context, position). */
export interface LatentActivations {
  latent: number;
  context: ArrayLike<number>;
  position: ArrayLike<number>;
  activation: ArrayLike<number>;
}

/** A window shown to the explainer: tokens with the latent's activation at each position. */
export interface ActivatingExample {
  context: number;
  tokens: number[];
  text: string[];
  /** Per position (0 where the latent is inactive). */
  activations: Float32Array;
  maxActivation: number;
}

/** A window shown to the scorer: tokens only. */
export interface ScoringExample {
  tokens: number[];
  text: string[];
}

export interface Explainer {
  explain(topExamples: ActivatingExample[]): Promise<string>;
}

/** Returns, for each example, whether it predicts the latent is active somewhere in it. */
export interface Scorer {
  score(explanation: string, examples: ScoringExample[]): Promise<boolean[]>;
}

export interface DetectionOptions {
  /** Top windows shown to the explainer (default 10). */
  explainExamples?: number;
  /** Activation quantile groups (default 10) and windows drawn per group (default 7). */
  deciles?: number;
  perDecile?: number;
  /** Non-activating windows (default 50). */
  negatives?: number;
  /** Skip latents with fewer activating windows (default 200); keep at most the top `maxExamples` (default 2000). */
  minExamples?: number;
  maxExamples?: number;
  /** Examples per scorer call (default 4). */
  scoreBatchSize?: number;
  /** Latents explained and scored at the same time (default 1; raise it for a remote LLM). */
  concurrency?: number;
  /** Sampling seed (default 0). */
  seed?: number;
  /** Coverage of every interval (default 0.95). */
  level?: number;
  /** Bootstrap over latents for the mean accuracy (default 1000 resamples, seed 0). */
  bootstrap?: { resamples?: number; seed?: number };
  progress?: Progress;
}

/** A proportion with its intervals. */
export interface Proportion {
  correct: number;
  total: number;
  /** correct / total (NaN when total = 0). */
  accuracy: number;
  wilson: { lo: number; hi: number };
  /** p ± z·√(p(1 − p)/n), clipped to [0, 1]: the paper's error bars. */
  normal: { lo: number; hi: number };
}

/** One scored example. */
export interface ScoredExample {
  context: number;
  /** Activation group (0 = lowest … deciles − 1 = top), or −1 for a negative. */
  decile: number;
  maxActivation: number;
  active: boolean;
  predicted: boolean;
}

export interface LatentDetection {
  latent: number;
  explanation: string;
  /** Activating windows found (before the maxExamples cap). */
  activatingExamples: number;
  /** Everything scored: accuracy with its Wilson interval. */
  overall: Proportion;
  /** Recall per activation group, lowest first. */
  deciles: Proportion[];
  /** Correct-rejection rate on the negatives ("Not"). */
  negatives: Proportion;
  /** (recall over all positives + correct-rejection rate) / 2: 0.5 for a scorer that ignores the explanation. */
  balancedAccuracy: number;
  examples: ScoredExample[];
}

export interface DetectionSummary {
  latents: number;
  /** Mean over latents of the per-latent accuracy, with a percentile bootstrap interval over latents. */
  meanAccuracy: { value: number; interval: Interval | null };
  meanBalancedAccuracy: { value: number; interval: Interval | null };
  /** Pooled over latents, per activation group (lowest first; the last one is the paper's Q10). */
  deciles: Proportion[];
  /** Pooled correct-rejection rate ("Not"). */
  negatives: Proportion;
}

export interface DetectionResult {
  latents: LatentDetection[];
  skipped: { latent: number; reason: string }[];
  summary: DetectionSummary;
  options: Required<Omit<DetectionOptions, "progress" | "bootstrap">> & { bootstrap: { resamples: number; seed: number } };
}

// ---------------------------------------------------------------------------------------------------------------
// Interval math.

/** Standard normal quantile (Acklam's rational approximation, relative error < 1.2e-9). */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new InputError("p", `must lie in (0, 1), got ${p}`);
  const a = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
  const b = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
  const c = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
  const tail = (q: number) => (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  if (p < 0.02425) return tail(Math.sqrt(-2 * Math.log(p)));
  if (p > 1 - 0.02425) return -tail(Math.sqrt(-2 * Math.log(1 - p)));
  const q = p - 0.5, r = q * q;
  return ((((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q) / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

/** A proportion with its Wilson score and normal-approximation intervals at `level`. */
export function binomialProportion(correct: number, total: number, level = 0.95): Proportion {
  if (!Number.isSafeInteger(total) || total < 0 || !Number.isSafeInteger(correct) || correct < 0 || correct > total) {
    throw new InputError("proportion", `needs integers 0 ≤ correct ≤ total, got ${correct} of ${total}`);
  }
  if (!(level > 0 && level < 1)) throw new InputError("level", `must lie in (0, 1), got ${level}`);
  if (total === 0) return { correct, total, accuracy: NaN, wilson: { lo: 0, hi: 1 }, normal: { lo: 0, hi: 1 } };
  const z = normalQuantile(1 - (1 - level) / 2), n = total, p = correct / n, z2 = z * z;
  const centre = (p + z2 / (2 * n)) / (1 + z2 / n);
  const half = (z / (1 + z2 / n)) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  const se = Math.sqrt((p * (1 - p)) / n);
  return {
    correct, total, accuracy: p,
    wilson: { lo: Math.max(0, centre - half), hi: Math.min(1, centre + half) },
    normal: { lo: Math.max(0, p - z * se), hi: Math.min(1, p + z * se) },
  };
}

/** Percentile bootstrap interval of the mean of `values` (resampling the values with replacement, seeded). */
export function meanWithBootstrap(values: ArrayLike<number>, options: { resamples?: number; seed?: number; level?: number } = {}): { value: number; interval: Interval | null } {
  const n = values.length;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += values[i];
  mean /= n;
  const resamples = options.resamples ?? 1000, level = options.level ?? 0.95;
  if (!Number.isSafeInteger(resamples) || resamples < 0 || resamples > 1_000_000) throw new InputError("bootstrap.resamples", `must be an integer in [0, 1000000], got ${resamples}`);
  if (n === 0 || resamples === 0) return { value: n === 0 ? NaN : mean, interval: null };
  const u = uniform53(deriveSeed(options.seed ?? 0, 7));
  const reps = new Float64Array(resamples);
  for (let r = 0; r < resamples; r++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += values[Math.floor(u() * n)];
    reps[r] = s / n;
  }
  return { value: mean, interval: percentileInterval(reps, level) };
}

/** `count` distinct latent ids drawn uniformly from 0 … latents − 1 (the paper: 1000 random latents), ascending. */
export function sampleLatents(latents: number, count: number, seed = 0): number[] {
  if (!Number.isSafeInteger(latents) || latents < 1) throw new InputError("latents", `must be a positive integer, got ${latents}`);
  if (!Number.isSafeInteger(count) || count < 0 || count > latents) throw new InputError("count", `must be an integer in [0, ${latents}], got ${count}`);
  return Array.from(permutation(latents, seed).subarray(0, count)).sort((a, b) => a - b);
}

// ---------------------------------------------------------------------------------------------------------------
// The offline explainer/scorer pair: "the latent fires on these tokens".

/** An explanation listing token ids (JSON, so a scorer can read it back; the text is for people and LLMs). */
export function tokenExplanation(tokens: readonly number[], decode: (t: number) => string = String): string {
  return JSON.stringify({ tokens, text: tokens.map(decode) });
}

/** The token ids of an explanation made by `tokenExplanation`. */
export function parseTokenExplanation(explanation: string): number[] {
  let parsed: unknown;
  try { parsed = JSON.parse(explanation); } catch { parsed = null; }
  const tokens = (parsed as { tokens?: unknown } | null)?.tokens;
  if (!Array.isArray(tokens) || !tokens.every((t) => Number.isSafeInteger(t))) {
    throw new InputError("explanation", `is not a token-list explanation ({"tokens": [ids…]}): ${explanation.slice(0, 80)}`);
  }
  return tokens as number[];
}

/**
 * Explains a latent by the `topN` (default 3) most frequent tokens at its active positions (activation > 0) in the
 * top-activating examples; ties go to the smaller token id.
 */
export class TopTokensExplainer implements Explainer {
  constructor(readonly topN = 3, readonly decode: (t: number) => string = String) {
    if (!Number.isSafeInteger(topN) || topN < 1) throw new InputError("topN", `must be a positive integer, got ${topN}`);
  }

  async explain(topExamples: ActivatingExample[]): Promise<string> {
    const counts = new Map<number, number>();
    for (const ex of topExamples) {
      for (let p = 0; p < ex.tokens.length; p++) if (ex.activations[p] > 0) counts.set(ex.tokens[p], (counts.get(ex.tokens[p]) ?? 0) + 1);
    }
    const ranked = [...counts].sort((a, b) => b[1] - a[1] || a[0] - b[0]).slice(0, this.topN).map(([t]) => t);
    return tokenExplanation(ranked, this.decode);
  }
}

/**
 * Predicts "active" for an example exactly when at least one of its positions holds one of the explanation's token
 * ids (explanations made by `tokenExplanation`). A latent that fires on exactly those tokens is detected perfectly.
 */
export class TokenMatchScorer implements Scorer {
  async score(explanation: string, examples: ScoringExample[]): Promise<boolean[]> {
    const wanted = new Set(parseTokenExplanation(explanation));
    return examples.map((ex) => ex.tokens.some((t) => wanted.has(t)));
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The protocol.

function positiveInt(name: string, v: number, min: number): number {
  if (!Number.isSafeInteger(v) || v < min) throw new InputError(name, `must be an integer ≥ ${min}, got ${v}`);
  return v;
}

function resolveOptions(o: DetectionOptions): DetectionResult["options"] {
  const r = {
    explainExamples: positiveInt("explainExamples", o.explainExamples ?? 10, 1),
    deciles: positiveInt("deciles", o.deciles ?? 10, 1),
    perDecile: positiveInt("perDecile", o.perDecile ?? 7, 0),
    negatives: positiveInt("negatives", o.negatives ?? 50, 0),
    minExamples: positiveInt("minExamples", o.minExamples ?? 200, 1),
    maxExamples: positiveInt("maxExamples", o.maxExamples ?? 2000, 1),
    scoreBatchSize: positiveInt("scoreBatchSize", o.scoreBatchSize ?? 4, 1),
    concurrency: positiveInt("concurrency", o.concurrency ?? 1, 1),
    seed: o.seed ?? 0,
    level: o.level ?? 0.95,
    bootstrap: { resamples: o.bootstrap?.resamples ?? 1000, seed: o.bootstrap?.seed ?? 0 },
  };
  if (!Number.isInteger(r.seed)) throw new InputError("seed", `must be an integer, got ${r.seed}`);
  if (!(r.level > 0 && r.level < 1)) throw new InputError("level", `must lie in (0, 1), got ${r.level}`);
  if (r.maxExamples < r.minExamples) throw new InputError("maxExamples", `(${r.maxExamples}) is below minExamples (${r.minExamples})`);
  return r;
}

function checkCorpus(corpus: AutoInterpCorpus): number[][] {
  const contexts: readonly ArrayLike<number>[] | undefined = corpus?.contexts;
  if (!Array.isArray(contexts)) throw new InputError("corpus.contexts", "must be an array of token-id arrays");
  return contexts.map((ctx: ArrayLike<number>, c: number) => {
    if (!ctx || typeof ctx.length !== "number") throw new InputError("corpus.contexts", `context ${c} is not an array of token ids`);
    const out = Array.from<number>(ctx);
    for (let p = 0; p < out.length; p++) {
      if (!Number.isSafeInteger(out[p]) || out[p] < 0) throw new InputError("corpus.contexts", `context ${c} position ${p} holds ${out[p]}, not a token id`);
    }
    return out;
  });
}

/** Per activating context: the activations at its positions; validated. */
function gatherActivations(acts: LatentActivations, contexts: number[][]): Map<number, Float32Array> {
  const name = `activations[latent ${acts.latent}]`;
  const n = acts.context?.length;
  if (typeof n !== "number" || acts.position?.length !== n || acts.activation?.length !== n) {
    throw new InputError(name, "context, position and activation must be arrays of the same length");
  }
  const byContext = new Map<number, Float32Array>();
  for (let k = 0; k < n; k++) {
    const c = acts.context[k], p = acts.position[k], a = acts.activation[k];
    if (!Number.isSafeInteger(c) || c < 0 || c >= contexts.length) throw new InputError(name, `record ${k} names context ${c}; the corpus has ${contexts.length}`);
    if (!Number.isSafeInteger(p) || p < 0 || p >= contexts[c].length) throw new InputError(name, `record ${k} names position ${p} of context ${c}, which has ${contexts[c].length} tokens`);
    if (!Number.isFinite(a)) throw new InputError(name, `record ${k} has activation ${a}`);
    if (!(a > 0)) continue; // not active
    let row = byContext.get(c);
    if (!row) byContext.set(c, (row = new Float32Array(contexts[c].length)));
    if (row[p] !== 0) throw new InputError(name, `context ${c} position ${p} appears twice`);
    row[p] = a;
  }
  return byContext;
}

function drawWithoutReplacement<T>(items: T[], count: number, u: () => number): T[] {
  const pool = items.slice();
  const k = Math.min(count, pool.length);
  for (let i = 0; i < k; i++) {
    const j = i + Math.floor(u() * (pool.length - i));
    const t = pool[i]; pool[i] = pool[j]; pool[j] = t;
  }
  return pool.slice(0, k);
}

async function detectOne(acts: LatentActivations, contexts: number[][], decode: (t: number) => string, explainer: Explainer, scorer: Scorer,
  o: DetectionResult["options"]): Promise<LatentDetection | { skipped: string }> {
  if (!Number.isSafeInteger(acts.latent)) throw new InputError("activations", `latent id ${acts.latent} is not an integer`);
  const byContext = gatherActivations(acts, contexts);
  const found = byContext.size;
  if (found < o.minExamples) return { skipped: `${found} activating contexts, fewer than minExamples = ${o.minExamples}` };
  const maxOf = new Map<number, number>();
  for (const [c, row] of byContext) { let m = 0; for (const v of row) if (v > m) m = v; maxOf.set(c, m); }
  // Strongest first; ties by context index for determinism; keep the top maxExamples.
  const kept = [...maxOf.keys()].sort((a, b) => (maxOf.get(b) as number) - (maxOf.get(a) as number) || a - b).slice(0, o.maxExamples);
  const example = (c: number): ActivatingExample => {
    const tokens = contexts[c].slice();
    return { context: c, tokens, text: tokens.map(decode), activations: Float32Array.from(byContext.get(c) as Float32Array), maxActivation: maxOf.get(c) as number };
  };
  const shown = kept.slice(0, o.explainExamples);
  const explanation = await explainer.explain(shown.map(example));
  if (typeof explanation !== "string") throw new InputError("explainer", `returned ${typeof explanation} instead of a string for latent ${acts.latent}`);

  const u = uniform53(deriveSeed(o.seed, acts.latent));
  const ascending = kept.slice().reverse();
  const N = ascending.length, seen = new Set(shown);
  const test: ScoredExample[] = [];
  for (let q = 0; q < o.deciles; q++) {
    const group = ascending.slice(Math.floor((q * N) / o.deciles), Math.floor(((q + 1) * N) / o.deciles)).filter((c) => !seen.has(c));
    for (const c of drawWithoutReplacement(group, o.perDecile, u)) test.push({ context: c, decile: q, maxActivation: maxOf.get(c) as number, active: true, predicted: false });
  }
  const inactive: number[] = [];
  for (let c = 0; c < contexts.length; c++) if (!byContext.has(c)) inactive.push(c);
  for (const c of drawWithoutReplacement(inactive, o.negatives, u)) test.push({ context: c, decile: -1, maxActivation: 0, active: false, predicted: false });
  const order = drawWithoutReplacement(test.map((_, i) => i), test.length, u);
  for (let start = 0; start < order.length; start += o.scoreBatchSize) {
    const batch = order.slice(start, start + o.scoreBatchSize);
    const preds = await scorer.score(explanation, batch.map((i) => ({ tokens: contexts[test[i].context].slice(), text: contexts[test[i].context].map(decode) })));
    if (!Array.isArray(preds) || preds.length !== batch.length || !preds.every((p) => typeof p === "boolean")) {
      throw new InputError("scorer", `returned ${Array.isArray(preds) ? preds.length + " values" : typeof preds} for ${batch.length} examples of latent ${acts.latent}; expected one boolean each`);
    }
    batch.forEach((i, k) => { test[i].predicted = preds[k]; });
  }

  const tally = (xs: ScoredExample[]) => binomialProportion(xs.filter((e) => e.predicted === e.active).length, xs.length, o.level);
  const positives = test.filter((e) => e.active), negatives = test.filter((e) => !e.active);
  const recall = tally(positives).accuracy, rejection = tally(negatives).accuracy;
  return {
    latent: acts.latent, explanation, activatingExamples: found, overall: tally(test),
    deciles: Array.from({ length: o.deciles }, (_, q) => tally(test.filter((e) => e.decile === q))),
    negatives: tally(negatives),
    balancedAccuracy: positives.length && negatives.length ? (recall + rejection) / 2 : NaN,
    examples: test,
  };
}

/**
 * Runs the detection protocol for each latent in `activations` (one entry per selected latent) and summarises it.
 * Latents with too few activating windows are listed in `skipped`.
 */
export async function detectionScores(corpus: AutoInterpCorpus, activations: readonly LatentActivations[], explainer: Explainer, scorer: Scorer,
  options: DetectionOptions = {}): Promise<DetectionResult> {
  const o = resolveOptions(options);
  const contexts = checkCorpus(corpus);
  if (!Array.isArray(activations)) throw new InputError("activations", "must be an array with one entry per latent");
  const decode = corpus.decode ?? String;
  const results: (LatentDetection | { skipped: string } | undefined)[] = new Array(activations.length);
  let next = 0, done = 0;
  const worker = async () => {
    while (next < activations.length) {
      const k = next++;
      results[k] = await detectOne(activations[k], contexts, decode, explainer, scorer, o);
      options.progress?.(++done, activations.length, "auto-interp detection");
    }
  };
  await Promise.all(Array.from({ length: Math.min(o.concurrency, Math.max(1, activations.length)) }, worker));

  const latents: LatentDetection[] = [], skipped: DetectionResult["skipped"] = [];
  results.forEach((r, k) => {
    if (!r) return;
    if ("skipped" in r) skipped.push({ latent: activations[k].latent, reason: r.skipped });
    else latents.push(r as LatentDetection); // the cast: tslab compiles without strictNullChecks, where `in` does not narrow
  });
  return { latents, skipped, summary: summariseDetection(latents, o), options: o };
}

/** Pools per-latent results: mean accuracies with bootstrap intervals over latents, and per-group pooled proportions. */
export function summariseDetection(latents: readonly LatentDetection[], options: { level?: number; deciles?: number; bootstrap?: { resamples?: number; seed?: number } } = {}): DetectionSummary {
  const level = options.level ?? 0.95;
  const groups = options.deciles ?? latents[0]?.deciles.length ?? 10;
  const boot = { resamples: options.bootstrap?.resamples ?? 1000, seed: options.bootstrap?.seed ?? 0, level };
  const pool = (pick: (l: LatentDetection) => Proportion) => {
    let c = 0, t = 0;
    for (const l of latents) { c += pick(l).correct; t += pick(l).total; }
    return binomialProportion(c, t, level);
  };
  const balanced = latents.map((l) => l.balancedAccuracy).filter(Number.isFinite);
  return {
    latents: latents.length,
    meanAccuracy: meanWithBootstrap(latents.map((l) => l.overall.accuracy).filter(Number.isFinite), boot),
    meanBalancedAccuracy: meanWithBootstrap(balanced, boot),
    deciles: Array.from({ length: groups }, (_, q) => pool((l) => l.deciles[q] ?? binomialProportion(0, 0, level))),
    negatives: pool((l) => l.negatives),
  };
}
