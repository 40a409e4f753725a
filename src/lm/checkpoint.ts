// llama2.c legacy (version 0) checkpoints: reading with validation before any allocation, and atomic writing.
// The weights stay a plain record of Float32Arrays in the file's own layout (matrices [out, in], layers stacked), so a
// loaded file can be written back unchanged and the trainer can fill a record without touching tensors.
import * as fs from "fs";
import { InputError } from "../errors";
import { withAtomicFile } from "../io/atomic";

export interface LlamaConfig {
  dim: number;
  hiddenDim: number;
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
  vocabSize: number;
  seqLen: number;
  /** Whether the output classifier is the token embedding (a positive vocab_size in the file). */
  sharedClassifier: boolean;
}

/** All weights, row-major, in the file's order and shapes (each matrix [out, in], applied as W·x; layers stacked). */
export interface LlamaWeights {
  config: LlamaConfig;
  tokenEmbedding: Float32Array; // [vocab, dim]
  rmsAtt: Float32Array; // [L, dim]
  wq: Float32Array; // [L, dim, dim]
  wk: Float32Array; // [L, kvDim, dim]
  wv: Float32Array; // [L, kvDim, dim]
  wo: Float32Array; // [L, dim, dim]
  rmsFfn: Float32Array; // [L, dim]
  w1: Float32Array; // [L, hidden, dim]
  w2: Float32Array; // [L, dim, hidden]
  w3: Float32Array; // [L, hidden, dim]
  rmsFinal: Float32Array; // [dim]
  /** [vocab, dim]; null when the classifier is shared with tokenEmbedding. */
  wcls: Float32Array | null;
}

export type WeightName = Exclude<keyof LlamaWeights, "config">;

const HEADER_BYTES = 7 * 4;
/** llama2.c's newer export versions start with this magic ("ak42" little-endian) instead of a v0 header. */
const MAGIC_V1PLUS = 0x616b3432;
/** Above this a single dimension is not a plausible model (and products could overflow exact integer arithmetic). */
const MAX_DIM = 1 << 20;

export function headSize(c: LlamaConfig): number { return c.dim / c.nHeads; }
export function kvDim(c: LlamaConfig): number { return (c.dim * c.nKvHeads) / c.nHeads; }

/** Element counts of every array in file order (including the two legacy RoPE tables, which the loader skips). */
function layout(c: LlamaConfig): [WeightName | "freqCisReal" | "freqCisImag", number][] {
  const { dim, hiddenDim: h, nLayers: L, vocabSize: v } = c;
  const kv = kvDim(c);
  const rows: [WeightName | "freqCisReal" | "freqCisImag", number][] = [
    ["tokenEmbedding", v * dim], ["rmsAtt", L * dim], ["wq", L * dim * dim], ["wk", L * kv * dim], ["wv", L * kv * dim],
    ["wo", L * dim * dim], ["rmsFfn", L * dim], ["w1", L * h * dim], ["w2", L * dim * h], ["w3", L * h * dim],
    ["rmsFinal", dim], ["freqCisReal", (c.seqLen * headSize(c)) / 2], ["freqCisImag", (c.seqLen * headSize(c)) / 2],
  ];
  if (!c.sharedClassifier) rows.push(["wcls", v * dim]);
  return rows;
}

/** Exact file size in bytes of a v0 checkpoint with this configuration. */
export function checkpointBytes(c: LlamaConfig): number {
  return HEADER_BYTES + 4 * layout(c).reduce((s, [, n]) => s + n, 0);
}

/** Throws InputError (naming `source`) unless the configuration describes a model the forward pass can run. */
export function validateConfig(c: LlamaConfig, source: string): void {
  const dims: [string, number][] = [["dim", c.dim], ["hidden_dim", c.hiddenDim], ["n_layers", c.nLayers],
    ["n_heads", c.nHeads], ["n_kv_heads", c.nKvHeads], ["vocab_size", c.vocabSize], ["seq_len", c.seqLen]];
  for (const [name, v] of dims) {
    if (!Number.isInteger(v) || v <= 0) throw new InputError(source, `${name} is ${v}; it must be a positive integer`);
    if (v > MAX_DIM) throw new InputError(source, `${name} is ${v}, which is not a plausible model size (max ${MAX_DIM})`);
  }
  if (c.dim % c.nHeads !== 0) throw new InputError(source, `n_heads ${c.nHeads} does not divide dim ${c.dim}`);
  if (c.nHeads % c.nKvHeads !== 0) throw new InputError(source, `n_kv_heads ${c.nKvHeads} does not divide n_heads ${c.nHeads}`);
  if (headSize(c) % 2 !== 0) throw new InputError(source, `head size ${headSize(c)} (dim / n_heads) is odd; RoPE rotates pairs`);
}

function parseHeader(buf: Buffer, source: string): LlamaConfig {
  const h = Array.from({ length: 7 }, (_, i) => buf.readInt32LE(4 * i));
  if (h[0] === MAGIC_V1PLUS) {
    throw new InputError(source, `a llama2.c version ${h[1]} export; only legacy (version 0) checkpoints are supported`);
  }
  const [dim, hiddenDim, nLayers, nHeads, nKvHeads, vocab, seqLen] = h;
  return { dim, hiddenDim, nLayers, nHeads, nKvHeads, vocabSize: Math.abs(vocab), seqLen, sharedClassifier: vocab > 0 };
}

function openChecked(file: string): number {
  try {
    return fs.openSync(file, "r");
  } catch (err) {
    throw new InputError(file, `cannot open llama2.c checkpoint: ${(err as Error).message}`);
  }
}

/** Reads and validates a v0 header against the file's exact size (reads 28 bytes only). */
function readCheckedHeader(fd: number, file: string): { config: LlamaConfig; size: number } {
  const size = fs.fstatSync(fd).size;
  if (size < HEADER_BYTES) throw new InputError(file, `${size} bytes is too short for a llama2.c header (${HEADER_BYTES} bytes)`);
  const head = Buffer.alloc(HEADER_BYTES);
  fs.readSync(fd, head, 0, HEADER_BYTES, 0);
  const config = parseHeader(head, file);
  validateConfig(config, file);
  const expected = checkpointBytes(config);
  if (size !== expected) {
    throw new InputError(file, `file is ${size} bytes but its header (dim ${config.dim}, hidden_dim ${config.hiddenDim}, ` +
      `n_layers ${config.nLayers}, n_heads ${config.nHeads}, n_kv_heads ${config.nKvHeads}, vocab_size ` +
      `${config.sharedClassifier ? "" : "-"}${config.vocabSize}, seq_len ${config.seqLen}) requires exactly ${expected} bytes`);
  }
  return { config, size };
}

/** The configuration of a llama2.c v0 checkpoint, validated against the file size, without reading the weights. */
export function readLlama2cConfig(file: string): LlamaConfig {
  const fd = openChecked(file);
  try {
    return readCheckedHeader(fd, file).config;
  } finally {
    fs.closeSync(fd);
  }
}

/** Reads and validates a llama2.c v0 checkpoint. The header is checked against the exact file size before allocating. */
export function loadLlama2c(file: string): LlamaWeights {
  const fd = openChecked(file);
  try {
    const { config, size } = readCheckedHeader(fd, file);
    // One allocation for the whole payload (now known to be the file's real size); weights are views into it.
    const data = new Float32Array((size - HEADER_BYTES) / 4);
    const bytes = new Uint8Array(data.buffer);
    for (let done = 0; done < bytes.length;) {
      const n = fs.readSync(fd, bytes, done, Math.min(bytes.length - done, 1 << 30), HEADER_BYTES + done);
      if (n <= 0) throw new InputError(file, "file ended early while reading weights");
      done += n;
    }
    const w: Partial<Record<WeightName, Float32Array>> = {};
    let at = 0;
    for (const [name, n] of layout(config)) {
      if (name !== "freqCisReal" && name !== "freqCisImag") w[name] = data.subarray(at, at + n);
      at += n;
    }
    for (const [name, arr] of Object.entries(w)) {
      const bad = firstNonFinite(arr!);
      if (bad >= 0) throw new InputError(file, `weight ${name} has a non-finite value (${arr![bad]}) at element ${bad}`);
    }
    return { config, ...(w as Record<WeightName, Float32Array>), wcls: w.wcls ?? null };
  } finally {
    fs.closeSync(fd);
  }
}

/** Number of model parameters (the legacy RoPE tables excluded; a shared classifier counted once). */
export function parameterCount(c: LlamaConfig): number {
  return Object.values(weightSizes(c)).reduce((s, n) => s + n, 0);
}

function firstNonFinite(a: Float32Array): number {
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i])) return i;
  return -1;
}

/** Expected element count of each weight array for a configuration (what saveLlama2c checks). */
export function weightSizes(c: LlamaConfig): Record<WeightName, number> {
  const sizes = Object.fromEntries(layout(c).filter(([n]) => n !== "freqCisReal" && n !== "freqCisImag")) as Record<WeightName, number>;
  if (c.sharedClassifier) sizes.wcls = 0;
  return sizes;
}

/**
 * The legacy RoPE tables llama2.c's export writes after rms_final: cos and sin of t·10000^(-2j/head_size) for
 * t < seq_len, j < head_size/2. Computed in float32 steps like the PyTorch export (run.c itself ignores them).
 */
export function legacyFreqCis(c: LlamaConfig): { real: Float32Array; imag: Float32Array } {
  const hs = headSize(c), half = hs / 2;
  const real = new Float32Array(c.seqLen * half), imag = new Float32Array(c.seqLen * half);
  for (let j = 0; j < half; j++) {
    const freq = Math.fround(1 / Math.fround(Math.pow(10000, Math.fround((2 * j) / hs))));
    for (let t = 0; t < c.seqLen; t++) {
      const angle = Math.fround(t * freq);
      real[t * half + j] = Math.cos(angle);
      imag[t * half + j] = Math.sin(angle);
    }
  }
  return { real, imag };
}

/** Writes a llama2.c v0 checkpoint atomically (negative vocab_size and trailing wcls when the classifier is unshared). */
export function saveLlama2c(file: string, weights: LlamaWeights): void {
  const c = weights.config;
  validateConfig(c, `${file} (config to save)`);
  if (c.sharedClassifier !== (weights.wcls === null)) {
    throw new InputError(file, `config.sharedClassifier is ${c.sharedClassifier} but wcls is ${weights.wcls ? "present" : "null"}`);
  }
  const sizes = weightSizes(c);
  for (const name of Object.keys(sizes) as WeightName[]) {
    const arr = weights[name];
    if (name === "wcls" && arr === null) continue;
    if (!(arr instanceof Float32Array) || arr.length !== sizes[name]) {
      throw new InputError(file, `weight ${name} has ${arr ? arr.length : "no"} elements; this config needs ${sizes[name]}`);
    }
  }
  const header = Buffer.alloc(HEADER_BYTES);
  [c.dim, c.hiddenDim, c.nLayers, c.nHeads, c.nKvHeads, c.sharedClassifier ? c.vocabSize : -c.vocabSize, c.seqLen]
    .forEach((v, i) => header.writeInt32LE(v, 4 * i));
  const freq = legacyFreqCis(c);
  const arrays: Float32Array[] = layout(c).map(([name]) =>
    name === "freqCisReal" ? freq.real : name === "freqCisImag" ? freq.imag : (weights[name] as Float32Array));
  withAtomicFile(file, (tmp) => {
    const fd = fs.openSync(tmp, "w");
    try {
      writeAll(fd, header);
      for (const a of arrays) writeAll(fd, new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
    } finally {
      fs.closeSync(fd);
    }
  });
}

function writeAll(fd: number, bytes: Uint8Array): void {
  for (let done = 0; done < bytes.length;) done += fs.writeSync(fd, bytes, done, Math.min(bytes.length - done, 1 << 30));
}
