// Hugging Face checkpoint folders: config.json, model.safetensors or shards listed in model.safetensors.index.json.
// Every expected tensor is checked (present, float dtype, exact shape) before any weight is read; weights are then
// kept as their stored bytes (BF16 / F16 / F32) in host memory, outside the wasm heap, and converted to float32 one
// layer at a time by the forward pass (src/lm/hf-model.ts).
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { InputError } from "../errors";
import { openSafetensors } from "../io/safetensors";
import type { DType } from "../io/tensor";
import type { TensorFile } from "../io/tensorFile";
import { HfConfig, parseHfConfig } from "./hf-config";

export const HF_CONFIG_FILE = "config.json";
export const HF_INDEX_FILE = "model.safetensors.index.json";
export const HF_SINGLE_FILE = "model.safetensors";

/** One weight as stored: raw bytes in the file's dtype, row-major. */
export interface StoredTensor {
  name: string;
  dtype: "float32" | "float16" | "bfloat16";
  shape: number[];
  /** The shard it came from (named in errors). */
  file: string;
  bytes: Uint8Array;
}

export interface LayerTensors {
  inputNorm: StoredTensor;
  q: StoredTensor; k: StoredTensor; v: StoredTensor; o: StoredTensor;
  qBias: StoredTensor | null; kBias: StoredTensor | null; vBias: StoredTensor | null; oBias: StoredTensor | null;
  /** Gemma 2: post_attention_layernorm (applied to the attention output). Null for Llama. */
  postAttnNorm: StoredTensor | null;
  /** The norm before the MLP: Llama's post_attention_layernorm, Gemma 2's pre_feedforward_layernorm. */
  preMlpNorm: StoredTensor;
  /** Gemma 2: post_feedforward_layernorm. Null for Llama. */
  postMlpNorm: StoredTensor | null;
  gate: StoredTensor; up: StoredTensor; down: StoredTensor;
  gateBias: StoredTensor | null; upBias: StoredTensor | null; downBias: StoredTensor | null;
}

export interface HfCheckpoint {
  dir: string;
  config: HfConfig;
  embedding: StoredTensor;
  layers: LayerTensors[];
  finalNorm: StoredTensor;
  /** lm_head; null when tied to the embedding. */
  lmHead: StoredTensor | null;
  /** Bytes of all weights held. */
  bytes: number;
  /** sha256 of config.json, every tensor's name, dtype and shape, and a sample of each tensor's bytes. */
  fingerprint: string;
}

/** Whether `dir` is a folder with a config.json (what the CLI and notebooks take as a Hugging Face checkpoint). */
export function isHfCheckpointDir(dir: string): boolean {
  try {
    return fs.statSync(dir).isDirectory() && fs.existsSync(path.join(dir, HF_CONFIG_FILE));
  } catch {
    return false;
  }
}

function readJson(file: string, what: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    throw new InputError(file, `cannot read ${what}: ${(e as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new InputError(file, `${what} is not valid JSON: ${(e as Error).message}`);
  }
}

/** The validated config of a checkpoint folder (reads config.json only). */
export function readHfConfig(dir: string): HfConfig {
  const file = path.join(dir, HF_CONFIG_FILE);
  if (!fs.existsSync(file)) throw new InputError(dir, `has no ${HF_CONFIG_FILE}; not a Hugging Face checkpoint folder`);
  return parseHfConfig(readJson(file, HF_CONFIG_FILE), file);
}

/** Tensor name → shard file (absolute), from the index or the single file. */
function shardMap(dir: string): Map<string, string> | string {
  const index = path.join(dir, HF_INDEX_FILE);
  if (fs.existsSync(index)) {
    const raw = readJson(index, HF_INDEX_FILE) as { weight_map?: unknown };
    const wm = raw && typeof raw === "object" ? raw.weight_map : undefined;
    if (!wm || typeof wm !== "object" || Array.isArray(wm)) throw new InputError(index, "has no weight_map object");
    const map = new Map<string, string>();
    for (const [name, file] of Object.entries(wm as Record<string, unknown>)) {
      if (typeof file !== "string" || file.includes("/") || file.includes("\\") || file === "..") {
        throw new InputError(index, `weight_map[${JSON.stringify(name)}] is not a file name in the folder`);
      }
      map.set(name, path.join(dir, file));
    }
    return map;
  }
  const single = path.join(dir, HF_SINGLE_FILE);
  if (fs.existsSync(single)) return single;
  const bin = ["pytorch_model.bin", "pytorch_model.bin.index.json"].find((f) => fs.existsSync(path.join(dir, f)));
  throw new InputError(dir, bin ? `holds ${bin}: only safetensors weights are supported (${HF_SINGLE_FILE} or ${HF_INDEX_FILE})`
    : `has neither ${HF_SINGLE_FILE} nor ${HF_INDEX_FILE}`);
}

/** The tensors a configuration needs, with their shapes ([out, in] for projections). */
function expectedTensors(c: HfConfig, prefix: string): { name: string; shape: number[]; optional?: boolean }[] {
  const d = c.hiddenSize, q = c.nHeads * c.headDim, kv = c.nKvHeads * c.headDim, h = c.intermediateSize;
  const gemma = c.modelType === "gemma2";
  const out: { name: string; shape: number[]; optional?: boolean }[] = [{ name: `${prefix}embed_tokens.weight`, shape: [c.vocabSize, d] }];
  for (let l = 0; l < c.nLayers; l++) {
    const p = `${prefix}layers.${l}.`;
    out.push({ name: `${p}input_layernorm.weight`, shape: [d] }, { name: `${p}post_attention_layernorm.weight`, shape: [d] },
      { name: `${p}self_attn.q_proj.weight`, shape: [q, d] }, { name: `${p}self_attn.k_proj.weight`, shape: [kv, d] },
      { name: `${p}self_attn.v_proj.weight`, shape: [kv, d] }, { name: `${p}self_attn.o_proj.weight`, shape: [d, q] },
      { name: `${p}mlp.gate_proj.weight`, shape: [h, d] }, { name: `${p}mlp.up_proj.weight`, shape: [h, d] },
      { name: `${p}mlp.down_proj.weight`, shape: [d, h] });
    if (gemma) out.push({ name: `${p}pre_feedforward_layernorm.weight`, shape: [d] }, { name: `${p}post_feedforward_layernorm.weight`, shape: [d] });
    if (c.attentionBias) {
      out.push({ name: `${p}self_attn.q_proj.bias`, shape: [q] }, { name: `${p}self_attn.k_proj.bias`, shape: [kv] },
        { name: `${p}self_attn.v_proj.bias`, shape: [kv] }, { name: `${p}self_attn.o_proj.bias`, shape: [d] });
    }
    if (c.mlpBias) {
      out.push({ name: `${p}mlp.gate_proj.bias`, shape: [h] }, { name: `${p}mlp.up_proj.bias`, shape: [h] }, { name: `${p}mlp.down_proj.bias`, shape: [d] });
    }
  }
  out.push({ name: `${prefix}norm.weight`, shape: [d] });
  if (!c.tieEmbeddings) out.push({ name: "lm_head.weight", shape: [c.vocabSize, d] });
  return out;
}

export interface OpenHfOptions {
  /** Also check every weight is finite (reads each once; default true). */
  checkFinite?: boolean;
}

interface CheckedTensors {
  config: HfConfig;
  configText: Buffer;
  prefix: string;
  /** Every tensor the config needs, present with its dtype and shape (bytes not read yet). */
  tensors: Map<string, StoredTensor>;
  files: Map<string, TensorFile>;
}

/**
 * Checks a checkpoint folder without reading its weights: config.json, the shard index, and every tensor the config
 * needs present with a weight dtype and the implied shape. Throws an InputError naming the file; closes what it opened.
 */
export function checkHfCheckpoint(dir: string): HfConfig {
  const checked = checkTensors(dir);
  for (const f of checked.files.values()) f.close();
  return checked.config;
}

function checkTensors(dir: string): CheckedTensors {
  const config = readHfConfig(dir);
  const configText = fs.readFileSync(path.join(dir, HF_CONFIG_FILE));
  const shards = shardMap(dir);
  const files = new Map<string, TensorFile>();
  const open = (file: string, forTensor: string): TensorFile => {
    let f = files.get(file);
    if (!f) {
      if (!fs.existsSync(file)) {
        throw new InputError(typeof shards === "string" ? file : path.join(dir, HF_INDEX_FILE),
          `lists ${path.basename(file)} for tensor ${JSON.stringify(forTensor)}, but that file does not exist`);
      }
      f = openSafetensors(file);
      files.set(file, f);
    }
    return f;
  };
  try {
    // Names are "model.…" as saved by *ForCausalLM; a bare *Model checkpoint has no prefix.
    const fileOf = (name: string) => typeof shards === "string" ? shards : shards.get(name);
    const has = (name: string) => {
      const f = fileOf(name);
      return f !== undefined && open(f, name).entries.some((e) => e.name === name);
    };
    const prefix = has("model.embed_tokens.weight") || !has("embed_tokens.weight") ? "model." : "";
    const tensors = new Map<string, StoredTensor>();
    for (const want of expectedTensors(config, prefix)) {
      const file = fileOf(want.name);
      const where = typeof shards === "string" ? shards : path.join(dir, HF_INDEX_FILE);
      if (file === undefined) throw new InputError(where, `has no tensor ${JSON.stringify(want.name)} (needed by ${config.modelType} with this config.json)`);
      const tf = open(file, want.name);
      const entry = tf.entries.find((e) => e.name === want.name);
      if (!entry) throw new InputError(file, `has no tensor ${JSON.stringify(want.name)} (needed by ${config.modelType} with this config.json)`);
      if (!isWeightDType(entry.dtype)) throw new InputError(file, `tensor ${JSON.stringify(want.name)} is ${entry.dtype}; weights must be F32, F16 or BF16`);
      if (entry.shape.length !== want.shape.length || entry.shape.some((s, i) => s !== want.shape[i])) {
        throw new InputError(file, `tensor ${JSON.stringify(want.name)} has shape [${entry.shape.join(", ")}]; config.json implies [${want.shape.join(", ")}]`);
      }
      tensors.set(want.name, { name: want.name, dtype: entry.dtype, shape: entry.shape, file, bytes: new Uint8Array(0) });
    }
    return { config, configText, prefix, tensors, files };
  } catch (e) {
    for (const f of files.values()) f.close();
    throw e;
  }
}

/** Opens, validates and reads a checkpoint folder. */
export function loadHfCheckpoint(dir: string, options: OpenHfOptions = {}): HfCheckpoint {
  const { config, configText, prefix, tensors, files } = checkTensors(dir);
  try {
    const hash = createHash("sha256").update(configText);
    let bytes = 0;
    // All present and well-shaped: now read the bytes.
    for (const t of tensors.values()) {
      t.bytes = readBytes(files.get(t.file)!, t.name);
      if (options.checkFinite ?? true) checkFinite(t);
      bytes += t.bytes.length;
      hash.update(`${t.name} ${t.dtype} ${t.shape.join(",")}`).update(sample(t.bytes));
    }
    const get = (n: string) => tensors.get(prefix + n)!;
    const opt = (n: string) => tensors.get(prefix + n) ?? null;
    const gemma = config.modelType === "gemma2";
    const layers: LayerTensors[] = [];
    for (let l = 0; l < config.nLayers; l++) {
      const p = `layers.${l}.`;
      layers.push({
        inputNorm: get(`${p}input_layernorm.weight`),
        q: get(`${p}self_attn.q_proj.weight`), k: get(`${p}self_attn.k_proj.weight`), v: get(`${p}self_attn.v_proj.weight`),
        o: get(`${p}self_attn.o_proj.weight`),
        qBias: opt(`${p}self_attn.q_proj.bias`), kBias: opt(`${p}self_attn.k_proj.bias`), vBias: opt(`${p}self_attn.v_proj.bias`),
        oBias: opt(`${p}self_attn.o_proj.bias`),
        postAttnNorm: gemma ? get(`${p}post_attention_layernorm.weight`) : null,
        preMlpNorm: gemma ? get(`${p}pre_feedforward_layernorm.weight`) : get(`${p}post_attention_layernorm.weight`),
        postMlpNorm: gemma ? get(`${p}post_feedforward_layernorm.weight`) : null,
        gate: get(`${p}mlp.gate_proj.weight`), up: get(`${p}mlp.up_proj.weight`), down: get(`${p}mlp.down_proj.weight`),
        gateBias: opt(`${p}mlp.gate_proj.bias`), upBias: opt(`${p}mlp.up_proj.bias`), downBias: opt(`${p}mlp.down_proj.bias`),
      });
    }
    return {
      dir, config, embedding: get("embed_tokens.weight"), layers, finalNorm: get("norm.weight"),
      lmHead: config.tieEmbeddings ? null : tensors.get("lm_head.weight")!, bytes, fingerprint: hash.digest("hex"),
    };
  } finally {
    for (const f of files.values()) f.close();
  }
}

function isWeightDType(d: DType): d is StoredTensor["dtype"] {
  return d === "float32" || d === "float16" || d === "bfloat16";
}

function readBytes(file: TensorFile, name: string): Uint8Array {
  const d = file.read(name).data;
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}

/** Up to 3 × 4 KiB of a tensor's bytes (start, middle, end): the fingerprint's content sample. */
function sample(b: Uint8Array): Uint8Array {
  const k = 4096;
  if (b.length <= 3 * k) return b;
  const mid = Math.floor(b.length / 2);
  const out = new Uint8Array(3 * k);
  out.set(b.subarray(0, k), 0); out.set(b.subarray(mid, mid + k), k); out.set(b.subarray(b.length - k), 2 * k);
  return out;
}

function checkFinite(t: StoredTensor): void {
  const n = t.bytes.length / (t.dtype === "float32" ? 4 : 2);
  if (t.dtype === "float32") {
    const a = new Float32Array(t.bytes.buffer, t.bytes.byteOffset, n);
    for (let i = 0; i < n; i++) if (!Number.isFinite(a[i])) throw new InputError(t.file, `tensor ${JSON.stringify(t.name)} has a non-finite value at element ${i}`);
    return;
  }
  // Exponent bits all ones = Inf or NaN, in both half formats.
  const a = new Uint16Array(t.bytes.buffer, t.bytes.byteOffset, n);
  const mask = t.dtype === "bfloat16" ? 0x7f80 : 0x7c00;
  for (let i = 0; i < n; i++) if ((a[i] & mask) === mask) throw new InputError(t.file, `tensor ${JSON.stringify(t.name)} has a non-finite value at element ${i}`);
}
