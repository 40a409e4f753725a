// config.json of a Hugging Face checkpoint folder (model_type "llama" or "gemma2"), validated into the numbers the
// forward pass needs. Defaults are transformers' own (LlamaConfig, Gemma2Config); anything the forward does not
// implement (other model types, rope types, activations) is refused with an error naming the field.
import { InputError } from "../errors";

export type HfModelType = "llama" | "gemma2";

/** Llama 3's frequency-dependent RoPE rescaling (transformers' _compute_llama3_parameters). */
export interface Llama3Rope { factor: number; lowFreqFactor: number; highFreqFactor: number; originalMaxPositions: number }

export interface HfConfig {
  modelType: HfModelType;
  hiddenSize: number;
  intermediateSize: number;
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
  headDim: number;
  vocabSize: number;
  maxPositions: number;
  rmsEps: number;
  ropeTheta: number;
  /** null: plain RoPE ("default"). */
  llama3Rope: Llama3Rope | null;
  attentionBias: boolean;
  mlpBias: boolean;
  tieEmbeddings: boolean;
  /** Multiplies q·k: head_dim^-½ (Llama) or query_pre_attn_scalar^-½ (Gemma 2). */
  queryScale: number;
  /** 0 = none; else scores → cap·tanh(scores/cap) (Gemma 2's attn_logit_softcapping). */
  attnSoftcap: number;
  /** 0 = none; Gemma 2's final_logit_softcapping. */
  finalSoftcap: number;
  /** Per layer: the sliding window (keys p−w+1 … p), or 0 for full causal attention. */
  windows: number[];
  bosTokenId: number | null;
  /** The dtype the checkpoint says it was saved in (informational). */
  torchDtype: string | null;
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Parses config.json's JSON (already read) for `source` (the file's path, named in every error). */
export function parseHfConfig(raw: unknown, source: string): HfConfig {
  if (!isObject(raw)) throw new InputError(source, "is not a JSON object");
  const type = raw.model_type;
  if (type !== "llama" && type !== "gemma2") {
    throw new InputError(source, `model_type ${JSON.stringify(type)} is not supported (supported: "llama", "gemma2")`);
  }
  const gemma = type === "gemma2";
  const int = (key: string, fallback?: number): number => {
    const v = raw[key] ?? fallback;
    if (v === undefined) throw new InputError(source, `${key} is missing`);
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v <= 0) throw new InputError(source, `${key} is ${JSON.stringify(v)}; a positive integer is needed`);
    return v;
  };
  const num = (key: string, fallback: number | null, obj: Json = raw): number | null => {
    const v = obj[key] === undefined ? fallback : obj[key];
    if (v === null) return null;
    if (typeof v !== "number" || !Number.isFinite(v) || v <= 0) throw new InputError(source, `${key} is ${JSON.stringify(v)}; a positive number is needed`);
    return v;
  };
  const bool = (key: string, fallback: boolean): boolean => {
    const v = raw[key] ?? fallback;
    if (typeof v !== "boolean") throw new InputError(source, `${key} is ${JSON.stringify(v)}; true or false is needed`);
    return v;
  };

  const hiddenSize = int("hidden_size"), nHeads = int("num_attention_heads"), nLayers = int("num_hidden_layers");
  const nKvHeads = int("num_key_value_heads", nHeads);
  const headDim = int("head_dim", gemma ? 256 : Math.floor(hiddenSize / nHeads));
  if (nHeads % nKvHeads !== 0) throw new InputError(source, `num_key_value_heads ${nKvHeads} does not divide num_attention_heads ${nHeads}`);
  if (headDim % 2 !== 0) throw new InputError(source, `head_dim ${headDim} is odd; RoPE rotates pairs`);

  const actKey = gemma ? "hidden_activation" : "hidden_act";
  const act = raw[actKey] ?? (gemma ? "gelu_pytorch_tanh" : "silu");
  const wantAct = gemma ? "gelu_pytorch_tanh" : "silu";
  if (act !== wantAct) throw new InputError(source, `${actKey} ${JSON.stringify(act)} is not supported for ${type} (only "${wantAct}")`);

  // RoPE: transformers ≥ 5 writes rope_parameters (with rope_theta inside), earlier versions rope_scaling + rope_theta.
  const ropeKey = raw.rope_parameters !== undefined && raw.rope_parameters !== null ? "rope_parameters" : "rope_scaling";
  const ropeRaw = raw[ropeKey] ?? null;
  if (ropeRaw !== null && !isObject(ropeRaw)) throw new InputError(source, `${ropeKey} is not an object`);
  const rope = ropeRaw as Json | null;
  const ropeTheta = num("rope_theta", null, rope ?? {}) ?? num("rope_theta", 10000)!;
  const ropeType = rope ? (rope.rope_type ?? rope.type ?? "default") : "default";
  let llama3Rope: Llama3Rope | null = null;
  if (ropeType === "llama3") {
    const r = rope as Json;
    llama3Rope = {
      factor: num("factor", null, r) ?? missing(`${ropeKey}.factor`),
      lowFreqFactor: num("low_freq_factor", null, r) ?? missing(`${ropeKey}.low_freq_factor`),
      highFreqFactor: num("high_freq_factor", null, r) ?? missing(`${ropeKey}.high_freq_factor`),
      originalMaxPositions: num("original_max_position_embeddings", null, r) ?? missing(`${ropeKey}.original_max_position_embeddings`),
    };
    if (llama3Rope.highFreqFactor <= llama3Rope.lowFreqFactor) {
      throw new InputError(source, `${ropeKey}: high_freq_factor must exceed low_freq_factor`);
    }
  } else if (ropeType !== "default") {
    throw new InputError(source, `${ropeKey}.rope_type ${JSON.stringify(ropeType)} is not supported (supported: "default", "llama3")`);
  }
  function missing(field: string): never { throw new InputError(source, `${field} is missing`); }

  const attnSoftcap = gemma ? num("attn_logit_softcapping", 50) ?? 0 : 0;
  const finalSoftcap = gemma ? num("final_logit_softcapping", 30) ?? 0 : 0;
  const window = gemma ? num("sliding_window", 4096) ?? 0 : 0;
  if (!Number.isSafeInteger(window)) throw new InputError(source, `sliding_window ${window} is not an integer`);
  let windows: number[];
  if (Array.isArray(raw.layer_types)) {
    if (raw.layer_types.length !== nLayers) throw new InputError(source, `layer_types has ${raw.layer_types.length} entries for ${nLayers} layers`);
    windows = raw.layer_types.map((t, i) => {
      if (t === "full_attention") return 0;
      if (t === "sliding_attention" && window > 0) return window;
      throw new InputError(source, `layer_types[${i}] ${JSON.stringify(t)} is not supported here`);
    });
  } else {
    // Gemma 2 alternates, starting with a sliding layer (transformers: is_sliding = not layer_idx % 2).
    windows = Array.from({ length: nLayers }, (_, i) => (gemma && i % 2 === 0 ? window : 0));
  }
  if (!gemma && (raw.sliding_window ?? null) !== null && raw.use_sliding_window === true) {
    throw new InputError(source, "use_sliding_window is not supported for llama");
  }
  const scalar = gemma ? num("query_pre_attn_scalar", 256)! : headDim;
  const bos = raw.bos_token_id ?? null;
  if (bos !== null && (typeof bos !== "number" || !Number.isInteger(bos) || bos < 0)) {
    throw new InputError(source, `bos_token_id is ${JSON.stringify(bos)}; a token id is needed`);
  }
  const dtype = raw.torch_dtype ?? raw.dtype ?? null;
  return {
    modelType: type, hiddenSize, intermediateSize: int("intermediate_size"), nLayers, nHeads, nKvHeads, headDim,
    vocabSize: int("vocab_size"), maxPositions: int("max_position_embeddings", gemma ? 8192 : 2048),
    rmsEps: num("rms_norm_eps", 1e-6)!, ropeTheta, llama3Rope,
    attentionBias: bool("attention_bias", false), mlpBias: gemma ? false : bool("mlp_bias", false),
    tieEmbeddings: bool("tie_word_embeddings", gemma), queryScale: 1 / Math.sqrt(scalar), attnSoftcap, finalSoftcap, windows,
    bosTokenId: bos as number | null, torchDtype: typeof dtype === "string" ? dtype : null,
  };
}

/**
 * RoPE inverse frequencies of one head (headDim/2 of them), as transformers computes them: θ^(−2j/headDim), then
 * Llama 3's rescaling: long wavelengths divided by `factor`, short ones kept, a smooth blend in between.
 */
export function ropeInverseFrequencies(c: HfConfig): Float64Array {
  const half = c.headDim / 2;
  const inv = new Float64Array(half);
  for (let j = 0; j < half; j++) inv[j] = Math.fround(1 / Math.fround(Math.pow(c.ropeTheta, Math.fround((2 * j) / c.headDim))));
  const r = c.llama3Rope;
  if (!r) return inv;
  const lowWavelen = r.originalMaxPositions / r.lowFreqFactor, highWavelen = r.originalMaxPositions / r.highFreqFactor;
  for (let j = 0; j < half; j++) {
    const wavelen = (2 * Math.PI) / inv[j];
    if (wavelen > lowWavelen) inv[j] = inv[j] / r.factor;
    else if (wavelen >= highWavelen) {
      const smooth = (r.originalMaxPositions / wavelen - r.lowFreqFactor) / (r.highFreqFactor - r.lowFreqFactor);
      inv[j] = (1 - smooth) * inv[j] / r.factor + smooth * inv[j];
    }
    inv[j] = Math.fround(inv[j]);
  }
  return inv;
}
