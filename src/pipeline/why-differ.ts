// Why the paper's headline numbers (vector R² ≈ 0.5, squared-norm R² > 0.9, Gemma Scope JumpReLU SAEs on Gemma 2)
// do not appear on this project's small models. One baseline decomposition (the default model, its TopK family,
// W/d ≈ 8, L0 ≈ 16, intercept, random token split), then one factor at a time changed with everything else held
// fixed: width ratio W/d, intercept, split rule, position range, spread of ‖x‖, SAE training tokens, architecture and
// model size. Each level is measured with bootstrap intervals and cached like every analysis. A level is "paper-like"
// when it is how the paper's setting differs from ours; only those count when asking which factor explains the gap.
import { decomposeSaeError } from "../darkmatter/decomposition";
import { Estimate, SaeInput, SaeOutputs, resolveRoles } from "../darkmatter/common";
import { InputError } from "../errors";
import { DEFAULT_FAMILY_ROOT, FamilyProfile } from "../family/default-family";
import { defaultFamilyPlan } from "../family/default-family";
import { generatedSource, readChunks } from "../linalg/rows";
import { permutation } from "../linalg/random";
import { NO_ROLE, TEST, TRAIN, TrainTestSplit } from "../linalg/split";
import { Progress, silentProgress } from "../progress";
import type { Claim } from "./claim";
import { loadSae, Sae } from "../sae/index";
import { cached, contentFingerprint } from "./cache";
import { AnalysisContext, NotebookParameters, openContext } from "./context";
import { saeOutputs } from "./decompose-family";
import { Architecture, ARCHITECTURES, ensureArchitectureFamily, ensureLadderFamily, ladderModels, ladderPlan, LadderModel } from "./ladder";
import { listSaes, SaeEntry } from "./saes";

/** The paper's headline values: "about half" of the error vector, "over 90 %" of its squared norm. */
export const PAPER_HEADLINE = { vectorR2: 0.5, normR2: 0.9 } as const;
/** Gemma Scope's width ratios on Gemma 2 (16k on d 3584 … 1M on d 2304): the W/d range of the paper's SAEs. */
export const PAPER_WIDTH_RATIO = { min: 16384 / 3584, max: 2 ** 20 / 2304 } as const;

export type FactorName = "width ratio W/d" | "intercept" | "split rule" | "position range" | "spread of ‖x‖" |
  "SAE training tokens" | "architecture" | "model size";

/** How the rows are used: the settings the decomposition-side factors change. */
export interface Variant {
  intercept: boolean;
  /** Random token split (the paper's), whole contexts held out, or fit and evaluate on every row. */
  split: "random" | "by-context" | "in-sample";
  /** Rows at earlier positions are left out (null: every stored position). */
  minPosition: number | null;
  /** Raw x; x and SaeError scaled per token to ‖x‖ = √d; or only tokens with ‖x‖ in its middle half. */
  norm: "raw" | "unit" | "middle-half";
}
export const BASE_VARIANT: Variant = { intercept: true, split: "random", minPosition: null, norm: "raw" };

/** An Estimate without its replicates (kept small for tables and the cache). */
export interface Measure { value: number; lo: number | null; hi: number | null }

/** One measured setting. */
export interface StudyPoint {
  factor: FactorName;
  level: string;
  baseline: boolean;
  /** This level is (closer to) the paper's setting than the baseline. */
  paperLike: boolean;
  model: string;
  d: number;
  architecture: Architecture;
  width: number;
  widthRatio: number;
  l0Nominal: number | null;
  l0Measured: number;
  /** Tokens the SAE was trained on (null when not recorded). */
  trainTokens: number | null;
  variant: Variant;
  vectorR2: Measure;
  normR2: Measure;
  fvu: Measure;
  fvuNonlinear: Measure;
  trainRows: number;
  evaluatedRows: number;
  /** Coefficient of variation (std / mean) of ‖x‖² over the evaluated rows: the spread of token norms. */
  normSpread: number;
}

export interface FactorEffect {
  factor: FactorName;
  description: string;
  points: StudyPoint[];
  /**
   * Per metric, the largest share of the baseline's gap to the paper that a paper-like level closes (1 = all of it,
   * negative = moves away); null when there is no gap or no paper-like level besides the baseline was measured.
   */
  closed: { vectorR2: number | null; normR2: number | null };
  /** The largest |change| from the baseline over all levels, paper-like or not (how sensitive the metric is). */
  sensitivity: { vectorR2: number; normR2: number };
  /** Levels that could not be measured here, with the reason. */
  missing: string[];
}

export interface WhyDifferResult {
  profile: FamilyProfile;
  paper: typeof PAPER_HEADLINE;
  baseline: StudyPoint;
  factors: FactorEffect[];
  bootstrapResamples: number;
}

export interface WhyDifferOptions {
  profile?: FamilyProfile;
  /** Architectures compared (default both; one whose trainer is missing is reported as missing). */
  architectures?: Architecture[];
  /** Bootstrap resamples per measurement (default 100, ci 30). */
  bootstrap?: number;
  /** Ladder models (default: data/ladder/d64, data/model, data/ladder/d256, those that exist). */
  models?: LadderModel[];
  /**
   * A notebook's parameters naming the user's SAEs and activations: the decomposition-side factors run on them, and
   * the factors that need the project's models (training tokens, architecture, model size) are reported as missing.
   */
  params?: NotebookParameters;
}

const measure = (e: Estimate): Measure => ({ value: e.value, lo: e.interval?.lo ?? null, hi: e.interval?.hi ?? null });

/** ‖x‖ per row. */
function rowNorms(ctx: AnalysisContext): Float64Array {
  const out = new Float64Array(ctx.rows);
  for (const { data, start, rows } of readChunks(ctx.activations, 8192)) {
    for (let t = 0; t < rows; t++) {
      let s = 0;
      for (let j = 0; j < ctx.d; j++) { const v = data[t * ctx.d + j]; s += v * v; }
      out[start + t] = Math.sqrt(s);
    }
  }
  return out;
}

/** Context index and position of each row (store layout: K kept positions per context, from `first`). */
function rowLayout(ctx: AnalysisContext): { first: number; perContext: number } {
  if (!ctx.store) throw new InputError("activations", "the position and by-context factors need an activation store (positions per row)");
  return ctx.store.manifest.positions;
}

/** The rows a variant fits on and evaluates, as a split (null for in-sample). */
export function variantSplit(ctx: AnalysisContext, v: Variant, norms: Float64Array): TrainTestSplit | null {
  if (v.split === "in-sample") {
    if (v.minPosition !== null || v.norm === "middle-half") throw new InputError("variant", "in-sample fits use every row");
    return null;
  }
  let roles: Uint8Array;
  if (v.split === "random") {
    roles = resolveRoles(ctx.rows, {}).roles;
  } else {
    const { perContext } = rowLayout(ctx);
    const contexts = Math.ceil(ctx.rows / perContext), perm = permutation(contexts, 0);
    const isTrain = new Uint8Array(contexts);
    for (let i = 0; i < Math.round(0.6 * contexts); i++) isTrain[perm[i]] = 1;
    roles = new Uint8Array(ctx.rows);
    for (let r = 0; r < ctx.rows; r++) roles[r] = isTrain[Math.floor(r / perContext)] ? TRAIN : TEST;
  }
  if (v.minPosition !== null) {
    const { first, perContext } = rowLayout(ctx);
    for (let r = 0; r < ctx.rows; r++) if (first + (r % perContext) < v.minPosition) roles[r] = NO_ROLE;
  }
  if (v.norm === "middle-half") {
    const sorted = Float64Array.from(norms).sort();
    const lo = sorted[Math.floor(0.25 * (sorted.length - 1))], hi = sorted[Math.ceil(0.75 * (sorted.length - 1))];
    for (let r = 0; r < ctx.rows; r++) if (norms[r] < lo || norms[r] > hi) roles[r] = NO_ROLE;
  }
  let trainRows = 0, testRows = 0;
  for (const r of roles) { if (r === TRAIN) trainRows++; else if (r === TEST) testRows++; }
  return { rows: ctx.rows, seed: 0, roles, trainRows, testRows };
}

/** x and SaeError both scaled per token by √d/‖x‖, so every token has the same ‖x‖ (the SAE still sees raw x). */
function unitNormInput(ctx: AnalysisContext, sae: Sae, norms: Float64Array): { input: SaeInput; meanL0: () => number } {
  const d = ctx.d, scale = (r: number) => (norms[r] > 0 ? Math.sqrt(d) / norms[r] : 0);
  const activations = generatedSource(ctx.rows, d, function* (rowsPerChunk: number) {
    for (const { data, start, rows } of readChunks(ctx.activations, rowsPerChunk)) {
      const out = new Float32Array(rows * d);
      for (let t = 0; t < rows; t++) { const s = scale(start + t); for (let j = 0; j < d; j++) out[t * d + j] = data[t * d + j] * s; }
      yield out;
    }
  }, "x scaled to ‖x‖ = √d");
  let l0Sum = 0, l0Rows = 0;
  const errors = generatedSource(ctx.rows, d, function* (rowsPerChunk: number) {
    for (const { data, start, rows } of readChunks(ctx.activations, rowsPerChunk)) {
      const x = data instanceof Float32Array ? data : Float32Array.from(data);
      const f = sae.forward(x, { latents: false });
      l0Sum += f.meanL0 * rows; l0Rows += rows;
      const out = new Float32Array(rows * d);
      for (let t = 0; t < rows; t++) { const s = scale(start + t); for (let j = 0; j < d; j++) out[t * d + j] = (x[t * d + j] - f.reconstruction[t * d + j]) * s; }
      yield out;
    }
  }, "SaeError scaled by √d/‖x‖");
  const outputs: SaeOutputs = { errors };
  return { input: { activations, sae: outputs }, meanL0: () => l0Sum / l0Rows };
}

/** The last SAE's outputs and the last activations' norms, reused across the variants measured one after another. */
const memo: { key: string; norms: Float64Array | null; entry: string; sae: Sae | null; outputs: ReturnType<typeof saeOutputs> | null } =
  { key: "", norms: null, entry: "", sae: null, outputs: null };
function releaseMemo(): void { memo.sae?.dispose(); memo.sae = null; memo.outputs = null; memo.entry = ""; memo.norms = null; memo.key = ""; }

/** One SAE's numbers under one variant (what measureVariant returns). */
export type Measured = Pick<StudyPoint, "l0Measured" | "vectorR2" | "normR2" | "fvu" | "fvuNonlinear" | "trainRows" | "evaluatedRows" | "normSpread">;

/** Decomposes one SAE's error under a variant, with bootstrap intervals (cached by SAE contents, activations, variant). */
export async function measureVariant(ctx: AnalysisContext, entry: SaeEntry, variant: Variant, resamples: number): Promise<Measured> {
  const key = { version: 1, sae: contentFingerprint(entry.path), activations: ctx.activationsKey, variant, resamples };
  return cached("why-differ", key, async () => {
    if (memo.key !== ctx.activationsKey) { releaseMemo(); memo.key = ctx.activationsKey; memo.norms = rowNorms(ctx); }
    if (memo.entry !== entry.path) { memo.sae?.dispose(); memo.outputs = null; memo.sae = await loadSae(entry.path); memo.entry = entry.path; }
    const sae = memo.sae!, norms = memo.norms!;
    {
      const split = variantSplit(ctx, variant, norms);
      let input: SaeInput, meanL0: () => number;
      if (variant.norm === "unit") {
        ({ input, meanL0 } = unitNormInput(ctx, sae, norms));
      } else {
        const o = memo.outputs ?? (memo.outputs = saeOutputs(ctx, sae));
        input = { activations: ctx.activations, sae: o.outputs };
        meanL0 = o.meanL0;
      }
      const r = decomposeSaeError(input, {
        intercept: variant.intercept, bootstrap: resamples > 0 ? { resamples, seed: 0 } : false,
        ...(split ? { split } : { fitOn: "all" as const, evaluateOn: "all" as const }),
      });
      let s1 = 0, s2 = 0, n = 0;
      for (let i = 0; i < ctx.rows; i++) {
        if (split && split.roles[i] !== TEST) continue;
        const q = norms[i] * norms[i];
        s1 += q; s2 += q * q; n++;
      }
      const mean = s1 / n, sd = Math.sqrt(Math.max(0, s2 / n - mean * mean));
      return {
        l0Measured: meanL0(), vectorR2: measure(r.vectorR2), normR2: measure(r.normR2), fvu: measure(r.fvu), fvuNonlinear: measure(r.fvuNonlinear),
        trainRows: r.rows.train, evaluatedRows: r.rows.evaluated, normSpread: sd / mean,
      };
    }
  });
}

/** The SAE closest to W/d = 8 and L0 = `l0`, the study's baseline width and sparsity. */
export function pickBaseline(saes: SaeEntry[], d: number, l0: number): SaeEntry {
  if (saes.length === 0) throw new InputError("saes", "no SAE to pick a baseline from");
  const score = (s: SaeEntry) => Math.abs(Math.log2(s.width / (8 * d))) * 10 + Math.abs(Math.log2((s.l0 ?? l0) / l0));
  return [...saes].sort((a, b) => score(a) - score(b) || a.width - b.width)[0];
}

/** Share of the gap to the paper that moving from `base` to `value` closes; null when there is no gap. */
export function gapClosed(metric: "vectorR2" | "normR2", base: number, value: number): number | null {
  const target = PAPER_HEADLINE[metric];
  if (metric === "normR2" && base >= target) return null; // "> 0.9" already holds
  const gap = target - base;
  if (Math.abs(gap) < 0.02) return null;
  return (value - base) / gap;
}

/** Summarises a factor's points against the baseline. */
export function factorEffect(factor: FactorName, description: string, baseline: StudyPoint, points: StudyPoint[], missing: string[] = []): FactorEffect {
  const closed = { vectorR2: null as number | null, normR2: null as number | null };
  const sensitivity = { vectorR2: 0, normR2: 0 };
  for (const m of ["vectorR2", "normR2"] as const) {
    for (const p of points) {
      if (p.baseline) continue;
      sensitivity[m] = Math.max(sensitivity[m], Math.abs(p[m].value - baseline[m].value));
      if (!p.paperLike) continue;
      const c = gapClosed(m, baseline[m].value, p[m].value);
      if (c !== null && (closed[m] === null || c > closed[m]!)) closed[m] = c;
    }
  }
  return { factor, description, points, closed, sensitivity, missing };
}

/**
 * Runs the study. The baseline and the decomposition-side factors use the default model's store and TopK family;
 * the training-token variants are trained here on the same store; architecture and model size use the ladder.
 */
export async function whyTheNumbersDiffer(options: WhyDifferOptions = {}, progress: Progress = silentProgress): Promise<WhyDifferResult> {
  const profile = options.profile ?? "full";
  const resamples = options.bootstrap ?? (profile === "ci" ? 30 : 100);
  const architectures = options.architectures ?? [...ARCHITECTURES];
  const baseL0 = profile === "ci" ? 8 : 16;
  const user = !!(options.params && (options.params.saeDir || options.params.activations || options.params.model || options.params.text));
  const ctx = await openContext({ ...(user ? options.params : {}), profile }, progress);
  const factors: FactorEffect[] = [];
  let baseline: StudyPoint;
  try {
    const d = ctx.d;
    const baseEntry = pickBaseline(ctx.saes, d, baseL0);
    const tokens = defaultFamilyPlan(profile).request.recipe?.tokens ?? null;
    let step = 0;
    const point = async (c: AnalysisContext, entry: SaeEntry, factor: FactorName, level: string, meta: Partial<StudyPoint> = {}): Promise<StudyPoint> => {
      const variant = meta.variant ?? BASE_VARIANT;
      progress(step++, 0, `why-differ: ${factor} = ${level}`);
      const m = await measureVariant(c, entry, variant, resamples);
      return {
        factor, level, baseline: false, paperLike: false, model: user ? "yours" : "d128", d: c.d, architecture: "topk", width: entry.width,
        widthRatio: entry.width / c.d, l0Nominal: entry.l0 ?? null, trainTokens: tokens, ...meta, variant, ...m,
      };
    };
    baseline = await point(ctx, baseEntry, "width ratio W/d", `W/d ${baseEntry.width / d} (baseline)`, { baseline: true, paperLike: true });
    const asBase = (factor: FactorName, level: string): StudyPoint => ({ ...baseline, factor, level: `${level} (baseline)` });

    const variantFactor = async (factor: FactorName, description: string, levels: [string, Partial<Variant>, boolean][], baseLabel: string) => {
      const pts = [asBase(factor, baseLabel)];
      for (const [label, v, paperLike] of levels) pts.push(await point(ctx, baseEntry, factor, label, { variant: { ...BASE_VARIANT, ...v }, paperLike }));
      factors.push(factorEffect(factor, description, baseline, pts));
    };
    await variantFactor("intercept", "b* and the norm probe fitted with or without an intercept (the paper's text says with; most of its code fits without)",
      [["no intercept", { intercept: false }, true]], "intercept");
    if (ctx.store) await variantFactor("split rule", "how rows are divided between fitting b* and evaluating it (the paper: a random token split)",
      [["whole contexts held out", { split: "by-context" }, false], ["in-sample (fit = evaluate)", { split: "in-sample" }, false]], "random token split 60/40");
    if (!ctx.store) {
      factors.push(factorEffect("position range", "which token positions are analysed", baseline, [asBase("position range", "every row")], ["the activations carry no positions (a tensor file, not a store)"]));
      factors.push(factorEffect("split rule", "whole contexts held out", baseline, [], ["the activations carry no contexts"]));
    }
    const first = ctx.store?.manifest.positions.first ?? 0;
    if (ctx.store) await variantFactor("position range", `which token positions are analysed (stored: ${first}…; the paper: 200…1022 of 1024-token contexts, v1 1…1022)`,
      [["positions ≥ 100", { minPosition: 100 }, false], ["positions ≥ 200 (the paper's start)", { minPosition: 200 }, true]], `positions ≥ ${first}`);
    await variantFactor("spread of ‖x‖", "how much token norms vary: every token scaled to ‖x‖ = √d (errors scaled alike), or only the middle half of ‖x‖ (diagnostic: the paper's spread is unknown)",
      [["‖x‖ normalised per token", { norm: "unit" }, false], ["middle half of ‖x‖ only", { norm: "middle-half" }, false]], "raw x");

    // SAE training tokens: the baseline SAE retrained on a quarter and (not in ci) four times the tokens, same store.
    const tokenPoints = [asBase("SAE training tokens", `${tokens?.toLocaleString("en-US")} tokens`)];
    const tokenMissing: string[] = [];
    if (user) tokenMissing.push("retraining needs the project's own family");
    else if (tokens && ctx.store && ctx.hook) {
      for (const mult of profile === "ci" ? [0.25] : [0.25, 4]) {
        const t = Math.round(tokens * mult);
        const dir = `${DEFAULT_FAMILY_ROOT}/tokens-${profile}-${t}`;
        await ensureArchitectureFamily(ctx.store, "topk", { widths: [baseEntry.width], l0s: [baseEntry.l0 ?? baseL0], tokens: t, hooks: [ctx.hook] }, dir, progress);
        const entry = listSaes(dir).saes[0];
        tokenPoints.push(await point(ctx, entry, "SAE training tokens", `${t.toLocaleString("en-US")} tokens (×${mult})`, { trainTokens: t, paperLike: mult > 1 }));
      }
    } else tokenMissing.push("the baseline family records no training tokens or store");
    factors.push(factorEffect("SAE training tokens", "tokens each SAE is trained on (Gemma Scope: billions; here a few hundred thousand)", baseline, tokenPoints, tokenMissing));

    // Architecture and model size: the ladder families (W/d 8 at the baseline L0; W/d 1 too outside ci).
    const models = (user ? [] : options.models ?? ladderModels()).slice().sort((a, b) => (a.d ?? 0) - (b.d ?? 0));
    const archPoints: StudyPoint[] = [], sizePoints: StudyPoint[] = [], archMissing: string[] = [], sizeMissing: string[] = [];
    for (const model of models) {
      if (!model.available || model.d === null) { sizeMissing.push(`${model.name}: no model in ${model.dir}`); continue; }
      for (const arch of architectures) {
        const fam = await ensureLadderFamily(model, arch, profile, progress);
        const c = model.name === "d128" && arch === "topk" ? ctx
          : await openContext({ profile: profile === "paper" ? "full" : profile, saeDir: fam.familyDir, activations: fam.storeDir, hook: ctx.hook }, progress);
        try {
          const plan = ladderPlan(profile, model.d);
          for (const width of plan.widths) {
            const entry = c.saes.find((s) => s.width === width && s.l0 === baseEntry.l0) ?? c.saes.find((s) => s.width === width);
            if (!entry) { sizeMissing.push(`${model.name} ${arch}: no SAE of width ${width}`); continue; }
            const isBase = entry.path === baseEntry.path;
            const p = isBase ? { ...baseline } : await point(c, entry, "model size", `${model.name} ${arch} W/d ${width / model.d}`,
              { model: model.name, architecture: arch, trainTokens: plan.tokens });
            const sized = { ...p, factor: "model size" as FactorName, level: `${model.name} ${arch} W/d ${width / model.d}`, baseline: isBase,
              paperLike: model.d > d && arch === "topk" && width / model.d === baseEntry.width / d };
            sizePoints.push(sized);
            if (model.name === "d128" && width === baseEntry.width) {
              archPoints.push({ ...sized, factor: "architecture", level: arch === "topk" ? "TopK (baseline)" : "JumpReLU", paperLike: arch === "jumprelu" });
            }
          }
        } finally {
          if (c !== ctx) c.close();
        }
      }
    }
    if (user) archMissing.push("the architecture and model-size comparisons use the project's ladder models"), sizeMissing.push(archMissing[0]);
    factors.push(factorEffect("architecture", "TopK (this project's) vs JumpReLU (Gemma Scope's) at the same width and nominal L0", baseline, archPoints, archMissing));
    factors.push(factorEffect("model size", "d_model of the ladder models (same corpus, tokenizer, store config and SAE recipe)", baseline, sizePoints, sizeMissing));
    // Width ratio: every width of the family at the baseline's L0.
    const widthPoints: StudyPoint[] = [];
    for (const e of ctx.saes.filter((s) => s.l0 === baseEntry.l0)) {
      const ratio = e.width / d;
      widthPoints.push(e.path === baseEntry.path ? baseline : await point(ctx, e, "width ratio W/d", `W/d ${ratio}`,
        { paperLike: ratio >= PAPER_WIDTH_RATIO.min && ratio <= PAPER_WIDTH_RATIO.max }));
    }
    factors.push(factorEffect("width ratio W/d", `latents per model dimension; the paper's Gemma Scope SAEs span W/d ≈ ${PAPER_WIDTH_RATIO.min.toFixed(1)}–${Math.round(PAPER_WIDTH_RATIO.max)}`, baseline, widthPoints));

  } finally {
    releaseMemo();
    ctx.close();
  }
  const order: FactorName[] = ["width ratio W/d", "intercept", "split rule", "position range", "spread of ‖x‖", "SAE training tokens", "architecture", "model size"];
  factors.sort((a, b) => order.indexOf(a.factor) - order.indexOf(b.factor));
  return { profile, paper: PAPER_HEADLINE, baseline, factors, bootstrapResamples: resamples };
}

const f3 = (x: number) => x.toFixed(3);
const withInterval = (m: Measure) => (m.lo !== null && m.hi !== null ? `${f3(m.value)} (${f3(m.lo)}–${f3(m.hi)})` : f3(m.value));
/** Distance of a metric from the paper's value: |0.5 − vector R²|, and how far the squared-norm R² falls short of 0.9. */
export function distanceToPaper(metric: "vectorR2" | "normR2", value: number): number {
  return metric === "vectorR2" ? Math.abs(PAPER_HEADLINE.vectorR2 - value) : Math.max(0, PAPER_HEADLINE.normR2 - value);
}
const factor = (r: WhyDifferResult, name: FactorName) => r.factors.find((f) => f.factor === name);

/** Model-size points at the baseline's W/d, per architecture, in order of d. */
export function sizeSeries(r: WhyDifferResult): Map<Architecture, StudyPoint[]> {
  const out = new Map<Architecture, StudyPoint[]>();
  for (const p of factor(r, "model size")?.points ?? []) {
    if (p.widthRatio !== r.baseline.widthRatio) continue;
    out.set(p.architecture, [...(out.get(p.architecture) ?? []), p].sort((a, b) => a.d - b.d));
  }
  return out;
}

/** "The headline numbers move toward the paper's as the model grows": both distances shrink monotonically with d. */
export function modelSizeClaim(r: WhyDifferResult, tolerance = 0.01): Claim {
  const claim = "The headline numbers move toward the paper's as the model grows (d_model ladder, same recipe)";
  const parts: string[] = [];
  let decided = false, holds = true;
  for (const [arch, pts] of sizeSeries(r)) {
    parts.push(`${arch}: ` + pts.map((p) => `d${p.d} vector ${f3(p.vectorR2.value)}, norm ${f3(p.normR2.value)}`).join(" → "));
    if (new Set(pts.map((p) => p.d)).size < 2) continue;
    decided = true;
    for (const m of ["vectorR2", "normR2"] as const) {
      const dist = pts.map((p) => distanceToPaper(m, p[m].value));
      const monotone = dist.every((x, i) => i === 0 || x <= dist[i - 1] + tolerance);
      const closer = dist[dist.length - 1] < dist[0] - tolerance || (dist[0] === 0 && dist[dist.length - 1] === 0);
      if (!monotone || !closer) holds = false;
    }
  }
  const missing = factor(r, "model size")?.missing ?? [];
  if (!decided) return { claim, measured: `fewer than two model sizes measured${missing.length ? ` (${missing.join("; ")})` : ""}`, holds: null };
  return { claim, measured: parts.join("; ") + (missing.length ? ` (missing: ${missing.join("; ")})` : ""), holds };
}

/** "JumpReLU SAEs show more linearly predictable error than TopK at matched L0": both metrics higher on every model. */
export function architectureClaim(r: WhyDifferResult, l0Tolerance = 0.35): Claim {
  const claim = "JumpReLU SAEs show more linearly predictable error than TopK at matched L0";
  const series = sizeSeries(r);
  const topk = series.get("topk") ?? [], jump = series.get("jumprelu") ?? [];
  const pairs: string[] = [], unmatched: string[] = [];
  let holds = true, n = 0;
  for (const t of topk) {
    const j = jump.find((p) => p.d === t.d);
    if (!j) continue;
    if (Math.abs(j.l0Measured - t.l0Measured) > l0Tolerance * t.l0Measured) {
      unmatched.push(`d${t.d}: L0 ${f3(j.l0Measured)} vs ${f3(t.l0Measured)}`);
      continue;
    }
    n++;
    if (!(j.vectorR2.value > t.vectorR2.value && j.normR2.value > t.normR2.value)) holds = false;
    pairs.push(`d${t.d} (L0 ${j.l0Measured.toFixed(1)} vs ${t.l0Measured.toFixed(1)}): vector ${withInterval(j.vectorR2)} vs ${withInterval(t.vectorR2)}, norm ${withInterval(j.normR2)} vs ${withInterval(t.normR2)}`);
  }
  const note = unmatched.length ? `; L0 not matched within ±${Math.round(l0Tolerance * 100)} %: ${unmatched.join(", ")}` : "";
  if (n === 0) {
    const missing = [...(factor(r, "architecture")?.missing ?? []), ...(factor(r, "model size")?.missing ?? [])].filter((m) => /jumprelu/i.test(m));
    return { claim, measured: `no matched JumpReLU/TopK pair measured${note}${missing.length ? ` (${missing.join("; ")})` : ""}`, holds: null };
  }
  return { claim, measured: `JumpReLU vs TopK: ${pairs.join("; ")}${note}`, holds };
}

/** A factor's single score: the mean over metrics with a gap of the share it closes (negative counts as 0). */
export function closedScore(f: FactorEffect): number | null {
  const c = [f.closed.vectorR2, f.closed.normR2].filter((x): x is number => x !== null);
  return c.length ? c.reduce((s, x) => s + Math.max(0, x), 0) / c.length : null;
}

/** The factor whose paper-like setting closes the largest share of the gap, or null when none was measured. */
export function dominantFactor(r: WhyDifferResult): FactorEffect | null {
  const scored = r.factors.filter((f) => closedScore(f) !== null).sort((a, b) => closedScore(b)! - closedScore(a)!);
  return scored[0] ?? null;
}

/** "<dominant factor> explains most of the gap": its paper-like setting closes at least half of each metric's gap. */
export function dominantFactorClaim(r: WhyDifferResult): Claim {
  const top = dominantFactor(r);
  if (!top) return { claim: "One of the measured factors explains most of the gap to the paper's numbers", measured: "no paper-like setting of any factor was measured", holds: null };
  const gaps = (["vectorR2", "normR2"] as const).filter((m) => gapClosed(m, r.baseline[m].value, r.baseline[m].value + 1) !== null);
  const holds = gaps.every((m) => (top.closed[m] ?? 0) >= 0.5);
  const ranked = r.factors.filter((f) => closedScore(f) !== null).sort((a, b) => closedScore(b)! - closedScore(a)!)
    .map((f) => `${f.factor} ${(closedScore(f)! * 100).toFixed(0)} %`);
  return {
    claim: `The ${top.factor} explains most of the gap to the paper's numbers (its paper-like setting closes ≥ half of each metric's gap)`,
    measured: `baseline vector ${withInterval(r.baseline.vectorR2)}, norm ${withInterval(r.baseline.normR2)}; share of the gap closed: ` +
      `vector ${top.closed.vectorR2 === null ? "n/a" : f3(top.closed.vectorR2)}, norm ${top.closed.normR2 === null ? "n/a" : f3(top.closed.normR2)}; ranking (mean share): ${ranked.join(", ")}`,
    holds,
  };
}

/** The study's three claims. */
export function whyDifferClaims(r: WhyDifferResult): Claim[] {
  return [modelSizeClaim(r), architectureClaim(r), dominantFactorClaim(r)];
}

/** One row per measured setting. */
export function whyDifferRows(r: WhyDifferResult): Record<string, string | number>[] {
  return r.factors.flatMap((f) => f.points.map((p) => ({
    factor: f.factor, level: p.level, "paper-like": p.baseline ? "baseline" : p.paperLike ? "yes" : "no",
    model: p.model, architecture: p.architecture, width: p.width, "L0 (measured)": Number(p.l0Measured.toFixed(2)),
    "vector R²": withInterval(p.vectorR2), "squared-norm R²": withInterval(p.normR2), fvu: Number(p.fvu.value.toFixed(4)),
    "CV of ‖x‖²": Number(p.normSpread.toFixed(3)), "test tokens": p.evaluatedRows,
  })));
}

/** One row per factor: effect sizes and the share of the gap its paper-like setting closes. */
export function factorRows(r: WhyDifferResult): Record<string, string | number>[] {
  const share = (x: number | null) => (x === null ? "n/a" : f3(x));
  return r.factors.map((f) => ({
    factor: f.factor, what: f.description, "levels measured": f.points.length,
    "vector R² gap closed": share(f.closed.vectorR2), "norm R² gap closed": share(f.closed.normR2),
    "largest |Δ vector R²|": f3(f.sensitivity.vectorR2), "largest |Δ norm R²|": f3(f.sensitivity.normR2),
    missing: f.missing.join("; "),
  }));
}

/** Chart series: both metrics against d_model, one series per architecture (at the baseline's W/d). */
export function seriesByModelSize(r: WhyDifferResult) {
  return [...sizeSeries(r)].map(([arch, pts]) => ({ name: arch === "topk" ? "TopK" : "JumpReLU", x: pts.map((p) => p.d),
    vectorR2: pts.map((p) => p.vectorR2), normR2: pts.map((p) => p.normR2), labels: pts.map((p) => `${p.model} ${arch}, W/d ${p.widthRatio}`) }));
}

/** Chart series: both metrics against W/d: the default model's width sweep, and every ladder model's widths per architecture. */
export function seriesByWidthRatio(r: WhyDifferResult) {
  const widths = factor(r, "width ratio W/d")?.points.slice().sort((a, b) => a.widthRatio - b.widthRatio) ?? [];
  const out = [{ name: `d${r.baseline.d} TopK (family)`, x: widths.map((p) => p.widthRatio), vectorR2: widths.map((p) => p.vectorR2),
    normR2: widths.map((p) => p.normR2), labels: widths.map((p) => `width ${p.width}`) }];
  const groups = new Map<string, StudyPoint[]>();
  for (const p of factor(r, "model size")?.points ?? []) {
    if (p.model === "d128" && p.architecture === "topk") continue; // already in the family sweep
    const k = `${p.model} ${p.architecture === "topk" ? "TopK" : "JumpReLU"}`;
    groups.set(k, [...(groups.get(k) ?? []), p]);
  }
  for (const [name, pts] of groups) {
    pts.sort((a, b) => a.widthRatio - b.widthRatio);
    out.push({ name, x: pts.map((p) => p.widthRatio), vectorR2: pts.map((p) => p.vectorR2), normR2: pts.map((p) => p.normR2), labels: pts.map((p) => `width ${p.width}`) });
  }
  return out;
}

/** The headline numbers the notebook records. */
export function whyDifferNumbers(r: WhyDifferResult): Record<string, unknown> {
  const top = dominantFactor(r);
  return {
    profile: r.profile, paper: r.paper, bootstrapResamples: r.bootstrapResamples,
    baseline: { model: r.baseline.model, architecture: r.baseline.architecture, width: r.baseline.width, l0: r.baseline.l0Nominal,
      vectorR2: r.baseline.vectorR2, normR2: r.baseline.normR2 },
    dominantFactor: top ? { factor: top.factor, closed: top.closed } : null,
    factors: factorRows(r), points: whyDifferRows(r),
  };
}

/** The study's answer in plain words: which factor explains the gap, or that none of the measured ones does. */
/**
 * Whether the architecture's effect is confounded with SAE quality: the JumpReLU SAE reconstructs worse than the
 * baseline (FVU ≥ 1.25×), and on the baseline's own SAE fewer training tokens (a worse SAE) also raise vector R².
 * Returns the sentence that says so, or "".
 */
export function qualityConfound(r: WhyDifferResult): string {
  const arch = factor(r, "architecture")?.points.find((p) => !p.baseline && p.architecture === "jumprelu");
  if (!arch || !(arch.fvu.value >= 1.25 * r.baseline.fvu.value)) return "";
  const fewer = factor(r, "SAE training tokens")?.points.filter((p) => !p.baseline && p.trainTokens !== null && r.baseline.trainTokens !== null &&
    p.trainTokens < r.baseline.trainTokens && p.fvu.value > r.baseline.fvu.value && p.vectorR2.value > r.baseline.vectorR2.value) ?? [];
  const evidence = fewer.length
    ? `, and a worse SAE of the same architecture leaves a more linear error too (TopK on ${fewer[0].trainTokens!.toLocaleString("en-US")} tokens: FVU ` +
      `${f3(fewer[0].fvu.value)}, vector R² ${f3(fewer[0].vectorR2.value)})`
    : "";
  return ` Caution: at matched L0 the JumpReLU SAE reconstructs worse than the TopK baseline (FVU ${f3(arch.fvu.value)} vs ${f3(r.baseline.fvu.value)})` +
    `${evidence}, so this study does not separate the architecture from SAE quality.`;
}

export function whyDifferVerdict(r: WhyDifferResult): string {
  const b = r.baseline, top = dominantFactor(r);
  const head = `Baseline (${b.model}, ${b.architecture}, width ${b.width} = ${b.widthRatio}×d, L0 ${b.l0Measured.toFixed(1)}): ` +
    `vector R² ${withInterval(b.vectorR2)} against the paper's ≈ ${r.paper.vectorR2}, squared-norm R² ${withInterval(b.normR2)} against > ${r.paper.normR2}.`;
  const sens = [...r.factors].filter((f) => f.points.length > 1).sort((x, y) => Math.max(y.sensitivity.vectorR2, y.sensitivity.normR2) - Math.max(x.sensitivity.vectorR2, x.sensitivity.normR2))
    .slice(0, 3).map((f) => `${f.factor} (|Δ vector| ≤ ${f3(f.sensitivity.vectorR2)}, |Δ norm| ≤ ${f3(f.sensitivity.normR2)})`);
  const moves = sens.length ? ` The metrics move most with: ${sens.join("; ")}.` : "";
  const missing = r.factors.filter((f) => f.missing.length).map((f) => `${f.factor}: ${f.missing.join("; ")}`);
  const gaps = missing.length ? ` Not measured here: ${missing.join(" | ")}.` : "";
  if (!top || (closedScore(top) ?? 0) <= 0) return `${head} None of the measured factors, set the way the paper had it, moves the numbers toward the paper's: none explains the gap.${moves}${gaps}`;
  const verdict = dominantFactorClaim(r).holds
    ? `The ${top.factor} explains most of the gap: its paper-like setting closes ${(closedScore(top)! * 100).toFixed(0)} % of it on average.`
    : `No measured factor explains most of the gap: the largest share, from the ${top.factor}, is ${(closedScore(top)! * 100).toFixed(0)} % on average.`;
  return `${head} ${verdict}${qualityConfound(r)}${moves}${gaps}`;
}
