// Training one SAE on a target (x or an error component) with a recipe, evaluating it on the held-out rows, and the
// records saved next to it. Shared by the family builder, the error-target comparison and `darkmatter train-sae`.
import * as fs from "fs";
import * as path from "path";
import { InputError } from "../errors";
import { writeFileAtomic } from "../io/atomic";
import { checksumProblem, fileSums, FileSum } from "../io/entry";
import { hashOf } from "../io/hash";
import type { Progress } from "../progress";
import { layerFromHookName, saveSaeLens, Sae } from "../sae/index";
import { defaultLearningRate, toSae, trainSae, TrainConfig, TrainedSae } from "../train/index";
import { warn } from "../warnings";
import type { JumpReluConfig, SaeTrainerConfig } from "../train/index";
import type { TargetKind, TargetRows } from "./targets";

/** How each SAE is trained: the paper's TopK recipe (src/train) with a token budget, batch and learning-rate scale. */
export interface SaeRecipe {
  /** Training tokens per SAE: steps = round(tokens / batchSize), cycling over the training rows in seeded epochs. */
  tokens: number;
  batchSize: number;
  /**
   * Multiplier on the paper's lr = 2e-4/√(n/2^14). That rule is tuned for runs of billions of tokens; runs of a few
   * hundred thousand tokens on a small model stay far from converged with it. Measured on the default store (block 3,
   * k 16, 262k tokens, held-out FVU): width 2048 0.25 at ×1 (batch 1024) vs 0.07 at ×8 (batch 512); width 4096
   * 0.066 and width 8192 0.073 at ×12 (batch 512), where ×24 kills 40 % of the latents.
   */
  lrScale: number;
  seed: number;
  /**
   * Further trainer settings (architecture, auxkCoef, deadWindowTokens, warmupSteps, …; see TrainConfig, or
   * JumpReluConfig with architecture "jumprelu", where each SAE's k is its target L0).
   */
  trainer: TrainerSettings;
}

/** Settings of either trainer; the trainer of `architecture` validates them (unknown keys are errors). */
export type TrainerSettings = Partial<Omit<TrainConfig, "architecture">> & Partial<Omit<JumpReluConfig, "architecture">> &
  { architecture?: TrainConfig["architecture"] | "jumprelu" };

/** The SAE architectures a recipe can train: TopK (the paper's, default) and JumpReLU (Gemma Scope's). */
export type RecipeArchitecture = "topk" | "jumprelu";
export const RECIPE_ARCHITECTURES: readonly RecipeArchitecture[] = ["topk", "jumprelu"];

/** The architecture a recipe trains ("batchtopk" counts as topk's family of recipes). */
export function recipeArchitecture(recipe: Pick<SaeRecipe, "trainer">): RecipeArchitecture {
  return recipe.trainer.architecture === "jumprelu" ? "jumprelu" : "topk";
}

/** Trainer settings a recipe sets itself, so they cannot be given in `trainer`. */
const RECIPE_OWNED = ["nLatents", "k", "batchSize", "steps", "epochs", "lr", "seed"] as const;

export const DEFAULT_RECIPE: SaeRecipe = {
  tokens: 262_144, batchSize: 512, lrScale: 12, seed: 0,
  // A dead-latent window the short runs can reach (sparsify's 10M would mark nothing dead in 262k tokens).
  trainer: { deadWindowTokens: 65_536 },
};

/** Fills in defaults and validates a recipe. */
export function resolveRecipe(r: Partial<SaeRecipe> = {}): SaeRecipe {
  const out: SaeRecipe = { ...DEFAULT_RECIPE, ...Object.fromEntries(Object.entries(r).filter(([, v]) => v !== undefined)) };
  out.trainer = { ...DEFAULT_RECIPE.trainer, ...(r.trainer ?? {}) };
  const int = (name: string, v: number) => {
    if (!Number.isSafeInteger(v) || v < 1) throw new InputError(`recipe.${name}`, `must be a positive integer, got ${v}`);
  };
  int("tokens", out.tokens);
  int("batchSize", out.batchSize);
  if (!Number.isInteger(out.seed)) throw new InputError("recipe.seed", `must be an integer, got ${out.seed}`);
  if (!(out.lrScale > 0 && Number.isFinite(out.lrScale))) throw new InputError("recipe.lrScale", `must be a positive number, got ${out.lrScale}`);
  for (const key of RECIPE_OWNED) {
    if (key in out.trainer) throw new InputError(`recipe.trainer.${key}`, "is set by the recipe itself (tokens, batchSize, lrScale, seed)");
  }
  return out;
}

/** The trainer config of one SAE of `width` latents and `k` active ones under `recipe`. */
export function trainConfigFor(width: number, k: number, recipe: SaeRecipe): TrainerSettings & { nLatents: number } {
  return {
    ...recipe.trainer, nLatents: width, k, batchSize: recipe.batchSize,
    steps: Math.max(1, Math.round(recipe.tokens / recipe.batchSize)),
    lr: recipe.lrScale * defaultLearningRate(width), seed: recipe.seed,
  };
}

/** One trained SAE's numbers. */
export interface SaeResult {
  target: TargetKind;
  hook: string | null;
  /** Latents (d_sae). */
  width: number;
  /** TopK's k, or JumpReLU's target L0. */
  k: number;
  /** Measured mean active latents per held-out token. */
  l0: number;
  /** Held-out FVU against the held-out rows' own mean (of the target the SAE was trained on). */
  fvu: number;
  /** Latents firing on none of the held-out rows; the window is `deadWindowTokens` = the held-out rows. */
  deadFraction: number;
  deadWindowTokens: number;
  /** Latents that did not fire in the last `trainDeadWindowTokens` training tokens (null when training saw fewer tokens than that). */
  trainDeadFraction: number | null;
  trainDeadWindowTokens: number;
  /** Batch FVU of the last training step. */
  finalTrainFvu: number;
  tokensSeen: number;
  steps: number;
  lr: number;
  wallTimeS: number;
}

export interface TrainedOnTarget {
  sae: Sae;
  trained: TrainedSae;
  result: SaeResult;
}

/** Trains an SAE with `width` latents and `k` active ones on `target`, evaluates it on the held-out rows. */
export async function trainOnTarget(target: TargetRows, width: number, k: number, recipe: SaeRecipe,
  options: { progress?: Progress; hook?: string } = {}): Promise<TrainedOnTarget> {
  const trained = await trainSae(target.train, trainConfigFor(width, k, recipe) as SaeTrainerConfig, { heldOut: target.heldOut, progress: options.progress });
  const log = trained.trainingLog;
  const held = log.heldOut!;
  const hook = options.hook ?? target.provenance.rows.store?.hook ?? null;
  const sae = toSae(trained);
  // The SAELens config carries hook and layer; width and nominal L0 follow the Gemma Scope folder convention.
  const layer = hook ? layerFromHookName(hook) : undefined;
  Object.assign(sae.metadata, { width, nominalL0: k, ...(hook ? { hookName: hook } : {}), ...(layer !== undefined ? { layer } : {}) });
  sae.metadata.provenance.target = target.provenance;
  sae.metadata.provenance.recipe = recipe;
  const last = log.lossCurve[log.lossCurve.length - 1];
  const result: SaeResult = {
    target: target.target, hook, width, k,
    l0: held.l0, fvu: held.fvu, deadFraction: held.deadFraction, deadWindowTokens: held.rows,
    trainDeadFraction: log.tokensSeen >= log.deadWindowTokens ? log.finalDeadFraction : null, trainDeadWindowTokens: log.deadWindowTokens,
    finalTrainFvu: last ? last.fvu : NaN, tokensSeen: log.tokensSeen, steps: log.steps, lr: log.config.lr, wallTimeS: log.wallTimeS,
  };
  return { sae, trained, result };
}

export { canonicalJson, hashOf } from "../io/hash";

export const TRAIN_RECORD = "train-config.json";
export const TRAINING_LOG = "training-log.json";

/** What `train-config.json` holds: the request (whose hash keys the cache), the trainer config as run and the result. */
export interface TrainRecord {
  format: "darkmatter-sae-training";
  version: 1;
  hash: string;
  request: Record<string, unknown>;
  trainConfig: Record<string, unknown>;
  result: SaeResult;
  savedAt: string;
  /** Size and sha256 of the SAE's other files (cfg.json, weights, training log), so damage to any is detected. */
  files?: Record<string, FileSum>;
}

/** The files a train-config.json vouches for. */
const SAVED_FILES = ["cfg.json", "sae_weights.safetensors", TRAINING_LOG];

/**
 * Saves a trained SAE into `dir`: SAELens cfg.json + sae_weights.safetensors, training-log.json (loss curve), and
 * last train-config.json, so a folder with a train-config.json is complete. Every file is written atomically.
 */
export function saveTrainedSae(dir: string, t: TrainedOnTarget, request: Record<string, unknown>): TrainRecord {
  const recordFile = path.join(dir, TRAIN_RECORD);
  // A stale record must not vouch for the new weights should this save be interrupted.
  fs.rmSync(recordFile, { force: true });
  saveSaeLens(t.sae, dir);
  const { config, ...log } = t.trained.trainingLog;
  writeFileAtomic(path.join(dir, TRAINING_LOG), JSON.stringify(log, null, 1) + "\n");
  const record: TrainRecord = {
    format: "darkmatter-sae-training", version: 1, hash: hashOf(request), request,
    trainConfig: config as unknown as Record<string, unknown>, result: t.result, savedAt: new Date().toISOString(),
    files: fileSums(dir, SAVED_FILES),
  };
  writeFileAtomic(recordFile, JSON.stringify(record, null, 1) + "\n");
  return record;
}

const warned = new Set<string>();

/**
 * The record in `dir` when it is complete, intact and its hash is `hash` (else null: the SAE must be (re)trained).
 * A damaged folder (a record that cannot be read, a file that does not match its checksum) is reported once.
 */
export function readCompleteRecord(dir: string, hash: string): TrainRecord | null {
  const file = path.join(dir, TRAIN_RECORD);
  const damaged = (problem: string) => {
    if (!warned.has(`${dir}\n${problem}`)) {
      warned.add(`${dir}\n${problem}`);
      warn({ code: "cache-corrupt", subject: `trained SAE ${dir}`, problem, hint: "retraining it" });
    }
    return null;
  };
  let record: TrainRecord;
  try {
    record = JSON.parse(fs.readFileSync(file, "utf8")) as TrainRecord;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "ENOENT" ? null : damaged(`${TRAIN_RECORD} cannot be read (${(err as Error).message})`);
  }
  if (!record || typeof record !== "object" || record.format !== "darkmatter-sae-training") return damaged(`${TRAIN_RECORD} is not a training record`);
  if (record.hash !== hash) return null; // another request: retrained, not damaged
  if (!record.result || typeof record.result.fvu !== "number") return damaged(`${TRAIN_RECORD} has no result`);
  if (!record.files) return damaged(`${TRAIN_RECORD} records no checksums (written by an older version)`);
  const problem = checksumProblem(dir, record.files);
  return problem ? damaged(problem) : record;
}
