// Recognising and describing llama2.c files for `darkmatter inspect`: checkpoints are described from their header
// (validated against the exact file size; the weights are not read), tokenizers by parsing the (small) file.
import * as fs from "fs";
import * as path from "path";
import { isHfCheckpointDir, readHfConfig } from "./hf-checkpoint";
import type { Inspector } from "../io/inspector";
import { InputError } from "../errors";
import { headSize, kvDim, parameterCount, readLlama2cConfig } from "./checkpoint";
import { loadTokenizer } from "./tokenizer";

/** Tokenizer files are small (Llama 2's 32000 pieces take ~0.5 MB); larger files are not parsed to find out. */
const MAX_TOKENIZER_BYTES = 16 << 20;

function isFile(p: string): boolean {
  try {
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

function accepts(f: () => unknown): boolean {
  try {
    f();
    return true;
  } catch (err) {
    if (err instanceof InputError) return false;
    throw err;
  }
}

/** Whether a file is a consistent llama2.c v0 checkpoint (header valid and the size exact; reads 28 bytes). */
export function isLlamaCheckpoint(file: string): boolean {
  return isFile(file) && accepts(() => readLlama2cConfig(file));
}

export function describeLlamaCheckpoint(file: string): Record<string, unknown> {
  const c = readLlama2cConfig(file);
  return {
    format: "llama2.c checkpoint (legacy version 0)", path: path.resolve(file), bytes: fs.statSync(file).size,
    dim: c.dim, hidden_dim: c.hiddenDim, n_layers: c.nLayers, n_heads: c.nHeads, n_kv_heads: c.nKvHeads,
    head_size: headSize(c), kv_dim: kvDim(c), vocab_size: c.vocabSize, seq_len: c.seqLen,
    classifier: c.sharedClassifier ? "shared with the token embedding" : "separate (wcls)",
    parameters: parameterCount(c),
  };
}

/**
 * Whether a file parses as a llama2.c tokenizer.bin. The format has no magic number: a parse that ends exactly at the
 * end of the file, with at least the 3 special tokens, is the evidence (so test for checkpoints first).
 */
export function isLlamaTokenizer(file: string): boolean {
  return isFile(file) && fs.statSync(file).size <= MAX_TOKENIZER_BYTES && accepts(() => {
    if (loadTokenizer(file).vocabSize < 3) throw new InputError(file, "fewer than 3 tokens");
  });
}

export function describeTokenizer(file: string): Record<string, unknown> {
  const tok = loadTokenizer(file);
  let byteTokens = 0;
  for (let b = 0; b < 256 && b + 3 < tok.vocabSize; b++) {
    if (tok.piece(b + 3) === `<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`) byteTokens++;
  }
  let lo = Infinity, hi = -Infinity;
  for (const s of tok.scores) { lo = Math.min(lo, s); hi = Math.max(hi, s); }
  const firstMerged = byteTokens === 256 ? 259 : 3;
  return {
    format: "llama2.c tokenizer (tokenizer.bin)", path: path.resolve(file), bytes: fs.statSync(file).size,
    vocab_size: tok.vocabSize, max_token_length: tok.maxTokenLength,
    special_tokens: [0, 1, 2].filter((i) => i < tok.vocabSize).map((i) => tok.piece(i)),
    byte_fallback_tokens: byteTokens === 256 ? "all 256 (<0x00>..<0xFF> at ids 3..258)" : `${byteTokens} of 256`,
    score_range: [lo, hi],
    first_pieces: Array.from({ length: Math.max(0, Math.min(8, tok.vocabSize - firstMerged)) }, (_, i) => tok.piece(firstMerged + i)),
  };
}

/** A Hugging Face checkpoint folder: its config as the forward reads it (config.json only; weights are not read). */
export function describeHfCheckpoint(dir: string): Record<string, unknown> {
  const c = readHfConfig(dir);
  return {
    format: `Hugging Face checkpoint folder (${c.modelType})`, path: path.resolve(dir),
    hidden_size: c.hiddenSize, layers: c.nLayers, heads: c.nHeads, kv_heads: c.nKvHeads, head_dim: c.headDim,
    intermediate_size: c.intermediateSize, vocab_size: c.vocabSize, tied_embeddings: c.tieEmbeddings, bos_token_id: c.bosTokenId,
    rope: c.llama3Rope ? { theta: c.ropeTheta, llama3: c.llama3Rope } : { theta: c.ropeTheta },
    sliding_windows: c.windows, attn_softcap: c.attnSoftcap || null, final_softcap: c.finalSoftcap || null,
    tokenizer_json: fs.existsSync(path.join(dir, "tokenizer.json")),
  };
}

/** `darkmatter inspect` inspectors for llama2.c files (checkpoint first: its header check is the stricter test). */
export const LM_INSPECTORS: Inspector[] = [
  { name: "hf-checkpoint", detect: isHfCheckpointDir, describe: describeHfCheckpoint },
  { name: "llama2c-checkpoint", detect: isLlamaCheckpoint, describe: describeLlamaCheckpoint },
  { name: "llama2c-tokenizer", detect: isLlamaTokenizer, describe: describeTokenizer },
];
