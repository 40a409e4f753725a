// SAE families: SAEs trained on activations or on an SAE's error components (SaeError, LinearError,
// NonlinearError, computed per batch), grids of them saved in Gemma Scope folders with caching and resumption,
// the project's default family, and the paper's §3.8 comparison of SAEs trained on linear vs nonlinear error.
export {
  TARGET_KINDS, checkTargetKind, arrayRows, storeRows, IN_MEMORY_BYTES, heldOutSplit, saeFingerprint, errorComponents,
  resolveLinearMapOptions, fitLinearMap, makeTarget,
} from "./targets";
export type {
  TargetKind, ActivationRows, RowSplit, ErrorComponents, LinearMapOptions, LinearMapReport, TargetProvenance, TargetRows,
  TargetOptions,
} from "./targets";
export {
  DEFAULT_RECIPE, resolveRecipe, trainConfigFor, trainOnTarget, saveTrainedSae, readCompleteRecord, canonicalJson, hashOf,
  TRAIN_RECORD, TRAINING_LOG,
} from "./train-target";
export type { SaeRecipe, SaeResult, TrainedOnTarget, TrainRecord } from "./train-target";
export {
  trainFamily, resolveFamilyConfig, readFamilySummary, summaryMarkdown, widthLabel, hookFolder, saeFolder, SUMMARY_JSON, SUMMARY_MD,
} from "./family";
export type { FamilyConfig, FamilyRequest, FamilyEntry, FamilySummary, FamilyOptions } from "./family";
export { compareErrorTargets, comparisonTable } from "./compare";
export type { CompareOptions, ErrorTargetComparison } from "./compare";
export { ensureDefaultFamily, defaultFamilyPlan, DEFAULT_FAMILY_ROOT, FAMILY_PROFILES } from "./default-family";
export type { FamilyProfile, DefaultFamilyPlan, EnsureFamilyOptions, DefaultFamily } from "./default-family";
// Types the public signatures above use, so the API reference can show them.
export type { RecipeArchitecture, TrainerSettings } from "./train-target";
export type { FileSum } from "../io/entry";
