// Activation stores: contexts drawn from a corpus, the model's per-token loss and hooked activations on disk in
// chunked .npy files with a manifest, keyed by config + model + tokenizer + corpus, resumable, streamed by readers.
export { buildActivationStore, modelCapture, hashWeights, hashTokenizer, DEFAULT_STORE_CONFIG, DEFAULT_STORE_ROOT } from "./build";
export type { CaptureFn, StoreInputs, BuildOptions, BuildResult, FingerprintedModel, TokenContexts } from "./build";
export { openActivationStore } from "./store";
export type { ActivationStore, RowChunk } from "./store";
export { readManifest, validateStoreConfig, keptPositions, storeKey, STORE_FORMAT, STORE_VERSION } from "./manifest";
export type { StoreConfig, StoreManifest, ChunkInfo } from "./manifest";
export { openActivationSource } from "./sources";
export type { ActivationSource } from "./sources";
export { ActivationTable, tokenTextFn } from "./table";
export type { RowIndex, TableOptions } from "./table";
export { run, loadModel, lengthBatches, ModelRun } from "./run";
export type { LanguageModel, RunOptions, RunInput } from "./run";
