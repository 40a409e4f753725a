// Text generation with a KV cache: one forward over the prompt, then one position per step. Greedy at temperature 0
// (ties to the lowest id, as run.c's argmax), otherwise seeded sampling from softmax(logits / temperature).
import { tf } from "../backend/index";
import { InputError } from "../errors";
import { disposeKvCache, emptyKvCache, forwardTensors, LlamaParams } from "./model";
import { BOS, EOS, Tokenizer } from "./tokenizer";
import { mulberry32 } from "../linalg/random";

export interface GenerateOptions {
  /** Text to continue (default: nothing, i.e. start from BOS alone). */
  prompt?: string;
  /** New tokens to generate at most (default 256; also capped by the model's seq_len). */
  steps?: number;
  /** 0 = greedy (default); > 0 samples from softmax(logits / temperature). */
  temperature?: number;
  /** Seed of the sampler (default 0). */
  seed?: number;
  /** Called with each new token as it is chosen (e.g. to stream text). */
  onToken?: (token: number, prev: number) => void;
}

export interface GenerateResult {
  /** BOS, the prompt's tokens, then the generated ones. */
  tokens: number[];
  /** How many of `tokens` are the BOS + prompt. */
  promptLength: number;
  /** The decoded text of the whole sequence (prompt included). */
  text: string;
  /** Why generation ended. */
  stopped: "steps" | "seq_len" | "bos" | "eos";
}

/** Chooses the next token from one row of logits. */
export function sampleToken(logits: Float32Array, temperature: number, uniform: () => number): number {
  if (temperature === 0) {
    let best = 0;
    for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
    return best;
  }
  let max = -Infinity;
  for (const v of logits) max = Math.max(max, v);
  const probs = new Float64Array(logits.length);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += probs[i] = Math.exp((logits[i] - max) / temperature);
  let r = uniform() * sum;
  for (let i = 0; i < probs.length; i++) {
    r -= probs[i];
    if (r < 0) return i;
  }
  return probs.length - 1;
}

export function generate(params: LlamaParams, tokenizer: Tokenizer, options: GenerateOptions = {}): GenerateResult {
  const c = params.config;
  if (tokenizer.vocabSize !== c.vocabSize) {
    throw new InputError("tokenizer", `has ${tokenizer.vocabSize} tokens but the model's vocabulary has ${c.vocabSize}`);
  }
  const steps = options.steps ?? 256, temperature = options.temperature ?? 0;
  if (!Number.isInteger(steps) || steps < 0) throw new InputError("steps", `${steps} is not a non-negative integer`);
  if (!(temperature >= 0) || !Number.isFinite(temperature)) throw new InputError("temperature", `${temperature} is not a finite number ≥ 0`);
  const uniform = mulberry32(options.seed ?? 0);
  const tokens = Array.from(tokenizer.encode(options.prompt ?? "", { bos: true }));
  const promptLength = tokens.length;
  if (promptLength >= c.seqLen) throw new InputError("prompt", `${promptLength} tokens leave no room in the model's seq_len ${c.seqLen}`);
  const cache = emptyKvCache();
  let stopped: GenerateResult["stopped"] = "steps";
  try {
    let input = tokens.slice();
    for (let step = 0; step < steps; step++) {
      if (tokens.length >= c.seqLen) { stopped = "seq_len"; break; }
      const row = tf.tidy(() => {
        const logits = forwardTensors(params, [input], { loss: false, logits: true }, cache).logits!;
        return tf.slice(logits, [0, input.length - 1, 0], [1, 1, c.vocabSize]);
      });
      const next = sampleToken(row.dataSync() as Float32Array, temperature, uniform);
      row.dispose();
      // As in run.c, BOS marks the start of a new text; EOS ends one.
      if (next === BOS || next === EOS) { stopped = next === BOS ? "bos" : "eos"; break; }
      options.onToken?.(next, tokens[tokens.length - 1]);
      tokens.push(next);
      input = [next];
    }
  } finally {
    disposeKvCache(cache);
  }
  return { tokens, promptLength, text: tokenizer.decode(tokens), stopped };
}
