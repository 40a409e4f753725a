// The activation store's manifest: what was built (config, model, tokenizer, corpus), the on-disk layout and which
// chunks are finished. It is the store's single source of truth and is validated as untrusted input when read.
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { InputError } from "../errors";
import { parseHookName } from "../lm/hooks";

export const STORE_FORMAT = "darkmatter-activation-store";
export const STORE_VERSION = 1;
export const MANIFEST_FILE = "manifest.json";

export interface StoreConfig {
  /** Full hook names, e.g. "blocks.2.hook_resid_post", in the order given. */
  hooks: string[];
  /** Number of contexts N. */
  contexts: number;
  /** Tokens per context T (BOS included). */
  ctx: number;
  /** Positions 0 … skip−1 of every context are dropped (BOS is position 0); so is the last position T−1. */
  skip: number;
  /** Seed of the context draw (see documentContexts). */
  seed: number;
  /** Which documents contexts come from. */
  corpusPart: "all" | "train" | "heldout";
  /** Contexts per chunk file; also the forward batch, so it is part of the key. */
  contextsPerChunk: number;
}

export interface ChunkInfo {
  index: number;
  /** Contexts [first, end) of this chunk. */
  firstContext: number;
  endContext: number;
  /** Rows (kept tokens) in this chunk: (endContext − firstContext) × positionsPerContext. */
  rows: number;
}

export interface StoreManifest {
  format: typeof STORE_FORMAT;
  version: number;
  /** Hex hash of config + model + tokenizer + corpus; the store's folder is named after it. */
  key: string;
  config: StoreConfig;
  model: { file: string | null; sha256: string; dim: number; nLayers: number; vocabSize: number; seqLen: number };
  tokenizer: { file: string | null; sha256: string };
  corpus: { name: string; source: string; sha256: string; part: StoreConfig["corpusPart"]; documentIds: string[] };
  /** Activation width of every hook. */
  d: number;
  /** Kept positions per context: first … end−1 (end = ctx − 1: the last token has no next-token loss). */
  positions: { first: number; end: number; perContext: number };
  /** Total rows = contexts × positions.perContext. */
  rows: number;
  /** Files relative to the store folder. `{hook}` and `{chunk}` are placeholders in the chunk patterns. */
  files: { tokens: string; contextSources: string; losses: string; activations: string };
  chunks: ChunkInfo[];
  /** Indices of finished chunks (their files are complete and were written atomically). */
  finished: number[];
  complete: boolean;
  created: { at: string; by: string; backend: string; seconds: number };
  /** Fingerprint of the code that built the store (part of the key; see code-version.ts). */
  code?: string;
  /** Size and sha256 of every written file, relative to the store folder (a chunk's once it is finished). */
  checksums?: Record<string, { bytes: number; sha256: string }>;
}

export const FILES: StoreManifest["files"] = {
  tokens: "tokens.npy",
  contextSources: "context-sources.npy",
  losses: "losses/chunk-{chunk}.npy",
  activations: "acts/{hook}/chunk-{chunk}.npy",
};

export function chunkFile(pattern: string, chunk: number, hook = ""): string {
  return pattern.replace("{hook}", hook).replace("{chunk}", String(chunk).padStart(5, "0"));
}

/** The positions kept from each context of length `ctx` when the first `skip` are dropped (and the last). */
export function keptPositions(ctx: number, skip: number): StoreManifest["positions"] {
  return { first: skip, end: ctx - 1, perContext: ctx - 1 - skip };
}

/** The chunk plan: consecutive runs of `contextsPerChunk` contexts (the last may be shorter). */
export function planChunks(contexts: number, contextsPerChunk: number, perContext: number): ChunkInfo[] {
  const chunks: ChunkInfo[] = [];
  for (let c = 0, i = 0; c < contexts; c += contextsPerChunk, i++) {
    const end = Math.min(contexts, c + contextsPerChunk);
    chunks.push({ index: i, firstContext: c, endContext: end, rows: (end - c) * perContext });
  }
  return chunks;
}

/** Validates a store config (parameters from a user or a notebook) and returns it normalised. */
export function validateStoreConfig(c: StoreConfig, nLayers: number): StoreConfig {
  const int = (name: string, v: number, min: number) => {
    if (!Number.isSafeInteger(v) || v < min) throw new InputError(name, `must be an integer ≥ ${min}, got ${v}`);
  };
  int("contexts", c.contexts, 1);
  int("ctx", c.ctx, 2);
  int("skip", c.skip, 0);
  int("seed", c.seed, 0);
  int("contextsPerChunk", c.contextsPerChunk, 1);
  if (c.skip > c.ctx - 2) throw new InputError("skip", `${c.skip} leaves no position of a ${c.ctx}-token context (the last one is always dropped)`);
  if (!["all", "train", "heldout"].includes(c.corpusPart)) throw new InputError("corpusPart", `must be all, train or heldout, got ${c.corpusPart}`);
  if (!Array.isArray(c.hooks) || c.hooks.length === 0) throw new InputError("hooks", "name at least one hook");
  if (new Set(c.hooks).size !== c.hooks.length) throw new InputError("hooks", `a hook is listed twice: ${c.hooks.join(", ")}`);
  for (const h of c.hooks) parseHookName(h, nLayers);
  return { ...c, hooks: [...c.hooks] };
}

/** The store key: a hash of everything that determines its contents (`code`: the builder's code fingerprint). */
export function storeKey(config: StoreConfig, modelHash: string, tokenizerHash: string, corpusHash: string, code: string): string {
  const payload = JSON.stringify({ format: STORE_FORMAT, version: STORE_VERSION, config, modelHash, tokenizerHash, corpusHash, code });
  return createHash("sha256").update(payload).digest("hex").slice(0, 20);
}

// ---- reading an untrusted manifest ----

function fail(file: string, problem: string): never {
  throw new InputError(file, problem);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function count(file: string, what: string, v: unknown, min = 0): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < min) fail(file, `${what} must be an integer ≥ ${min}, got ${JSON.stringify(v)}`);
  return v;
}

function str(file: string, what: string, v: unknown): string {
  if (typeof v !== "string") fail(file, `${what} must be a string, got ${JSON.stringify(v)}`);
  return v;
}

/** Reads and validates `dir/manifest.json`: types, shapes and internal consistency (not yet the files it lists). */
export function readManifest(dir: string): StoreManifest {
  const file = path.join(dir, MANIFEST_FILE);
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    fail(file, `cannot read the store manifest (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); is ${dir} an activation store?`);
  }
  let m: unknown;
  try {
    m = JSON.parse(text);
  } catch (err) {
    fail(file, `is not valid JSON (${(err as Error).message})`);
  }
  if (!isObject(m)) fail(file, "is not a JSON object");
  if (m.format !== STORE_FORMAT) fail(file, `format is ${JSON.stringify(m.format)}, expected "${STORE_FORMAT}"`);
  if (m.version !== STORE_VERSION) fail(file, `version ${JSON.stringify(m.version)} is not supported (this code reads version ${STORE_VERSION})`);
  str(file, "key", m.key);
  if (!isObject(m.config)) fail(file, "config is missing");
  if (!isObject(m.model) || !isObject(m.tokenizer) || !isObject(m.corpus)) fail(file, "model, tokenizer or corpus section is missing");
  const nLayers = count(file, "model.nLayers", m.model.nLayers, 1);
  const c = m.config;
  let config: StoreConfig;
  try {
    config = validateStoreConfig({
      hooks: c.hooks as string[], contexts: c.contexts as number, ctx: c.ctx as number, skip: c.skip as number,
      seed: c.seed as number, corpusPart: c.corpusPart as StoreConfig["corpusPart"], contextsPerChunk: c.contextsPerChunk as number,
    }, nLayers);
  } catch (err) {
    if (err instanceof InputError) fail(file, `config.${err.source}: ${err.problem}`);
    throw err;
  }
  count(file, "model.vocabSize", m.model.vocabSize, 1);
  count(file, "model.seqLen", m.model.seqLen, 1);
  const d = count(file, "d", m.d, 1);
  if (count(file, "model.dim", m.model.dim, 1) !== d) fail(file, `d (${d}) differs from model.dim (${m.model.dim})`);
  str(file, "model.sha256", m.model.sha256);
  str(file, "tokenizer.sha256", m.tokenizer.sha256);
  str(file, "corpus.sha256", m.corpus.sha256);
  if (!Array.isArray(m.corpus.documentIds) || !m.corpus.documentIds.every((x) => typeof x === "string")) fail(file, "corpus.documentIds must be a list of strings");
  const want = keptPositions(config.ctx, config.skip);
  if (!isObject(m.positions) || m.positions.first !== want.first || m.positions.end !== want.end || m.positions.perContext !== want.perContext) {
    fail(file, `positions ${JSON.stringify(m.positions)} do not follow from ctx ${config.ctx} and skip ${config.skip} (expected ${JSON.stringify(want)})`);
  }
  if (m.rows !== config.contexts * want.perContext) fail(file, `rows is ${JSON.stringify(m.rows)}, expected contexts × positions = ${config.contexts * want.perContext}`);
  if (!isObject(m.files)) fail(file, "files is missing");
  for (const k of Object.keys(FILES) as (keyof StoreManifest["files"])[]) {
    if (m.files[k] !== FILES[k]) fail(file, `files.${k} is ${JSON.stringify(m.files[k])}, expected "${FILES[k]}"`);
  }
  const plan = planChunks(config.contexts, config.contextsPerChunk, want.perContext);
  if (!Array.isArray(m.chunks) || JSON.stringify(m.chunks) !== JSON.stringify(plan)) {
    fail(file, `chunks do not match the plan for ${config.contexts} contexts in chunks of ${config.contextsPerChunk}`);
  }
  if (!Array.isArray(m.finished)) fail(file, "finished must be a list of chunk indices");
  const seen = new Set<number>();
  for (const i of m.finished) {
    count(file, "finished[]", i);
    if ((i as number) >= plan.length || seen.has(i as number)) fail(file, `finished lists chunk ${i} twice or beyond the ${plan.length} chunks`);
    seen.add(i as number);
  }
  if (typeof m.complete !== "boolean") fail(file, "complete must be true or false");
  if (m.complete && seen.size !== plan.length) fail(file, `says complete but only ${seen.size} of ${plan.length} chunks are finished`);
  if (!isObject(m.created)) fail(file, "created is missing");
  if (m.checksums !== undefined) {
    if (!isObject(m.checksums)) fail(file, "checksums must be an object of {bytes, sha256} per file");
    for (const [f, v] of Object.entries(m.checksums)) {
      if (!isObject(v) || typeof v.sha256 !== "string") fail(file, `checksums.${f} must be {bytes, sha256}`);
      count(file, `checksums.${f}.bytes`, v.bytes);
    }
  }
  return { ...(m as unknown as StoreManifest), config };
}
