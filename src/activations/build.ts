// Building an activation store: draw contexts from a corpus, run the model over them chunk by chunk, and write
// tokens, per-token losses and the hooked activations (kept positions only) as .npy files with a manifest.
// The folder is named after a hash of config + model + tokenizer + corpus, so an unchanged request reuses the store,
// a changed one builds a new folder, and an interrupted build resumes at its first unfinished chunk. The key includes
// the fingerprint of this module's code (and what it imports), so editing the model or the builder rebuilds. The
// manifest records every file's checksum: a damaged chunk is reported and rebuilt. A lock file keeps two processes
// from building the same store at once (the second waits and reuses it).
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { backendInfo } from "../backend/index";
import { codeFingerprint } from "../code-version";
import { InputError } from "../errors";
import { checksumProblem, fileSums, lockOrDone, removeTempFiles } from "../io/entry";
import { writeFileAtomic, writeNpy } from "../io/index";
import { warn } from "../warnings";
import type { LlamaWeights, WeightName } from "../lm/checkpoint";
import type { HookName } from "../lm/hooks";
import { type ForwardModel, type LanguageModel, disposeParams, forward, toTensors } from "../lm/model";
import { corpusPart, type Corpus } from "../lm/corpus";
import { type Contexts, documentContexts, piecesAreWordwise, tokenizeDocuments } from "../lm/corpus-tokens";
import { Tokenizer, type TextTokenizer } from "../lm/tokenizer";
import type { Progress } from "../progress";
import {
  FILES, MANIFEST_FILE, StoreConfig, StoreManifest, chunkFile, keptPositions, planChunks, readManifest, storeKey,
  validateStoreConfig,
} from "./manifest";
import { openActivationStore, type ActivationStore } from "./store";

/**
 * Runs the model on `count` contexts of `ctx` tokens (row-major [count, ctx]) and returns, per hook, activations
 * [count, ctx, d] and the next-token losses [count, ctx − 1]. The store builder is written against this, so tests
 * can check it with any forward.
 */
export type CaptureFn = (tokens: Int32Array, count: number, ctx: number, hooks: readonly string[]) =>
  { acts: Map<string, Float32Array>; losses: Float32Array };

const projectRoot = path.resolve(__dirname, "..", "..");
/** Where stores go unless told otherwise (ignored by git). */
export const DEFAULT_STORE_ROOT = path.join(projectRoot, ".cache", "activations");

/**
 * The default store for the project's 6-layer model: the middle block's residual stream, 512 contexts of 256 tokens,
 * positions 50 … 254 (≈ the paper's 200 … 1022 of 1024, scaled): 104,960 tokens.
 */
export const DEFAULT_STORE_CONFIG: StoreConfig = {
  hooks: ["blocks.3.hook_resid_post"], contexts: 512, ctx: 256, skip: 50, seed: 42, corpusPart: "all", contextsPerChunk: 16,
};

/** The model's forward pass as a CaptureFn: hooks captured, per-token loss computed, in one batch. */
export function modelCapture(params: LanguageModel): CaptureFn {
  return (tokens, count, ctx, hooks) => {
    const rows: Int32Array[] = [];
    for (let i = 0; i < count; i++) rows.push(tokens.subarray(i * ctx, (i + 1) * ctx));
    const r = forward(params, rows, { capture: hooks as HookName[], loss: true });
    return { acts: r.captured as Map<string, Float32Array>, losses: r.loss! };
  };
}

/** Contexts given as token ids, used exactly as they are (no BOS added). */
export interface TokenContexts {
  /** [count, ctx] row-major. */
  tokens: Int32Array;
  count: number;
  ctx: number;
  /** Where they came from (recorded in the manifest). */
  source: string;
}

/** A model with its own forward and a content fingerprint (a Hugging Face checkpoint, src/lm/hf-model.ts). */
export type FingerprintedModel = ForwardModel & { readonly fingerprint: string };

export interface StoreInputs {
  /** A llama2.c model's weights; or give `model`. */
  weights?: LlamaWeights;
  model?: FingerprintedModel;
  /** Needed to draw contexts from `corpus`; optional with `tokens`. */
  tokenizer: TextTokenizer | null;
  /** The text contexts are drawn from; or give `tokens`. */
  corpus?: Corpus;
  tokens?: TokenContexts;
  /** Where the model and tokenizer came from (recorded in the manifest; identity is by content hash). */
  modelFile?: string | null;
  tokenizerFile?: string | null;
}

export interface BuildResult {
  /** The finished store, opened; null only when `maxChunks` stopped the build early. */
  store: ActivationStore | null;
  dir: string;
  /** True when a finished store with the same key already existed. */
  reused: boolean;
  /** Chunks computed by this call (0 when reused). */
  chunksBuilt: number;
}

/** sha256 of a model's configuration and every weight array (the file's content, independent of where it lies). */
export function hashWeights(w: LlamaWeights): string {
  const h = createHash("sha256").update(JSON.stringify(w.config));
  const names: WeightName[] = ["tokenEmbedding", "rmsAtt", "wq", "wk", "wv", "wo", "rmsFfn", "w1", "w2", "w3", "rmsFinal", "wcls"];
  for (const n of names) {
    const a = w[n];
    h.update(n);
    if (a) h.update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  }
  return h.digest("hex");
}

/** sha256 identifying a tokenizer (llama2.c: its pieces and scores; Hugging Face: tokenizer.json and the BOS). */
export function hashTokenizer(t: TextTokenizer): string {
  return t.fingerprint();
}

export interface BuildOptions {
  /** Parent folder; the store goes to `root/<key>`. */
  root: string;
  config: StoreConfig;
  /** The forward used to fill the store (default: the model's own forward pass, see modelCapture). */
  capture?: CaptureFn;
  progress?: Progress;
  /** Stop after this many new chunks (simulates an interruption in tests). */
  maxChunks?: number;
}

function activeBackend(): string {
  try { return backendInfo().name; } catch { return "none selected"; }
}

function writeManifest(dir: string, m: StoreManifest): void {
  writeFileAtomic(path.join(dir, MANIFEST_FILE), JSON.stringify(m, null, 1) + "\n");
}

/** The files of chunk `index`, relative to the store folder. */
function chunkFiles(m: StoreManifest, index: number): string[] {
  return [chunkFile(FILES.losses, index), ...m.config.hooks.map((h) => chunkFile(FILES.activations, index, h))];
}

/** Null when every file of a finished chunk matches its recorded checksum, else what is wrong. */
function chunkProblem(dir: string, m: StoreManifest, index: number): string | null {
  const files = chunkFiles(m, index);
  const sums = m.checksums ?? {};
  const unrecorded = files.find((f) => !sums[f]);
  if (unrecorded) return `${unrecorded} has no recorded checksum`;
  return checksumProblem(dir, Object.fromEntries(files.map((f) => [f, sums[f]])));
}

/** A finished chunk whose files are damaged: said once, then built again. */
function intactChunk(dir: string, m: StoreManifest, index: number): boolean {
  const problem = chunkProblem(dir, m, index);
  if (problem) warn({ code: "cache-corrupt", subject: `activation store ${dir}`, problem: `chunk ${index}: ${problem}`, hint: "rebuilding that chunk" });
  return problem === null;
}

/** A clear error for a failed write into a store (a full disk above all); the chunk stays unfinished. */
function storeWriteError(dir: string, err: unknown): Error {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === "ENOSPC" || code === "EDQUOT") {
    return new Error(`cannot write the activation store ${dir}: the disk is full (${code}). Finished chunks are kept; free some space and run the same build again to resume`);
  }
  return err as Error;
}

/** Builds (or reuses, or resumes) the store for these inputs and config. */
export function buildActivationStore(inputs: StoreInputs, options: BuildOptions): BuildResult {
  const { weights, model, tokenizer, corpus, tokens } = inputs;
  if ((weights === undefined) === (model === undefined)) throw new InputError("store inputs", "give exactly one of weights and model");
  if ((corpus === undefined) === (tokens === undefined)) throw new InputError("store inputs", "give exactly one of corpus and tokens");
  const mc = weights ? weights.config : model!.config;
  const config = validateStoreConfig(options.config, mc.nLayers);
  if (config.ctx > mc.seqLen) throw new InputError("ctx", `${config.ctx} exceeds the model's context length ${mc.seqLen}`);
  // A Hugging Face embedding may have more rows than the tokenizer has tokens (padding); never fewer.
  if (tokenizer && (weights ? tokenizer.vocabSize !== mc.vocabSize : tokenizer.vocabSize > mc.vocabSize)) {
    throw new InputError(inputs.tokenizerFile ?? "tokenizer", `has ${tokenizer.vocabSize} tokens but the model's vocabulary has ${mc.vocabSize}`);
  }
  if (!tokenizer && !tokens) throw new InputError("tokenizer", "a tokenizer is needed to draw contexts from text");
  if (tokens) {
    if (tokens.count !== config.contexts || tokens.ctx !== config.ctx) {
      throw new InputError(tokens.source, `holds [${tokens.count}, ${tokens.ctx}] token ids but the store asks for ${config.contexts} contexts of ${config.ctx}`);
    }
    const bad = tokens.tokens.findIndex((t) => t < 0 || t >= mc.vocabSize);
    if (bad >= 0) throw new InputError(tokens.source, `token ${tokens.tokens[bad]} at [${Math.floor(bad / tokens.ctx)}, ${bad % tokens.ctx}] is outside the vocabulary [0, ${mc.vocabSize})`);
  }
  const modelHash = weights ? hashWeights(weights) : model!.fingerprint;
  const tokenizerHash = tokenizer ? hashTokenizer(tokenizer) : "none";
  const textHash = corpus ? corpus.hash : createHash("sha256").update(new Uint8Array(tokens!.tokens.buffer, tokens!.tokens.byteOffset, tokens!.tokens.byteLength)).digest("hex");
  const code = codeFingerprint(__filename);
  const key = storeKey(config, modelHash, tokenizerHash, textHash, code);
  const dir = path.join(options.root, key);

  const existingManifest = (): StoreManifest | null => {
    if (!fs.existsSync(path.join(dir, MANIFEST_FILE))) return null;
    const m = readManifest(dir);
    const same = m.key === key && JSON.stringify(m.config) === JSON.stringify(config) &&
      m.model.sha256 === modelHash && m.tokenizer.sha256 === tokenizerHash && m.corpus.sha256 === textHash;
    if (!same) {
      throw new InputError(path.join(dir, MANIFEST_FILE), `describes another store than the key ${key} it sits under; delete ${dir} to rebuild`);
    }
    return m;
  };
  /** The finished store when it is complete and every file is intact (checked once per build call). */
  const finishedStore = (): BuildResult | null => {
    const m = existingManifest();
    if (!m || !m.complete || !sharedFilesIntact(dir, m) || !m.chunks.every((c) => chunkProblem(dir, m, c.index) === null)) return null;
    return { store: openActivationStore(dir), dir, reused: true, chunksBuilt: 0 };
  };
  const got = lockOrDone(`${dir}.lock`, finishedStore);
  if ("value" in got) return got.value;
  try {
    removeTempFiles(dir);
    return buildLocked(inputs, options, { config, key, code, dir, modelHash, tokenizerHash, textHash, manifest: existingManifest() }, () => got.lock.refresh());
  } catch (err) {
    throw storeWriteError(dir, err);
  } finally {
    got.lock.release();
  }
}

/** Whether tokens.npy and context-sources.npy match their checksums (they are rewritten on every build call anyway). */
function sharedFilesIntact(dir: string, m: StoreManifest): boolean {
  const sums = m.checksums ?? {};
  return [FILES.tokens, FILES.contextSources].every((f) => sums[f] && checksumProblem(dir, { [f]: sums[f] }) === null);
}

interface Resolved {
  config: StoreConfig;
  key: string;
  code: string;
  dir: string;
  modelHash: string;
  tokenizerHash: string;
  textHash: string;
  manifest: StoreManifest | null;
}

function buildLocked(inputs: StoreInputs, options: BuildOptions, r: Resolved, refreshLock: () => void): BuildResult {
  const { weights, model, tokenizer, corpus, tokens } = inputs;
  const mc = weights ? weights.config : model!.config;
  const { config, key, dir, modelHash, tokenizerHash, textHash } = r;
  let manifest = r.manifest;
  const progress = options.progress;

  // The contexts are a pure function of the inputs, so a resumed build recomputes the same ones.
  let contexts: Contexts, documentIds: string[];
  if (corpus) {
    const documents = corpusPart(corpus, config.corpusPart);
    const wordwise = tokenizer instanceof Tokenizer && piecesAreWordwise(tokenizer.pieces);
    const tokenized = tokenizeDocuments(documents, (t) => tokenizer!.encode(t, { bos: false }), wordwise);
    contexts = documentContexts(tokenized, config.contexts, config.ctx, config.seed, tokenizer!.bosId ?? undefined);
    documentIds = tokenized.docIds;
  } else {
    const t = tokens!;
    contexts = { tokens: t.tokens, count: t.count, length: t.ctx, doc: Int32Array.from({ length: t.count }, (_, i) => i), start: new Int32Array(t.count) };
    documentIds = Array.from({ length: t.count }, (_, i) => `row ${i}`);
  }
  const positions = keptPositions(config.ctx, config.skip);
  const t0 = Date.now();

  if (!manifest) {
    manifest = {
      format: "darkmatter-activation-store", version: 1, key, config,
      model: { file: inputs.modelFile ?? null, sha256: modelHash, dim: mc.dim, nLayers: mc.nLayers, vocabSize: mc.vocabSize, seqLen: mc.seqLen },
      tokenizer: { file: inputs.tokenizerFile ?? null, sha256: tokenizerHash },
      corpus: corpus ? { name: corpus.name, source: corpus.source, sha256: textHash, part: config.corpusPart, documentIds }
        : { name: "token ids", source: tokens!.source, sha256: textHash, part: config.corpusPart, documentIds },
      d: mc.dim, positions, rows: config.contexts * positions.perContext, files: { ...FILES },
      chunks: planChunks(config.contexts, config.contextsPerChunk, positions.perContext),
      finished: [], complete: false, code: r.code, checksums: {},
      created: { at: new Date().toISOString(), by: "sae-darkmatter activations", backend: activeBackend(), seconds: 0 },
    };
    fs.mkdirSync(dir, { recursive: true });
  }
  const m = manifest;
  if (r.manifest && !sharedFilesIntact(dir, r.manifest)) {
    warn({ code: "cache-corrupt", subject: `activation store ${dir}`, problem: `${FILES.tokens} or ${FILES.contextSources} is damaged`, hint: "rewriting them" });
  }
  writeNpy(path.join(dir, FILES.tokens), { dtype: "int32", shape: [config.contexts, config.ctx], data: contexts.tokens });
  const sources = new Int32Array(2 * config.contexts);
  for (let i = 0; i < config.contexts; i++) { sources[2 * i] = contexts.doc[i]; sources[2 * i + 1] = contexts.start[i]; }
  writeNpy(path.join(dir, FILES.contextSources), { dtype: "int32", shape: [config.contexts, 2], data: sources });
  m.checksums = { ...(m.checksums ?? {}), ...fileSums(dir, [FILES.tokens, FILES.contextSources]) };
  // A chunk listed as finished whose files went missing or were damaged is said and built again.
  m.finished = m.finished.filter((i) => intactChunk(dir, m, i));
  m.complete = m.finished.length === m.chunks.length;
  const done = new Set(m.finished);
  const secondsBefore = m.created.seconds;
  const params = options.capture || !weights ? null : toTensors(weights);
  let built = 0;
  try {
    const capture = options.capture ?? modelCapture(params ?? model!);
    const { ctx } = config;
    const d = mc.dim;
    progress?.(done.size, m.chunks.length, "activation chunks");
    for (const chunk of m.chunks) {
      if (done.has(chunk.index)) continue;
      if (options.maxChunks !== undefined && built >= options.maxChunks) break;
      const n = chunk.endContext - chunk.firstContext;
      const { acts, losses } = capture(contexts.tokens.subarray(chunk.firstContext * ctx, chunk.endContext * ctx), n, ctx, config.hooks);
      if (losses.length !== n * (ctx - 1)) throw new Error(`capture returned ${losses.length} losses for ${n}×${ctx - 1}`);
      writeNpy(path.join(dir, chunkFile(FILES.losses, chunk.index)), { dtype: "float32", shape: [n, ctx - 1], data: losses });
      for (const h of config.hooks) {
        const a = acts.get(h);
        if (!a || a.length !== n * ctx * d) throw new Error(`capture returned no [${n}, ${ctx}, ${d}] activations for ${h}`);
        // Keep positions first … end−1 of every context.
        const kept = new Float32Array(chunk.rows * d);
        for (let c = 0; c < n; c++) {
          kept.set(a.subarray((c * ctx + positions.first) * d, (c * ctx + positions.end) * d), c * positions.perContext * d);
        }
        writeNpy(path.join(dir, chunkFile(FILES.activations, chunk.index, h)), { dtype: "float32", shape: [chunk.rows, d], data: kept });
      }
      // The manifest lists a chunk (with its files' checksums) only after all its files are in place, so an
      // interruption never marks half a chunk.
      Object.assign(m.checksums!, fileSums(dir, chunkFiles(m, chunk.index)));
      done.add(chunk.index);
      built++;
      m.finished = [...done].sort((a, b) => a - b);
      m.complete = done.size === m.chunks.length;
      m.created.seconds = secondsBefore + (Date.now() - t0) / 1000;
      writeManifest(dir, m);
      progress?.(done.size, m.chunks.length, "activation chunks");
      refreshLock();
    }
  } finally {
    if (params) disposeParams(params);
  }
  m.created.seconds = secondsBefore + (Date.now() - t0) / 1000;
  writeManifest(dir, m);
  return { store: m.complete ? openActivationStore(dir) : null, dir, reused: false, chunksBuilt: built };
}
