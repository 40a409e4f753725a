// The model-size ladder: llama2.c models of several widths trained by `darkmatter train-lm` on one corpus with one
// tokenizer and one recipe (data/ladder/d64, data/model = d128, data/ladder/d256), each with the same activation-store
// config, and small SAE families of either architecture on each. Everything is built on first use and cached by
// config (stores under .cache/activations, families under .cache/sae-families), like the default family.
import * as fs from "fs";
import * as path from "path";
import { buildActivationStore, DEFAULT_STORE_CONFIG, DEFAULT_STORE_ROOT, ActivationStore, StoreConfig } from "../activations/index";
import { projectRoot } from "../backend/native";
import { InputError } from "../errors";
import { DEFAULT_FAMILY_ROOT, defaultFamilyPlan, ensureDefaultFamily, FamilyProfile } from "../family/default-family";
import { trainFamily } from "../family/family";
import { DEFAULT_RECIPE } from "../family/train-target";
import { defaultCorpus, loadLlama2c, loadTokenizer, readLlama2cConfig } from "../lm/index";
import { DEFAULT_MODEL_DIR } from "../lm/train-default";
import { Progress, silentProgress } from "../progress";

/** SAE architectures the study compares: the project's TopK, and JumpReLU (the paper's Gemma Scope SAEs). */
export type Architecture = "topk" | "jumprelu";
export const ARCHITECTURES: readonly Architecture[] = ["topk", "jumprelu"];

export interface LadderModel {
  /** "d64", "d128", … */
  name: string;
  dir: string;
  /** d_model (from the checkpoint header); null while the model file is missing. */
  d: number | null;
  /** Whether model.bin and tokenizer.bin exist. */
  available: boolean;
}

/** The ladder's models in order of width; d128 is the project's default model. */
export function ladderModels(root: string = projectRoot): LadderModel[] {
  const dirs: [string, string][] = [
    ["d64", path.join(root, "data", "ladder", "d64")],
    ["d128", root === projectRoot ? DEFAULT_MODEL_DIR : path.join(root, "data", "model")],
    ["d256", path.join(root, "data", "ladder", "d256")],
  ];
  return dirs.map(([name, dir]) => {
    const available = fs.existsSync(path.join(dir, "model.bin")) && fs.existsSync(path.join(dir, "tokenizer.bin"));
    return { name, dir, available, d: available ? readLlama2cConfig(path.join(dir, "model.bin")).dim : null };
  });
}

/**
 * What each ladder family holds, per profile: SAEs at W/d = 1 and 8 with L0 16 (full, paper), or W/d = 8 with L0 8
 * (ci, matching the ci default family's k). The paper profile trains them on 10× the tokens.
 */
export function ladderPlan(profile: FamilyProfile, d: number): { widths: number[]; l0s: number[]; tokens: number } {
  const base = defaultFamilyPlan(profile).request.recipe?.tokens ?? DEFAULT_RECIPE.tokens;
  return profile === "ci" ? { widths: [8 * d], l0s: [8], tokens: base } : { widths: [d, 8 * d], l0s: [16], tokens: base };
}

/** The store config of a profile (the default family's: same hook, contexts and positions for every model). */
export function ladderStoreConfig(profile: FamilyProfile): StoreConfig {
  return { ...defaultFamilyPlan(profile).store, hooks: [DEFAULT_STORE_CONFIG.hooks[0]] };
}

export interface LadderFamily {
  model: LadderModel;
  architecture: Architecture;
  storeDir: string;
  /** The family folder. */
  familyDir: string;
}

/** Trains (or reuses: cached by config) a family of `architecture` on `store` in `dir`, and returns `dir`. */
export async function ensureArchitectureFamily(store: ActivationStore, architecture: Architecture,
  plan: { widths: number[]; l0s: number[]; tokens: number; hooks: string[] }, dir: string, progress: Progress = silentProgress):
  Promise<string> {
  if (!ARCHITECTURES.includes(architecture)) throw new InputError("architecture", `must be one of ${ARCHITECTURES.join(", ")}, got ${JSON.stringify(architecture)}`);
  // TopK recipes name no architecture (their cache keys stay those of the default family); JumpReLU's ks are target L0s.
  const trainer = architecture === "jumprelu" ? { ...DEFAULT_RECIPE.trainer, architecture: "jumprelu" as const } : DEFAULT_RECIPE.trainer;
  await trainFamily(store, { widths: plan.widths, ks: plan.l0s, hooks: plan.hooks, target: "x", recipe: { ...DEFAULT_RECIPE, tokens: plan.tokens, trainer } },
    dir, { progress });
  return dir;
}

/**
 * The store and the family of one ladder model and architecture. For the default model this is the default family of
 * that architecture (same store config and recipe; its widths include W/d 1 and 8), so nothing is trained twice.
 */
export async function ensureLadderFamily(model: LadderModel, architecture: Architecture, profile: FamilyProfile,
  progress: Progress = silentProgress): Promise<LadderFamily> {
  if (!model.available || model.d === null) throw new InputError(model.dir, "holds no model.bin and tokenizer.bin (train it with `npx darkmatter train-lm`)");
  if (model.name === "d128") {
    const fam = await ensureDefaultFamily(profile, { progress, architecture });
    return { model, architecture, storeDir: fam.storeDir, familyDir: fam.dir };
  }
  const weights = loadLlama2c(path.join(model.dir, "model.bin"));
  const tokenizer = loadTokenizer(path.join(model.dir, "tokenizer.bin"), weights.config.vocabSize);
  const config = ladderStoreConfig(profile);
  const built = buildActivationStore(
    { weights, tokenizer, corpus: defaultCorpus(), modelFile: path.join(model.dir, "model.bin"), tokenizerFile: path.join(model.dir, "tokenizer.bin") },
    { root: DEFAULT_STORE_ROOT, config, progress });
  const store = built.store!;
  try {
    const plan = { ...ladderPlan(profile, model.d), hooks: config.hooks };
    const familyDir = await ensureArchitectureFamily(store, architecture, plan,
      path.join(DEFAULT_FAMILY_ROOT, `ladder-${model.name}-${architecture}-${profile}`), progress);
    return { model, architecture, storeDir: built.dir, familyDir };
  } finally {
    store.close();
  }
}
