// Tiny random Hugging Face checkpoints written in the real folder layout (config.json, model.safetensors or shards
// with model.safetensors.index.json), returning the config and the exact stored values (after BF16/F16 rounding) as
// float64 for the reference.
import * as fs from "fs";
import * as path from "path";
import { writeSafetensors } from "../../src/io/safetensors";
import { float32ToBfloat16Bits, float32ToFloat16Bits, HostTensor } from "../../src/io/tensor";
import { mulberry32 } from "../../src/linalg/random";
import type { Json, Weights } from "./hf-reference";

export interface TinySpec {
  modelType: "llama" | "gemma2";
  dtype?: "float32" | "bfloat16" | "float16";
  tied?: boolean;
  shards?: number;
  bias?: boolean;
  seed?: number;
  /** Extra / overriding config.json fields. */
  config?: Json;
}

export function tinyConfig(spec: TinySpec): Json {
  const base: Json = {
    model_type: spec.modelType, hidden_size: 24, intermediate_size: 40, num_hidden_layers: 3, num_attention_heads: 4,
    num_key_value_heads: 2, head_dim: 8, vocab_size: 50, max_position_embeddings: 64, rms_norm_eps: 1e-6,
    tie_word_embeddings: spec.tied ?? false, bos_token_id: 1, torch_dtype: spec.dtype ?? "float32",
  };
  if (spec.modelType === "llama") {
    Object.assign(base, { hidden_act: "silu", rope_theta: 500000, attention_bias: spec.bias ?? false, mlp_bias: spec.bias ?? false });
  } else {
    Object.assign(base, {
      hidden_activation: "gelu_pytorch_tanh", rope_theta: 10000, query_pre_attn_scalar: 12, sliding_window: 3,
      attn_logit_softcapping: 0.8, final_logit_softcapping: 1.5,
    });
  }
  return { ...base, ...(spec.config ?? {}) };
}

/** Names and shapes of every tensor of a config (HF layout). */
export function tensorShapes(cfg: Json): [string, number[]][] {
  const d = cfg.hidden_size, q = cfg.num_attention_heads * cfg.head_dim, kv = cfg.num_key_value_heads * cfg.head_dim;
  const h = cfg.intermediate_size, gemma = cfg.model_type === "gemma2";
  const out: [string, number[]][] = [["model.embed_tokens.weight", [cfg.vocab_size, d]], ["model.norm.weight", [d]]];
  for (let l = 0; l < cfg.num_hidden_layers; l++) {
    const p = `model.layers.${l}.`;
    out.push([`${p}input_layernorm.weight`, [d]], [`${p}post_attention_layernorm.weight`, [d]],
      [`${p}self_attn.q_proj.weight`, [q, d]], [`${p}self_attn.k_proj.weight`, [kv, d]], [`${p}self_attn.v_proj.weight`, [kv, d]],
      [`${p}self_attn.o_proj.weight`, [d, q]], [`${p}mlp.gate_proj.weight`, [h, d]], [`${p}mlp.up_proj.weight`, [h, d]],
      [`${p}mlp.down_proj.weight`, [d, h]]);
    if (gemma) out.push([`${p}pre_feedforward_layernorm.weight`, [d]], [`${p}post_feedforward_layernorm.weight`, [d]]);
    if (cfg.attention_bias) {
      out.push([`${p}self_attn.q_proj.bias`, [q]], [`${p}self_attn.k_proj.bias`, [kv]], [`${p}self_attn.v_proj.bias`, [kv]],
        [`${p}self_attn.o_proj.bias`, [d]]);
    }
    if (cfg.mlp_bias) out.push([`${p}mlp.gate_proj.bias`, [h]], [`${p}mlp.up_proj.bias`, [h]], [`${p}mlp.down_proj.bias`, [d]]);
  }
  if (!cfg.tie_word_embeddings) out.push(["lm_head.weight", [cfg.vocab_size, d]]);
  return out;
}

/** Writes the folder; returns its config and the stored weights as float64. */
export function writeTinyCheckpoint(dir: string, spec: TinySpec): { cfg: Json; weights: Weights } {
  const cfg = tinyConfig(spec);
  const dtype = spec.dtype ?? "float32";
  const rand = mulberry32(spec.seed ?? 7);
  fs.mkdirSync(dir, { recursive: true });
  const weights: Weights = {};
  const stored: Record<string, HostTensor> = {};
  for (const [name, shape] of tensorShapes(cfg)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const isNorm = name.endsWith("norm.weight");
    // Norm weights around 1 for Llama (w) and around 0 for Gemma (1 + w); projections ~ N(0, 1/in) via uniform.
    const scale = isNorm ? 0.3 : shape.length > 1 ? 1.7 / Math.sqrt(shape[1]) : 0.2;
    const f32 = new Float32Array(n);
    for (let i = 0; i < n; i++) f32[i] = (isNorm && cfg.model_type === "llama" ? 1 : 0) + scale * (2 * rand() - 1);
    if (name === "model.embed_tokens.weight") for (let i = 0; i < n; i++) f32[i] *= 2;
    let data: HostTensor["data"];
    const values = new Float64Array(n);
    if (dtype === "float32") { data = f32; values.set(f32); } else {
      const bits = new Uint16Array(n);
      for (let i = 0; i < n; i++) bits[i] = dtype === "bfloat16" ? float32ToBfloat16Bits(f32[i]) : float32ToFloat16Bits(f32[i]);
      data = bits;
      const back = new Float32Array(n);
      if (dtype === "bfloat16") new Uint32Array(back.buffer).forEach((_, i, u) => { u[i] = bits[i] << 16; });
      else for (let i = 0; i < n; i++) back[i] = halfToNumber(bits[i]);
      values.set(back);
    }
    stored[name] = { dtype, shape, data };
    weights[name] = { shape, data: values };
  }
  fs.writeFileSync(path.join(dir, "config.json"), JSON.stringify(cfg, null, 2));
  const shards = spec.shards ?? 1;
  if (shards === 1) writeSafetensors(path.join(dir, "model.safetensors"), stored, { format: "pt" });
  else {
    const names = Object.keys(stored);
    const map: Record<string, string> = {};
    for (let s = 0; s < shards; s++) {
      const file = `model-${String(s + 1).padStart(5, "0")}-of-${String(shards).padStart(5, "0")}.safetensors`;
      const part: Record<string, HostTensor> = {};
      names.forEach((n, i) => { if (i % shards === s) { part[n] = stored[n]; map[n] = file; } });
      writeSafetensors(path.join(dir, file), part, { format: "pt" });
    }
    fs.writeFileSync(path.join(dir, "model.safetensors.index.json"), JSON.stringify({ metadata: {}, weight_map: map }, null, 2));
  }
  return { cfg, weights };
}

function halfToNumber(h: number): number {
  const e = (h >> 10) & 0x1f, m = h & 0x3ff, s = h & 0x8000 ? -1 : 1;
  return e === 0 ? s * m * 2 ** -24 : s * (1 + m / 1024) * 2 ** (e - 15);
}

/** Deterministic token sequences. */
export function tinyTokens(B: number, T: number, vocab: number, seed = 3): number[][] {
  const r = mulberry32(seed);
  return Array.from({ length: B }, () => Array.from({ length: T }, () => Math.floor(r() * vocab)));
}

export const WORDS = "the a cat dog sat on mat and ran far".split(" ");

/** A word-level tokenizer.json: <unk> 0, <bos> 1, then WORDS. */
export function writeWordTokenizer(dir: string): void {
  const vocab: Record<string, number> = { "<unk>": 0, "<bos>": 1 };
  WORDS.forEach((w, i) => { vocab[w] = i + 2; });
  fs.writeFileSync(path.join(dir, "tokenizer.json"), JSON.stringify({
    version: "1.0", added_tokens: [{ id: 1, content: "<bos>", special: true, single_word: false, lstrip: false, rstrip: false, normalized: false }],
    normalizer: null, pre_tokenizer: { type: "Whitespace" }, post_processor: null, decoder: null,
    model: { type: "WordLevel", vocab, unk_token: "<unk>" },
  }));
}
