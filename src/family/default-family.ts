// The default SAE family of the project's own model (d_model 128, 6 layers): widths 1× … 64× d_model, three k, at
// the main analysis layer (block 3 resid_post, the default store's hook) and the block before it, trained on x.
// "ci" is the same plan reduced (3 widths, 2 k, fewer tokens and contexts) for quick runs; both cache under .cache/.
// With architecture "jumprelu" the same store gets a JumpReLU family (Gemma Scope's recipe at target L0s), with
// fewer widths so that building it stays cheap; its folders are default-jumprelu-<profile>.
import * as path from "path";
import { buildActivationStore, DEFAULT_STORE_CONFIG, DEFAULT_STORE_ROOT } from "../activations/build";
import type { StoreConfig } from "../activations/manifest";
import { initBackend } from "../backend/index";
import { codeFingerprint } from "../code-version";
import { withSummary } from "../inspect";
import { InputError } from "../errors";
import { defaultCorpus } from "../lm/corpus";
import { DEFAULT_MODEL_FILE, DEFAULT_TOKENIZER_FILE, loadDefaultModel } from "../lm/train-default";
import type { Progress } from "../progress";
import { FamilyRequest, FamilySummary, trainFamily } from "./family";
import { DEFAULT_RECIPE, RECIPE_ARCHITECTURES, RecipeArchitecture } from "./train-target";

const projectRoot = path.resolve(__dirname, "..", "..");
/** Where the default families are built (ignored by git). */
export const DEFAULT_FAMILY_ROOT = path.join(projectRoot, ".cache", "sae-families");

export type FamilyProfile = "full" | "ci" | "paper";
export const FAMILY_PROFILES: readonly FamilyProfile[] = ["full", "ci", "paper"];

/** The main analysis hook (the default store's) and the block before it. */
const MAIN_HOOK = DEFAULT_STORE_CONFIG.hooks[0];
const PREVIOUS_HOOK = MAIN_HOOK.replace(/^blocks\.(\d+)\./, (_, l: string) => `blocks.${Number(l) - 1}.`);

const FULL = {
  widths: [128, 256, 512, 1024, 2048, 4096, 8192],
  ks: [8, 16, 32],
  hooks: [PREVIOUS_HOOK, MAIN_HOOK],
  tokens: DEFAULT_RECIPE.tokens,
};

/**
 * What "ci" keeps of the full plan: widths 1×, 8×, 64×, the smallest and largest k, a quarter of the tokens and
 * contexts. Both hooks stay, so the cross-layer analysis (previous block's SAEs) runs in CI too.
 */
const CI = {
  widths: [128, 1024, 8192],
  ks: [8, 32],
  hooks: [PREVIOUS_HOOK, MAIN_HOOK],
  tokens: FULL.tokens / 4,
};

/**
 * The JumpReLU default families: target L0s as the TopK ks, both hooks, the same tokens per SAE; widths 1×, 8× and
 * 64× d_model, so that notebook 10's d128 JumpReLU SAEs (W/d 1 and 8) are this family's and the main job trains them
 * once.
 */
const JUMPRELU_FULL = { ...FULL, widths: [128, 1024, 8192] };
const JUMPRELU_CI = { ...CI };
const JUMPRELU_PAPER = { ...JUMPRELU_FULL, tokens: FULL.tokens * 10 };

/**
 * "paper": a training budget that is not the bottleneck (hours on this machine): the full plan on a store of
 * 5120 contexts (1,049,600 tokens, positions 50…254 of 256 as in every profile) with 10× the tokens per SAE.
 */
const PAPER = { ...FULL, tokens: FULL.tokens * 10 };
export const PAPER_STORE_CONTEXTS = 5120;

export interface DefaultFamilyPlan {
  profile: FamilyProfile;
  /** The SAE architecture: "topk" (the paper's) or "jumprelu" (Gemma Scope's; `ks` are target L0s). */
  architecture: RecipeArchitecture;
  /** The activation store: the default store's config with the family's hooks. */
  store: StoreConfig;
  request: FamilyRequest;
  /** The family folder. */
  dir: string;
}

/** The default family for a profile and architecture: store config, family request and folder. */
export function defaultFamilyPlan(profile: FamilyProfile = "full", root: string = DEFAULT_FAMILY_ROOT,
  architecture: RecipeArchitecture = "topk"): DefaultFamilyPlan {
  if (!FAMILY_PROFILES.includes(profile)) throw new InputError("profile", `must be one of ${FAMILY_PROFILES.join(", ")}, got ${JSON.stringify(profile)}`);
  if (!RECIPE_ARCHITECTURES.includes(architecture)) throw new InputError("architecture", `must be one of ${RECIPE_ARCHITECTURES.join(", ")}, got ${JSON.stringify(architecture)}`);
  const jumprelu = architecture === "jumprelu";
  const p = jumprelu ? (profile === "ci" ? JUMPRELU_CI : profile === "paper" ? JUMPRELU_PAPER : JUMPRELU_FULL)
    : profile === "full" ? FULL : profile === "paper" ? PAPER : CI;
  // TopK recipes name no architecture, so the TopK families keep their cache keys and folders.
  const recipe = jumprelu
    ? { ...DEFAULT_RECIPE, tokens: p.tokens, trainer: { ...DEFAULT_RECIPE.trainer, architecture: "jumprelu" as const } }
    : { ...DEFAULT_RECIPE, tokens: p.tokens };
  // Hooks in block order, so the store for the main hook alone is exactly the default store.
  const hooks = [...p.hooks].sort((a, b) => Number(a.split(".")[1]) - Number(b.split(".")[1]));
  return {
    profile, architecture,
    // ci keeps a quarter of the contexts too, so the notebooks' analyses run in seconds in CI.
    store: { ...DEFAULT_STORE_CONFIG, hooks, ...(profile === "ci" ? { contexts: DEFAULT_STORE_CONFIG.contexts / 4 } : {}),
      ...(profile === "paper" ? { contexts: PAPER_STORE_CONTEXTS } : {}) },
    request: { widths: p.widths, ks: p.ks, hooks, target: "x", recipe },
    // Named after the training code's fingerprint too, so two versions of the code (two worktrees sharing .cache/, a
    // kernel on an older build) each keep their family instead of retraining over each other's.
    dir: path.join(root, `default-${jumprelu ? "jumprelu-" : ""}${profile}-${codeFingerprint(require.resolve("./family"))}`),
  };
}

export interface EnsureFamilyOptions {
  progress?: Progress;
  /** Parent folder of the family folders (default .cache/sae-families). */
  root?: string;
  /** Parent folder of activation stores (default .cache/activations). */
  storeRoot?: string;
  /** "topk" (default) or "jumprelu": which default family. */
  architecture?: RecipeArchitecture;
}

export interface DefaultFamily {
  /** The family folder; an entry's SAE is at path.join(dir, entry.folder). */
  dir: string;
  /** The activation store the family was trained on (`dm.activations.openActivationStore(storeDir)`). */
  storeDir: string;
  /** Every SAE's numbers (`summary.entries`). */
  summary: FamilySummary;
}

/**
 * Builds (or reuses: everything is cached by config) the activation store and the default SAE family of the
 * project's model, and returns the family folder and its summary. Notebooks and the reproduce pipeline call this;
 * `ensureDefaultFamily(profile, { architecture: "jumprelu" })` gives the JumpReLU family on the same store.
 */
export async function ensureDefaultFamily(profile: FamilyProfile = "full", options: EnsureFamilyOptions = {}): Promise<DefaultFamily> {
  const plan = defaultFamilyPlan(profile, options.root, options.architecture ?? "topk");
  await initBackend();
  const { weights, tokenizer } = loadDefaultModel();
  const built = buildActivationStore(
    { weights, tokenizer, corpus: defaultCorpus(), modelFile: DEFAULT_MODEL_FILE, tokenizerFile: DEFAULT_TOKENIZER_FILE },
    { root: options.storeRoot ?? DEFAULT_STORE_ROOT, config: plan.store, progress: options.progress });
  const store = built.store!;
  try {
    const summary = await trainFamily(store, plan.request, plan.dir, { progress: options.progress });
    return defaultFamily(profile, { dir: plan.dir, storeDir: built.dir, summary });
  } finally {
    store.close();
  }
}

/** A DefaultFamily with its printed form (a cell's last value): size and folders, not the summary's records. */
export function defaultFamily(profile: FamilyProfile, f: DefaultFamily): DefaultFamily {
  return withSummary({ ...f }, (x) => [`DefaultFamily ${profile}: ${x.summary.entries.length} SAEs in ${x.dir}`,
    `  store ${x.storeDir}`, "  .summary.entries[i] for one SAE; path.join(family.dir, entry.folder) is its folder"]);
}
