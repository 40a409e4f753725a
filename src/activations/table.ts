// An activation table: rows of activations (one per token, d columns) that know each row's sequence, position, token
// and its text. What `run` returns per hook, what a store slice or a user's tensor file becomes, and what SAEs
// (forward, encode), the decomposition (it is a RowSource) and the latent pages take directly.
import * as fs from "fs";
import { tf } from "../backend/index";
import { InputError } from "../errors";
import { inspectSymbol, rangeText } from "../inspect";
import { openTensorFile } from "../io/index";
import type { RowChunk, RowSource } from "../linalg/rows";
import { BOS, EOS, type Tokenizer } from "../lm/tokenizer";
import type { ActivationStore } from "./store";

/** Per-row labels: sequence index, position in the sequence, token id (−1 when unknown). */
export interface RowIndex {
  sequence: Int32Array;
  position: Int32Array;
  token: Int32Array;
}

export interface TableOptions {
  /** What the rows are (a hook name, "SaeError", a file) — printed and used in error messages. */
  name?: string;
  /** Turns a token id into its text; without it tokens print as "#id". */
  tokenText?: (token: number) => string;
  /** The model's next-token loss at each row (NaN where there is no next token). */
  loss?: Float32Array;
}

/** The text a tokenizer shows for one token: its piece (leading space kept), BOS/EOS as <s>/</s>. */
export function tokenTextFn(tokenizer: Tokenizer): (token: number) => string {
  return (t) => (t === BOS ? "<s>" : t === EOS ? "</s>" : t >= 0 && t < tokenizer.vocabSize ? tokenizer.piece(t) : t < 0 ? "?" : `#${t}`);
}

export class ActivationTable implements RowSource {
  /** Rows (tokens). */
  readonly rows: number;
  /** Values per row (d_model for activations). */
  readonly d: number;
  /** What the values are (a hook name, "SaeError", …). */
  readonly name: string;
  /** Row-major [rows, d]. */
  readonly x: Float32Array;
  /** Each row's sequence (input text or store context). */
  readonly sequence: Int32Array;
  /** Each row's position in its sequence. */
  readonly position: Int32Array;
  /** Each row's token id. */
  readonly token: Int32Array;
  readonly loss: Float32Array | undefined;
  private readonly text: ((token: number) => string) | undefined;

  constructor(x: Float32Array, d: number, index: RowIndex, options: TableOptions = {}) {
    const name = options.name ?? "activations";
    if (!Number.isSafeInteger(d) || d < 1) throw new InputError(name, `d must be a positive integer, got ${d}`);
    if (x.length % d !== 0) throw new InputError(name, `${x.length} values are not whole rows of d = ${d}`);
    const rows = x.length / d;
    for (const k of ["sequence", "position", "token"] as const) {
      if (index[k].length !== rows) throw new InputError(name, `${k} has ${index[k].length} entries for ${rows} rows`);
    }
    if (options.loss && options.loss.length !== rows) throw new InputError(name, `loss has ${options.loss.length} entries for ${rows} rows`);
    this.rows = rows;
    this.d = d;
    this.name = name;
    this.x = x;
    this.sequence = index.sequence;
    this.position = index.position;
    this.token = index.token;
    this.loss = options.loss;
    this.text = options.tokenText;
  }

  /** Columns (RowSource). */
  get cols(): number { return this.d; }

  /** Sequences the rows come from (the largest sequence index + 1). */
  get sequences(): number {
    let m = -1;
    for (let i = 0; i < this.rows; i++) if (this.sequence[i] > m) m = this.sequence[i];
    return m + 1;
  }

  /** Row r's values (a view, not a copy). */
  row(r: number): Float32Array {
    this.checkRow(r);
    return this.x.subarray(r * this.d, (r + 1) * this.d);
  }

  /** The text of row r's token ("#id" without a tokenizer, "?" when unknown). */
  tokenText(r: number): string {
    this.checkRow(r);
    const t = this.token[r];
    return this.text ? this.text(t) : t < 0 ? "?" : `#${t}`;
  }

  /** The rows of one sequence, in position order. */
  rowsOf(sequence: number): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.rows; i++) if (this.sequence[i] === sequence) out.push(i);
    return out;
  }

  /** The row of (sequence, position), or −1. */
  find(sequence: number, position: number): number {
    for (let i = 0; i < this.rows; i++) if (this.sequence[i] === sequence && this.position[i] === position) return i;
    return -1;
  }

  /** Rows whose token text equals `text` (after trimming spaces; "▁" counts as a space). */
  rowsWithToken(text: string): number[] {
    const norm = (s: string) => s.replace(/\u2581/g, " ").trim();
    const want = norm(text);
    const out: number[] = [];
    for (let i = 0; i < this.rows; i++) if (norm(this.tokenText(i)) === want) out.push(i);
    return out;
  }

  /** ‖row‖₂ per row. */
  norms(): Float64Array {
    const out = new Float64Array(this.rows), d = this.d;
    for (let r = 0; r < this.rows; r++) {
      let s = 0;
      for (let j = 0; j < d; j++) { const v = this.x[r * d + j]; s += v * v; }
      out[r] = Math.sqrt(s);
    }
    return out;
  }

  /** The same rows (same labels) holding other values, e.g. an SAE's error: `table.withValues(sae.forward(table).error, "SaeError")`. */
  withValues(x: Float32Array, name: string, d = this.d): ActivationTable {
    if (x.length !== this.rows * d) throw new InputError(name, `has ${x.length} values; ${this.rows} rows × ${d} expected`);
    return new ActivationTable(x, d, this.index(), { name, tokenText: this.text, loss: this.loss });
  }

  /** A table of the chosen rows, in the given order. */
  select(rows: readonly number[]): ActivationTable {
    const d = this.d, x = new Float32Array(rows.length * d);
    const pick = <A extends Int32Array | Float32Array>(a: A, make: (n: number) => A): A => {
      const out = make(rows.length);
      rows.forEach((r, i) => { out[i] = a[r]; });
      return out;
    };
    rows.forEach((r, i) => { this.checkRow(r); x.set(this.x.subarray(r * d, (r + 1) * d), i * d); });
    return new ActivationTable(x, d, {
      sequence: pick(this.sequence, (n) => new Int32Array(n)), position: pick(this.position, (n) => new Int32Array(n)),
      token: pick(this.token, (n) => new Int32Array(n)),
    }, { name: this.name, tokenText: this.text, loss: this.loss ? pick(this.loss, (n) => new Float32Array(n)) : undefined });
  }

  /** The rows as a [rows, d] tensor (caller disposes). */
  tensor(): tf.Tensor2D {
    return tf.tensor2d(this.x, [this.rows, this.d]);
  }

  /** One record per row (sequence, position, token, ‖x‖ and any extra columns), for tables and DataFrames. */
  records(extra: Record<string, ArrayLike<number>> = {}): Record<string, string | number>[] {
    const norms = this.norms();
    for (const [k, v] of Object.entries(extra)) if (v.length !== this.rows) throw new InputError(k, `has ${v.length} values for ${this.rows} rows`);
    return Array.from({ length: this.rows }, (_, r) => {
      const rec: Record<string, string | number> = {
        sequence: this.sequence[r], position: this.position[r], token: this.tokenText(r), norm: norms[r],
      };
      if (this.loss) rec.loss = this.loss[r];
      for (const [k, v] of Object.entries(extra)) rec[k] = v[r];
      return rec;
    });
  }

  /** RowSource: views of the rows, `rowsPerChunk` at a time. */
  *chunks(rowsPerChunk: number): Iterable<RowChunk> {
    const step = Math.max(1, Math.floor(rowsPerChunk));
    for (let r = 0; r < this.rows; r += step) yield this.x.subarray(r * this.d, Math.min(this.rows, r + step) * this.d);
  }

  index(): RowIndex {
    return { sequence: this.sequence, position: this.position, token: this.token };
  }

  [inspectSymbol](): string {
    const seqs = this.sequences;
    const first = Array.from({ length: Math.min(this.rows, 12) }, (_, r) => this.tokenText(r)).join("|");
    return `ActivationTable ${this.name}: ${this.rows} rows × ${this.d} (${seqs} sequence${seqs === 1 ? "" : "s"})\n` +
      `  tokens: ${JSON.stringify(first)}${this.rows > 12 ? " …" : ""}\n` +
      `  ‖x‖: ${this.rows ? rangeText(this.norms()) : "no rows"}` +
      (this.loss ? `\n  loss: ${rangeText(this.loss)}` : "");
  }

  private checkRow(r: number): void {
    if (!Number.isInteger(r) || r < 0 || r >= this.rows) throw new InputError(this.name, `row ${r} is outside 0..${this.rows - 1}`);
  }

  // -------------------------------------------------------------------------------------------------------------
  // Building tables from what a user has

  /** Rows [start, start + count) of one hook of an activation store (tokens in the store's vocabulary). */
  static fromStore(store: ActivationStore, hook: string, start = 0, count = Math.min(store.rows - start, 4096),
    tokenizer?: Tokenizer): ActivationTable {
    const c = store.readRows(hook, start, count);
    return new ActivationTable(c.x, store.d, { sequence: c.context, position: c.position, token: c.token },
      { name: hook, tokenText: tokenizer ? tokenTextFn(tokenizer) : undefined, loss: c.loss });
  }

  /**
   * A user's activations file (.npy/.npz/safetensors) with its tokens. Activations [S, T, d] (or [S·T, d] with
   * tokens [S, T]) give (sequence, position) per row; [N, d] with tokens [N] is one stream (sequence 0). `tokens` is
   * a tensor file, an array, or omitted (tokens unknown).
   */
  static fromFile(file: string, options: { tokens?: string | ArrayLike<number> | readonly ArrayLike<number>[]; tensor?: string;
    tokenizer?: Tokenizer; name?: string } = {}): ActivationTable {
    if (!fs.existsSync(file)) throw new InputError(file, "does not exist");
    const f = openTensorFile(file);
    let shape: number[], x: Float32Array;
    try {
      const name = options.tensor ?? (f.entries.length === 1 ? f.entries[0].name : undefined);
      if (name === undefined) throw new InputError(file, `holds several tensors (${f.entries.map((e) => e.name).join(", ")}); pass tensor`);
      const e = f.entries.find((q) => q.name === name);
      if (!e) throw new InputError(file, `has no tensor ${JSON.stringify(name)}`);
      if (e.shape.length < 2 || e.shape.length > 3) throw new InputError(file, `activations need shape [N, d] or [S, T, d], got [${e.shape.join(", ")}]`);
      shape = e.shape;
      x = f.readRowsFloat32(name, 0, e.shape[0]);
    } finally {
      f.close();
    }
    const d = shape[shape.length - 1], rows = x.length / d;
    let tokens: Int32Array | undefined, tokShape: number[] | undefined;
    if (typeof options.tokens === "string") {
      const t = openTensorFile(options.tokens);
      try {
        const e = t.entries[0];
        tokShape = e.shape;
        tokens = Int32Array.from(t.read(e.name).data as ArrayLike<number>);
      } finally {
        t.close();
      }
    } else if (options.tokens !== undefined) {
      const given = options.tokens as ArrayLike<number> | readonly ArrayLike<number>[];
      if (given.length > 0 && typeof given[0] !== "number") {
        const seqs = given as readonly ArrayLike<number>[];
        tokShape = [seqs.length, seqs[0].length];
        tokens = new Int32Array(seqs.length * seqs[0].length);
        seqs.forEach((s, i) => {
          if (s.length !== tokShape![1]) throw new InputError("tokens", `sequence ${i} has ${s.length} tokens; sequence 0 has ${tokShape![1]}`);
          tokens!.set(Array.from(s), i * tokShape![1]);
        });
      } else {
        tokens = Int32Array.from(given as ArrayLike<number>);
        tokShape = [tokens.length];
      }
    }
    if (tokens && tokens.length !== rows) throw new InputError(String(typeof options.tokens === "string" ? options.tokens : "tokens"), `has ${tokens.length} tokens for ${rows} activation rows`);
    const perSeq = shape.length === 3 ? shape[1] : tokShape && tokShape.length === 2 ? tokShape[1] : rows;
    const index: RowIndex = { sequence: new Int32Array(rows), position: new Int32Array(rows), token: tokens ?? new Int32Array(rows).fill(-1) };
    for (let r = 0; r < rows; r++) { index.sequence[r] = Math.floor(r / perSeq); index.position[r] = r % perSeq; }
    return new ActivationTable(x, d, index, { name: options.name ?? file, tokenText: options.tokenizer ? tokenTextFn(options.tokenizer) : undefined });
  }

  /** Rows from a plain array with optional labels (defaults: one sequence, positions 0.., tokens unknown). */
  static fromArray(x: Float32Array, d: number, index: Partial<RowIndex> = {}, options: TableOptions = {}): ActivationTable {
    const rows = Math.floor(x.length / d);
    return new ActivationTable(x, d, {
      sequence: index.sequence ?? new Int32Array(rows),
      position: index.position ?? Int32Array.from({ length: rows }, (_, i) => i),
      token: index.token ?? new Int32Array(rows).fill(-1),
    }, options);
  }
}
