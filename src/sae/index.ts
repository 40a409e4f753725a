// Sparse autoencoders: the model (relu, topk, jumprelu, gated), its chunked forward pass, and loaders/savers for
// Gemma Scope, SAELens, sparsify and Llama Scope files.
export { Sae, ARCHITECTURES, ensureBackendCapacity, summarizeThreshold } from "./model";
export type { Architecture, SaeFormat, SaeMetadata, SaeSpec, SaeWeightsInput, WeightInput, WeightName } from "./model";
export { chunkRowsFor, DEFAULT_MEMORY_BUDGET } from "./forward";
export type { ForwardOptions, ForwardResult, SaeInput, ActivationRows } from "./forward";
export { FvuAccumulator } from "./fvu";
export { validateLatents } from "./sparse";
export type { SparseLatents, DecodePath } from "./sparse";
export { loadSae, planSae, describeSae, detectSae } from "./load";
export { openSae, requireWholeSae, runsBlocked } from "./open";
export type { AnySae, OpenSaeOptions } from "./open";
export { BlockedSae } from "./blocked";
export { DEFAULT_WEIGHT_BUDGET, WEIGHT_BUDGET_ENV, planBlocks, weightBudgetBytes } from "./block-plan";
export type { BlockPlan } from "./block-plan";
export type { LoadSaeOptions, SaeLocation } from "./load";
export { closePlan } from "./formats/plan";
export type { SaePlan } from "./formats/plan";
export { saveSaeLens, saeLensConfig } from "./formats/saelens";
export { saveGemmaScope } from "./formats/gemma-scope";
export { parseGemmaScopePath, parseWidth, layerFromHookName } from "./paths";
export type { PathConvention } from "./paths";
// Types the public signatures above use, so the API reference can show them.
export type { SaeView } from "./types";
export type { BudgetAllocator, BlockPlanInput } from "./block-plan";
export type { WeightPlan } from "./formats/plan";
export type { BlockedOptions } from "./blocked";
