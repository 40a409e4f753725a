// Reading an activation store: the manifest, tokens, per-token losses, and activations streamed in row chunks.
// Row r is token (context c = ⌊r / K⌋, position p = first + r mod K) with K kept positions per context; each row
// carries its token id, context, position and the model's loss there, so analyses can show a token in its context.
import * as path from "path";
import { InputError } from "../errors";
import { withSummary } from "../inspect";
import { openNpy } from "../io/index";
import type { TensorFile } from "../io/index";
import { FILES, StoreManifest, chunkFile, readManifest } from "./manifest";

export interface RowChunk {
  /** First row of this chunk in the store. */
  start: number;
  rows: number;
  /** [rows, d] activations (float32, row-major). */
  x: Float32Array;
  /** Per row: token id at that position, context index, position in the context, and the next-token loss there. */
  token: Int32Array;
  context: Int32Array;
  position: Int32Array;
  loss: Float32Array;
}

export interface ActivationStore {
  dir: string;
  manifest: StoreManifest;
  /** Total rows (kept tokens) and activation width. */
  rows: number;
  d: number;
  hooks: string[];
  /** All context tokens [contexts, ctx] (column 0 is BOS). */
  tokens(): Int32Array;
  /** Next-token losses [contexts, ctx − 1]: entry (c, p) is the loss of predicting token p+1 from positions ≤ p. */
  losses(): Float32Array;
  /** Which document (index into manifest.corpus.documentIds) and token offset each context came from: [contexts, 2]. */
  contextSources(): Int32Array;
  /** Token, context, position and loss of rows [start, start + count). */
  rowInfo(start: number, count: number): Omit<RowChunk, "x">;
  /** Rows [start, start + count) of one hook, reading only the bytes needed. */
  readRows(hook: string, start: number, count: number): RowChunk;
  /** All rows of one hook in order, `rowsPerChunk` at a time (the last chunk may be shorter). */
  chunks(hook: string, rowsPerChunk: number): Iterable<RowChunk>;
  close(): void;
}

function expectShape(file: TensorFile, what: string, dtype: string, shape: number[]): void {
  const e = file.entries[0];
  if (e.dtype !== dtype || e.shape.length !== shape.length || e.shape.some((s, i) => s !== shape[i])) {
    throw new InputError(file.path, `${what} has ${e.dtype} [${e.shape.join(", ")}], expected ${dtype} [${shape.join(", ")}]`);
  }
}

/** Reads a whole small .npy of the given dtype and shape (tokens, sources, loss chunks). */
function readSmall(file: string, what: string, dtype: "int32" | "float32", shape: number[]): Int32Array | Float32Array {
  const f = openNpy(file);
  try {
    expectShape(f, what, dtype, shape);
    const t = f.read("");
    return dtype === "int32" ? Int32Array.from(t.data as Int32Array) : Float32Array.from(t.data as Float32Array);
  } finally {
    f.close();
  }
}

/**
 * Opens a finished store read-only. Validates the manifest and the shapes of every file it lists (headers only),
 * so later reads cannot run off the data. An unfinished store is an InputError that says how to resume it.
 */
export function openActivationStore(dir: string): ActivationStore {
  const manifest = readManifest(dir);
  const mfile = path.join(dir, "manifest.json");
  if (!manifest.complete) {
    throw new InputError(mfile, `the store is unfinished (${manifest.finished.length} of ${manifest.chunks.length} chunks); ` +
      "run the same build again to resume it");
  }
  const { contexts, ctx, hooks } = manifest.config;
  const { first, perContext } = manifest.positions;
  const d = manifest.d;
  const tokens = readSmall(path.join(dir, FILES.tokens), "tokens", "int32", [contexts, ctx]) as Int32Array;
  const vocab = manifest.model.vocabSize;
  for (let i = 0; i < tokens.length; i++) {
    if (tokens[i] < 0 || tokens[i] >= vocab) throw new InputError(path.join(dir, FILES.tokens), `token ${tokens[i]} at index ${i} is outside the vocabulary [0, ${vocab})`);
  }
  const sources = readSmall(path.join(dir, FILES.contextSources), "context sources", "int32", [contexts, 2]) as Int32Array;
  const losses = new Float32Array(contexts * (ctx - 1));
  for (const c of manifest.chunks) {
    const part = readSmall(path.join(dir, chunkFile(FILES.losses, c.index)), "losses", "float32", [c.endContext - c.firstContext, ctx - 1]);
    losses.set(part, c.firstContext * (ctx - 1));
  }
  // Check every activation chunk's header now (float32 [rows, d]); reads later open one chunk file per hook at a time,
  // so a store of thousands of chunks never holds thousands of descriptors.
  const chunkPath = (hook: string, ci: number) => path.join(dir, chunkFile(FILES.activations, ci, hook));
  for (const h of hooks) {
    for (const c of manifest.chunks) {
      const f = openNpy(chunkPath(h, c.index));
      try { expectShape(f, `activations of ${h}`, "float32", [c.rows, d]); } finally { f.close(); }
    }
  }
  const open = new Map<string, { chunk: number; file: TensorFile }>();
  const chunkReader = (hook: string, ci: number): TensorFile => {
    const cur = open.get(hook);
    if (cur && cur.chunk === ci) return cur.file;
    cur?.file.close();
    const file = openNpy(chunkPath(hook, ci));
    open.set(hook, { chunk: ci, file });
    return file;
  };
  const closeAll = () => { for (const { file } of open.values()) file.close(); open.clear(); };
  const rowsPerChunkFile = manifest.config.contextsPerChunk * perContext;

  const checkRange = (start: number, count: number) => {
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(count) || start < 0 || count < 0 || start + count > manifest.rows) {
      throw new InputError("rows", `rows ${start}..${start + count} are outside the store's 0..${manifest.rows}`);
    }
  };

  const rowInfo = (start: number, count: number): Omit<RowChunk, "x"> => {
    checkRange(start, count);
    const info = { start, rows: count, token: new Int32Array(count), context: new Int32Array(count), position: new Int32Array(count), loss: new Float32Array(count) };
    for (let i = 0; i < count; i++) {
      const r = start + i, c = Math.floor(r / perContext), p = first + (r % perContext);
      info.context[i] = c;
      info.position[i] = p;
      info.token[i] = tokens[c * ctx + p];
      info.loss[i] = losses[c * (ctx - 1) + p];
    }
    return info;
  };

  const readRows = (hook: string, start: number, count: number): RowChunk => {
    if (!hooks.includes(hook)) throw new InputError("hook", `the store has no hook ${hook} (it has ${hooks.join(", ")})`);
    const info = rowInfo(start, count);
    const x = new Float32Array(count * d);
    let r = start;
    while (r < start + count) {
      const ci = Math.floor(r / rowsPerChunkFile), off = r - ci * rowsPerChunkFile;
      const n = Math.min(start + count - r, manifest.chunks[ci].rows - off);
      x.set(chunkReader(hook, ci).readRowsFloat32("", off, n), (r - start) * d);
      r += n;
    }
    return { ...info, x };
  };

  return withSummary<ActivationStore>({
    dir, manifest, rows: manifest.rows, d, hooks: [...hooks],
    tokens: () => tokens.slice(),
    losses: () => losses.slice(),
    contextSources: () => sources.slice(),
    rowInfo,
    readRows,
    chunks(hook: string, rowsPerChunk: number): Iterable<RowChunk> {
      if (!Number.isSafeInteger(rowsPerChunk) || rowsPerChunk < 1) throw new InputError("rowsPerChunk", `must be a positive integer, got ${rowsPerChunk}`);
      if (!hooks.includes(hook)) throw new InputError("hook", `the store has no hook ${hook} (it has ${hooks.join(", ")})`);
      return {
        *[Symbol.iterator]() {
          for (let s = 0; s < manifest.rows; s += rowsPerChunk) yield readRows(hook, s, Math.min(rowsPerChunk, manifest.rows - s));
        },
      };
    },
    close: closeAll,
  }, (st) => [
    `ActivationStore ${st.dir}: ${st.rows} rows × ${st.d} (${contexts} contexts of ${ctx} tokens, positions ${first}…${manifest.positions.end - 1})`,
    `  hooks: ${st.hooks.join(", ")}; model d ${manifest.model.dim}, ${manifest.model.nLayers} layers; corpus ${manifest.corpus.name}`,
    "  ActivationTable.fromStore(store, hook, start, count) gives rows with their tokens",
  ]);
}
