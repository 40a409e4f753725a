// The language-model substrate: llama2.c checkpoints and tokenizers, a batched differentiable forward pass with
// TransformerLens-named hooks (capture and splice), per-token loss, and generation.
//
// API summary (signatures are stable):
//   loadLlama2c(path): LlamaWeights                 v0 checkpoint → { config, tokenEmbedding, rmsAtt, wq, …, wcls|null }
//   readLlama2cConfig(path): LlamaConfig            header only, validated against the file size
//   saveLlama2c(path, weights)                      atomic; writes the legacy freq_cis tables too
//   loadTokenizer(path, vocabSize?): Tokenizer      .encode(text, {bos=true, eos=false}): Int32Array, .decode(tokens)
//   saveTokenizer(path, {pieces, scores, maxTokenLength?})   atomic; byte tokens <0x00>..<0xFF> must be ids 3..258
//   toTensors(weights) / toTrainable(weights): LlamaParams   (tf.Variables; paramVariables(p), toWeights(p), disposeParams(p))
//   forward(params, tokens[][], {capture?, splice?, loss=true, logits=false, stopAtLayer?}): ForwardResult
//       plain arrays: loss [B, T-1] (nats; loss[b,t] predicts token t+1), logits [B, T, V], captured hooks [B, T, d]
//   forwardTensors(params, tokens[][], options): { loss?: Tensor2D, logits?: Tensor3D, captured: Map<HookName, Tensor3D> }
//       differentiable (tf.variableGrads(() => tf.mean(forwardTensors(p, batch).loss!))), caller disposes / tidies
//   generate(params, tokenizer, {prompt?, steps=256, temperature=0, seed=0, onToken?}): { tokens, promptLength, text, stopped }
//   Hook names: blocks.{L}.hook_resid_pre | hook_attn_out | hook_resid_mid | hook_mlp_out | hook_resid_post.
//   Splice: { hook, at?: {mask: [B·T] flags} | {positions: number[]}, value: Float32Array [n, d] | Tensor2D | (orig) => Tensor2D }.
export {
  loadLlama2c, saveLlama2c, readLlama2cConfig, validateConfig, checkpointBytes, parameterCount, headSize, kvDim, weightSizes,
  legacyFreqCis,
} from "./checkpoint";
export type { LlamaConfig, LlamaWeights, WeightName } from "./checkpoint";
export { Tokenizer, loadTokenizer, parseTokenizer, saveTokenizer, tokenizerBytes, BOS, EOS } from "./tokenizer";
export type { TokenizerVocab, EncodeOptions, TextTokenizer } from "./tokenizer";
export {
  toTensors, toTrainable, toWeights, paramTensors, paramVariables, disposeParams, forward, forwardTensors,
  emptyKvCache, disposeKvCache,
} from "./model";
export type { LlamaParams, LayerParams, ForwardOptions, ForwardResult, ForwardTensors, TokenBatch, KvCache, LanguageModel, ForwardModel } from "./model";
export { isForwardModel } from "./model";
// Hugging Face checkpoint folders (model_type llama / gemma2): loadHfModel(dir).forward(tokens, options) — the same
// options, hooks and splices as forward(); forward(model, …) also accepts an HfModel.
export { HfModel, loadHfModel, loadHfModelAndTokenizer } from "./hf-model";
export type { HfModelOptions } from "./hf-model";
export { checkHfCheckpoint, loadHfCheckpoint, readHfConfig, isHfCheckpointDir } from "./hf-checkpoint";
export type { HfCheckpoint } from "./hf-checkpoint";
export { parseHfConfig } from "./hf-config";
export type { HfConfig } from "./hf-config";
export { HfTokenizer, loadHfTokenizer } from "./hf-tokenizer";
export { readTokenContexts } from "./token-file";
export { HOOK_POINTS, hookName, parseHookName, selectedRows } from "./hooks";
export type { HookName, HookPoint, Splice, SpliceValue, PositionSelector } from "./hooks";
export { generate, sampleToken } from "./generate";
export type { GenerateOptions, GenerateResult } from "./generate";
export { describeLlamaCheckpoint, describeTokenizer, isLlamaCheckpoint, isLlamaTokenizer } from "./inspect";
export * from "./corpus";
export { tokenizeDocuments, documentContexts, sampleContexts, tokenRows, piecesAreWordwise } from "./corpus-tokens";
export { trainBpe } from "./bpe";
export { trainLanguageModel, initWeights, meanLoss, unigramCE, learningRate, DEFAULT_TRAIN } from "./train";
export { loadDefaultModel, trainDefaultModel, tokenizeWith, DEFAULT_MODEL_FILE, DEFAULT_TOKENIZER_FILE } from "./train-default";
// Types the public signatures above use, so the API reference can show them.
export type { TrainConfig, TrainOptions, TrainResult, EvalPoint } from "./train";
export type { StoredTensor, LayerTensors, OpenHfOptions } from "./hf-checkpoint";
export type { Llama3Rope, HfModelType } from "./hf-config";
export type { Contexts, TokenizedCorpus, TextEncoder } from "./corpus-tokens";
export type { TokenGrid } from "./token-file";
export type { BpeVocab, BpeOptions } from "./bpe";
export type { ModelReport, TrainDefaultOptions } from "./train-default";
