// Text (or token arrays) to activations in one call, TransformerLens's `model.run_with_cache` for this library:
// sequences of any lengths go in, are batched by length, and each hook comes back as an ActivationTable whose rows
// know their sequence, position and token. Padding goes at the end of shorter sequences: attention is causal, so a
// position never sees the padding after it and every kept row equals the sequence's own forward pass.
import * as path from "path";
import { InputError } from "../errors";
import { formatNumber, inspectSymbol } from "../inspect";
import { loadLlama2c } from "../lm/checkpoint";
import type { HookName } from "../lm/hooks";
import { forward, LlamaParams, toTensors } from "../lm/model";
import { loadTokenizer, Tokenizer } from "../lm/tokenizer";
import { DEFAULT_MODEL_FILE, DEFAULT_TOKENIZER_FILE } from "../lm/train-default";
import { ActivationTable, tokenTextFn } from "./table";

/** A language model ready to run: tensors and its tokenizer. */
export interface LanguageModel {
  /** The weights as tensors, and the model's sizes (`params.config`). */
  params: LlamaParams;
  /** Encodes text to token ids and back (`tokenizer.encode`, `tokenizer.decode`). */
  tokenizer: Tokenizer;
  /** Where it came from (a file path, or "default"). */
  name?: string;
}

/**
 * Loads a llama2.c checkpoint and its tokenizer (default: the project's own model in data/model/). Call
 * `initBackend()` first.
 */
export function loadModel(modelFile: string = DEFAULT_MODEL_FILE, tokenizerFile: string = DEFAULT_TOKENIZER_FILE): LanguageModel {
  const weights = loadLlama2c(modelFile);
  const tokenizer = loadTokenizer(tokenizerFile, weights.config.vocabSize);
  const model: LanguageModel = {
    params: toTensors(weights), tokenizer,
    name: modelFile === DEFAULT_MODEL_FILE ? "default" : path.resolve(modelFile),
  };
  Object.defineProperty(model, inspectSymbol, {
    enumerable: false,
    value: () => {
      const c = model.params.config;
      return `LanguageModel ${model.name ?? ""}: ${c.nLayers} layers, d_model ${c.dim}, ${c.nHeads} heads, vocab ${c.vocabSize}, seq_len ${c.seqLen}\n` +
        `  hooks: blocks.{0..${c.nLayers - 1}}.hook_{resid_pre,attn_out,resid_mid,mlp_out,resid_post}`;
    },
  });
  return model;
}

export interface RunOptions {
  /** Hooks to capture (default: every block's hook_resid_post). */
  hooks?: readonly HookName[];
  /** Prepend BOS when encoding text (default true, as the model was trained). Token arrays are used as given. */
  bos?: boolean;
  /** Most padded tokens per forward batch (default 8192): bounds memory; sequences are grouped by length within it. */
  batchTokens?: number;
  /** Also compute each position's next-token loss (default true). */
  loss?: boolean;
}

/** The result of `run`: one activation table per hook, the sequences' tokens, and per-row losses. */
export class ModelRun {
  constructor(
    /** Token ids of each sequence (after encoding). */
    readonly tokens: Int32Array[],
    /** Per hook, the rows of every sequence in order (sequence 0's positions first). */
    readonly tables: Map<HookName, ActivationTable>,
    /** Next-token loss per row (NaN at each sequence's last position), or undefined when not computed. */
    readonly loss: Float32Array | undefined,
  ) {}

  /** The table of one hook (an InputError naming the captured hooks otherwise). */
  get(hook: HookName | string): ActivationTable {
    const t = this.tables.get(hook as HookName);
    if (!t) throw new InputError("hook", `${hook} was not captured (captured: ${[...this.tables.keys()].join(", ")})`);
    return t;
  }

  get hooks(): HookName[] { return [...this.tables.keys()]; }

  [inspectSymbol](): string {
    const rows = this.tokens.reduce((a, t) => a + t.length, 0);
    let meanLoss = "";
    if (this.loss) {
      let s = 0, n = 0;
      for (const v of this.loss) if (!Number.isNaN(v)) { s += v; n++; }
      if (n) meanLoss = `, mean next-token loss ${formatNumber(s / n, 4)} nats`;
    }
    const hooks = this.hooks;
    return `ModelRun: ${this.tokens.length} sequence(s), ${rows} tokens${meanLoss}\n` +
      `  hooks: ${hooks.slice(0, 4).join(", ")}${hooks.length > 4 ? `, … (${hooks.length})` : ""}; .get(hook) gives an ActivationTable`;
  }
}

/** Inputs to `run`: one text, several texts, or token sequences (each ArrayLike of ids). */
export type RunInput = string | readonly string[] | readonly ArrayLike<number>[];

function encodeInputs(model: LanguageModel, inputs: RunInput, bos: boolean): Int32Array[] {
  const list: readonly (string | ArrayLike<number>)[] = typeof inputs === "string" ? [inputs] : inputs;
  if (list.length === 0) throw new InputError("inputs", "no sequences given");
  const c = model.params.config;
  return list.map((item, i) => {
    const toks = typeof item === "string" ? model.tokenizer.encode(item, { bos }) : Int32Array.from(item as ArrayLike<number>);
    if (toks.length === 0) throw new InputError("inputs", `sequence ${i} has no tokens`);
    if (toks.length > c.seqLen) throw new InputError("inputs", `sequence ${i} has ${toks.length} tokens; the model's seq_len is ${c.seqLen}`);
    for (let t = 0; t < toks.length; t++) {
      if (!Number.isInteger(toks[t]) || toks[t] < 0 || toks[t] >= c.vocabSize) {
        throw new InputError("inputs", `token ${toks[t]} at [${i}, ${t}] is outside the vocabulary [0, ${c.vocabSize})`);
      }
    }
    return toks;
  });
}

/** Batches of sequence indices, longest first, each padded to its longest member within `batchTokens` tokens. */
export function lengthBatches(lengths: readonly number[], batchTokens: number): number[][] {
  const order = lengths.map((_, i) => i).sort((a, b) => lengths[b] - lengths[a] || a - b);
  const batches: number[][] = [];
  let cur: number[] = [];
  for (const i of order) {
    const width = cur.length ? lengths[cur[0]] : lengths[i];
    if (cur.length && (cur.length + 1) * width > batchTokens) { batches.push(cur); cur = []; }
    cur.push(i);
  }
  if (cur.length) batches.push(cur);
  return batches;
}

/**
 * Runs the model over texts or token sequences of any lengths and returns every requested hook as an
 * ActivationTable (rows = all tokens, in sequence order). Equal, row for row, to running each sequence alone.
 */
export function run(model: LanguageModel, inputs: RunInput, options: RunOptions = {}): ModelRun {
  const c = model.params.config;
  const hooks = options.hooks ?? Array.from({ length: c.nLayers }, (_, l) => `blocks.${l}.hook_resid_post` as HookName);
  if (hooks.length === 0) throw new InputError("hooks", "name at least one hook");
  const batchTokens = options.batchTokens ?? 8192;
  if (!Number.isSafeInteger(batchTokens) || batchTokens < 1) throw new InputError("batchTokens", `must be a positive integer, got ${batchTokens}`);
  const wantLoss = options.loss ?? true;
  const tokens = encodeInputs(model, inputs, options.bos ?? true);
  const lengths = tokens.map((t) => t.length);
  const offsets = new Int32Array(tokens.length + 1);
  for (let i = 0; i < tokens.length; i++) offsets[i + 1] = offsets[i] + lengths[i];
  const rows = offsets[tokens.length], d = c.dim;
  const values = new Map<HookName, Float32Array>(hooks.map((h) => [h, new Float32Array(rows * d)]));
  const loss = wantLoss ? new Float32Array(rows).fill(NaN) : undefined;

  for (const batch of lengthBatches(lengths, batchTokens)) {
    const T = lengths[batch[0]];
    // Shorter sequences are padded with their own last token (any valid id works: later positions are never seen).
    const padded = batch.map((i) => {
      const p = new Int32Array(T).fill(tokens[i][lengths[i] - 1]);
      p.set(tokens[i]);
      return p;
    });
    const r = forward(model.params, padded, { capture: hooks, loss: wantLoss && T >= 2 });
    batch.forEach((i, b) => {
      const n = lengths[i], o = offsets[i];
      for (const h of hooks) values.get(h)!.set(r.captured.get(h)!.subarray(b * T * d, (b * T + n) * d), o * d);
      if (loss && r.loss && n >= 2) loss.set(r.loss.subarray(b * (T - 1), b * (T - 1) + n - 1), o);
    });
  }

  const index = { sequence: new Int32Array(rows), position: new Int32Array(rows), token: new Int32Array(rows) };
  tokens.forEach((t, i) => {
    for (let p = 0; p < t.length; p++) {
      index.sequence[offsets[i] + p] = i;
      index.position[offsets[i] + p] = p;
      index.token[offsets[i] + p] = t[p];
    }
  });
  const tokenText = tokenTextFn(model.tokenizer);
  const tables = new Map<HookName, ActivationTable>(hooks.map((h) => [h, new ActivationTable(values.get(h)!, d, index, { name: h, tokenText, loss })]));
  return new ModelRun(tokens, tables, loss);
}
