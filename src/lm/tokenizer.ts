// llama2.c's tokenizer.bin and its SentencePiece-style BPE, matching run.c's encode/decode token for token:
// a dummy-prefix space, UTF-8 code points looked up whole, unknown ones as <0xXX> byte tokens (id = byte + 3), then
// repeatedly the adjacent pair whose merged piece has the highest score is merged (leftmost on ties). run.c rescans the
// whole sequence per merge (quadratic); here a heap over a linked list gives the same merges in O(n log n).
import { createHash } from "crypto";
import * as fs from "fs";
import { InputError } from "../errors";
import { writeFileAtomic } from "../io/atomic";

export const BOS = 1;
export const EOS = 2;
/** Byte b falls back to token b + 3 (after <unk>, <s>, </s>). */
const BYTE_TOKEN_OFFSET = 3;
/** run.c starts its best-score search at -1e10, so pairs scoring at or below it are never merged. */
const MIN_MERGE_SCORE = -1e10;
const MAX_TOKEN_LENGTH_LIMIT = 1 << 16;
const MAX_VOCAB = 1 << 24;
const CHUNK_CACHE_LIMIT = 1 << 16;

export interface TokenizerVocab {
  /** Token pieces (UTF-8 strings or raw bytes), index = token id. */
  pieces: (string | Uint8Array)[];
  /** One merge score per piece. */
  scores: ArrayLike<number>;
  /** Stored max_token_length; defaults to the longest piece in bytes. */
  maxTokenLength?: number;
}

export interface EncodeOptions {
  /** Prepend BOS (default true). */
  bos?: boolean;
  /** Append EOS (default false). */
  eos?: boolean;
}

/**
 * What the rest of the library needs of a tokenizer, whatever its format: the llama2.c tokenizer here, or a Hugging
 * Face tokenizer.json (src/lm/hf-tokenizer.ts).
 */
export interface TextTokenizer {
  readonly vocabSize: number;
  /** The id encode() prepends with `bos: true` (null when the model has none). */
  readonly bosId: number | null;
  encode(text: string, options?: EncodeOptions): Int32Array;
  decode(tokens: ArrayLike<number>): string;
  /** The bytes `token` contributes to the text after `prev`. */
  decodePiece(prev: number, token: number): Uint8Array;
  /** A token as its vocabulary entry, for display. */
  piece(token: number): string;
  /** sha256 identifying the tokenizer (part of activation-store keys). */
  fingerprint(): string;
}

/** Bytes ↔ "binary" strings (one char per byte), so piece concatenation is byte concatenation for any bytes. */
function latin1(bytes: Uint8Array): string { return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("latin1"); }

const BYTE_PIECE = /^<0x([0-9A-Fa-f]{2})>$/;

export class Tokenizer implements TextTokenizer {
  readonly bosId = BOS;
  readonly pieces: readonly Uint8Array[];
  readonly scores: Float32Array;
  readonly maxTokenLength: number;
  private readonly lookup = new Map<string, number>();
  private readonly keys: string[];
  /** What each token decodes to (byte tokens become their byte). */
  private readonly decoded: Uint8Array[];
  /** Merged id for a pair (a·V + b), -1 when the concatenation is no token; filled lazily. */
  private readonly pairCache = new Map<number, number>();

  constructor(vocab: TokenizerVocab, source = "tokenizer") {
    const n = vocab.pieces.length;
    if (n < 1 || n > MAX_VOCAB) throw new InputError(source, `vocabulary has ${n} tokens`);
    if (vocab.scores.length !== n) throw new InputError(source, `${vocab.scores.length} scores for ${n} pieces`);
    this.pieces = vocab.pieces.map((p) => (typeof p === "string" ? new Uint8Array(Buffer.from(p, "utf8")) : p));
    this.scores = Float32Array.from(vocab.scores);
    const longest = this.pieces.reduce((m, p) => Math.max(m, p.length), 0);
    this.maxTokenLength = vocab.maxTokenLength ?? longest;
    if (longest > this.maxTokenLength) throw new InputError(source, `a piece of ${longest} bytes exceeds max_token_length ${this.maxTokenLength}`);
    for (let i = 0; i < n; i++) if (Number.isNaN(this.scores[i])) throw new InputError(source, `token ${i} has a NaN score`);
    this.keys = this.pieces.map(latin1);
    // run.c binary-searches a sorted copy; with duplicate pieces the lowest id is the deterministic choice here.
    for (let i = n - 1; i >= 0; i--) this.lookup.set(this.keys[i], i);
    this.decoded = this.pieces.map((p) => {
      const m = BYTE_PIECE.exec(latin1(p));
      return m ? Uint8Array.of(parseInt(m[1], 16)) : p;
    });
    this.wordwise = this.lookup.has(" ") && this.pieces.every((p) => p.indexOf(0x20, 1) < 0);
  }

  get vocabSize(): number { return this.pieces.length; }

  private hash: string | undefined;

  /** sha256 of max_token_length, every score and piece. */
  fingerprint(): string {
    if (this.hash) return this.hash;
    const h = createHash("sha256").update(String(this.maxTokenLength));
    this.pieces.forEach((p, i) => {
      h.update(new Uint8Array(Float32Array.of(this.scores[i]).buffer)).update(new Uint8Array(Int32Array.of(p.length).buffer)).update(p);
    });
    return (this.hash = h.digest("hex"));
  }

  /** A token's piece as text (for display; byte tokens show as `<0xXX>`). */
  piece(token: number): string { return Buffer.from(this.pieces[this.checkToken(token)]).toString("utf8"); }

  /** The id of a piece given as text, or -1. */
  tokenOf(piece: string): number { return this.lookup.get(latin1(new Uint8Array(Buffer.from(piece, "utf8")))) ?? -1; }

  /** Encodes text the way llama2.c's run.c does (dummy prefix, byte fallback, score-ordered merges). */
  encode(text: string, options: EncodeOptions = {}): Int32Array {
    const parts = text.length === 0 ? [] : this.wordwise ? text.split(" ").map((w) => this.cachedChunk(w)) : [this.encodeChunk(" " + text)];
    const bos = options.bos ?? true, eos = options.eos ?? false;
    const out = new Int32Array(parts.reduce((s, p) => s + p.length, 0) + (bos ? 1 : 0) + (eos ? 1 : 0));
    let at = 0;
    if (bos) out[at++] = BOS;
    for (const p of parts) { out.set(p, at); at += p.length; }
    if (eos) out[at] = EOS;
    return out;
  }

  /**
   * With " " a token and no piece holding a space after its first byte, no merge can cross the start of a space, so
   * " word" chunks encode independently (and repeat: a cache makes real text ~10× faster, with identical output).
   */
  private readonly wordwise: boolean;
  private readonly chunkCache = new Map<string, Int32Array>();

  private cachedChunk(word: string): Int32Array {
    let ids = this.chunkCache.get(word);
    if (!ids) {
      ids = this.encodeChunk(" " + word);
      if (this.chunkCache.size >= CHUNK_CACHE_LIMIT) this.chunkCache.clear();
      this.chunkCache.set(word, ids);
    }
    return ids;
  }

  /** The merged tokens of text whose dummy-prefix space is already in place. */
  private encodeChunk(text: string): Int32Array {
    return this.merge(this.initialTokens(new Uint8Array(Buffer.from(text, "utf8"))));
  }

  private byteToken(b: number): number {
    const id = b + BYTE_TOKEN_OFFSET;
    if (id >= this.vocabSize || this.decoded[id].length !== 1 || this.decoded[id][0] !== b) {
      throw new InputError("text", `byte 0x${b.toString(16).padStart(2, "0")} has no token in this vocabulary, ` +
        `and token ${id} is not its <0x${b.toString(16).toUpperCase().padStart(2, "0")}> byte-fallback token`);
    }
    return id;
  }

  /** One token per UTF-8 code point (at most 4 bytes, as run.c groups them), or its byte tokens. */
  private initialTokens(bytes: Uint8Array): Int32Array {
    const out = new Int32Array(bytes.length);
    let n = 0;
    let i = 0;
    while (i < bytes.length) {
      let j = i + 1;
      while (j < bytes.length && (bytes[j] & 0xc0) === 0x80 && j - i < 4) j++;
      const id = j === i + 1 ? this.singleByteToken(bytes[i]) : (this.lookup.get(latin1(bytes.subarray(i, j))) ?? -1);
      if (id >= 0) out[n++] = id;
      else for (let k = i; k < j; k++) out[n++] = this.byteToken(bytes[k]);
      i = j;
    }
    return out.subarray(0, n);
  }

  private singleByteIds: Int32Array | undefined;
  private singleByteToken(b: number): number {
    if (!this.singleByteIds) {
      this.singleByteIds = new Int32Array(256);
      for (let c = 0; c < 256; c++) this.singleByteIds[c] = this.lookup.get(String.fromCharCode(c)) ?? -1;
    }
    return this.singleByteIds[b];
  }

  private mergedId(a: number, b: number): number {
    const key = a * this.vocabSize + b;
    let id = this.pairCache.get(key);
    if (id === undefined) {
      id = this.lookup.get(this.keys[a] + this.keys[b]) ?? -1;
      if (id >= 0 && !(this.scores[id] > MIN_MERGE_SCORE)) id = -1;
      this.pairCache.set(key, id);
    }
    return id;
  }

  /** Highest-score-first merges over a doubly linked list; heap entries are validated lazily when popped. */
  private merge(tokens: Int32Array): Int32Array {
    const n = tokens.length;
    if (n < 2) return Int32Array.from(tokens);
    const tok = Int32Array.from(tokens);
    const next = new Int32Array(n), prev = new Int32Array(n);
    for (let i = 0; i < n; i++) { next[i] = i + 1 < n ? i + 1 : -1; prev[i] = i - 1; }
    const alive = new Uint8Array(n).fill(1);
    const heap = new PairHeap(this.scores);
    const push = (left: number) => {
      const right = next[left];
      if (right < 0) return;
      const id = this.mergedId(tok[left], tok[right]);
      if (id >= 0) heap.push(left, right, tok[left], tok[right], id);
    };
    for (let i = 0; i + 1 < n; i++) push(i);
    while (heap.size > 0) {
      const e = heap.pop();
      const left = heap.left[e], right = heap.right[e];
      // Stale when either side was merged away or changed since the entry was pushed.
      if (!alive[left] || !alive[right] || next[left] !== right || tok[left] !== heap.tokLeft[e] || tok[right] !== heap.tokRight[e]) continue;
      tok[left] = heap.merged[e];
      alive[right] = 0;
      next[left] = next[right];
      if (next[right] >= 0) prev[next[right]] = left;
      if (prev[left] >= 0) push(prev[left]);
      push(left);
    }
    const out: number[] = [];
    for (let i = 0; i >= 0; i = next[i]) out.push(tok[i]);
    return Int32Array.from(out);
  }

  /** The bytes token `token` contributes after `prev` (run.c's decode: after BOS a leading space is dropped). */
  decodePiece(prev: number, token: number): Uint8Array {
    const raw = this.pieces[this.checkToken(token)];
    return prev === BOS && raw[0] === 0x20 ? raw.subarray(1) : this.decoded[token];
  }

  /** Decodes tokens to text: BOS/EOS are dropped, a leading space after BOS is stripped, bytes are read as UTF-8. */
  decode(tokens: ArrayLike<number>): string {
    const parts: Uint8Array[] = [];
    for (let i = 0; i < tokens.length; i++) {
      const t = tokens[i];
      if (t === BOS || t === EOS) { this.checkToken(t); continue; }
      parts.push(this.decodePiece(i > 0 ? tokens[i - 1] : -1, t));
    }
    return Buffer.concat(parts).toString("utf8");
  }

  private checkToken(t: number): number {
    if (!Number.isInteger(t) || t < 0 || t >= this.vocabSize) throw new InputError("tokens", `token ${t} is outside the vocabulary [0, ${this.vocabSize})`);
    return t;
  }
}

/**
 * A max-heap of candidate merges ordered by merged score, then by leftmost position (run.c's tie rule). Entries live
 * in parallel typed arrays indexed by entry id; the heap orders ids, so nothing is allocated per operation.
 */
class PairHeap {
  left = new Int32Array(64);
  right = new Int32Array(64);
  tokLeft = new Int32Array(64);
  tokRight = new Int32Array(64);
  merged = new Int32Array(64);
  private key = new Float32Array(64);
  private heap = new Int32Array(64);
  private entries = 0;
  size = 0;
  constructor(private readonly scores: Float32Array) {}

  private before(a: number, b: number): boolean {
    return this.key[a] > this.key[b] || (this.key[a] === this.key[b] && this.left[a] < this.left[b]);
  }

  push(left: number, right: number, tokLeft: number, tokRight: number, merged: number): void {
    if (this.entries === this.left.length) this.grow();
    const e = this.entries++;
    this.left[e] = left; this.right[e] = right; this.tokLeft[e] = tokLeft; this.tokRight[e] = tokRight;
    this.merged[e] = merged; this.key[e] = this.scores[merged];
    const h = this.heap;
    let i = this.size++;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.before(e, h[p])) break;
      h[i] = h[p];
      i = p;
    }
    h[i] = e;
  }

  /** Removes the best entry and returns its id (valid until the next push). */
  pop(): number {
    const h = this.heap;
    const top = h[0];
    const last = h[--this.size];
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= this.size) break;
      const c = l + 1 < this.size && this.before(h[l + 1], h[l]) ? l + 1 : l;
      if (!this.before(h[c], last)) break;
      h[i] = h[c];
      i = c;
    }
    h[i] = last;
    return top;
  }

  private grow(): void {
    const g = <T extends Int32Array | Float32Array>(a: T): T => {
      const b = new (a.constructor as { new (n: number): T })(a.length * 2);
      b.set(a);
      return b;
    };
    this.left = g(this.left); this.right = g(this.right); this.tokLeft = g(this.tokLeft); this.tokRight = g(this.tokRight);
    this.merged = g(this.merged); this.key = g(this.key); this.heap = g(this.heap);
  }
}

/** Parses tokenizer.bin bytes (the file has no vocab size: tokens run to the end, which must fall on a token boundary). */
export function parseTokenizer(buf: Uint8Array, source: string, expectedVocabSize?: number): Tokenizer {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (buf.length < 4) throw new InputError(source, `${buf.length} bytes is too short for a tokenizer.bin header`);
  const maxTokenLength = view.getInt32(0, true);
  if (maxTokenLength <= 0 || maxTokenLength > MAX_TOKEN_LENGTH_LIMIT) {
    throw new InputError(source, `max_token_length is ${maxTokenLength}; expected 1..${MAX_TOKEN_LENGTH_LIMIT}`);
  }
  const pieces: Uint8Array[] = [];
  const scores: number[] = [];
  let at = 4;
  while (at < buf.length && (expectedVocabSize === undefined || pieces.length < expectedVocabSize)) {
    const id = pieces.length;
    if (at + 8 > buf.length) throw new InputError(source, `token ${id}: file ends inside its score/length fields (at byte ${at})`);
    const score = view.getFloat32(at, true), len = view.getInt32(at + 4, true);
    if (Number.isNaN(score)) throw new InputError(source, `token ${id}: score is NaN`);
    if (len < 0 || len > maxTokenLength) throw new InputError(source, `token ${id}: length ${len} is outside 0..max_token_length (${maxTokenLength})`);
    if (at + 8 + len > buf.length) throw new InputError(source, `token ${id}: its ${len} bytes run past the end of the file`);
    scores.push(score);
    pieces.push(new Uint8Array(buf.subarray(at + 8, at + 8 + len)));
    at += 8 + len;
  }
  if (expectedVocabSize !== undefined && (pieces.length !== expectedVocabSize || at !== buf.length)) {
    throw new InputError(source, at !== buf.length
      ? `has more than the model's ${expectedVocabSize} tokens (${buf.length - at} bytes left over)`
      : `has ${pieces.length} tokens but the model's vocabulary has ${expectedVocabSize}`);
  }
  if (pieces.length === 0) throw new InputError(source, "has no tokens");
  return new Tokenizer({ pieces, scores, maxTokenLength }, source);
}

/** Reads a llama2.c tokenizer.bin; pass the model's vocab size to check that both agree. */
export function loadTokenizer(file: string, expectedVocabSize?: number): Tokenizer {
  let buf: Buffer;
  try {
    const size = fs.statSync(file).size;
    // 4 + vocab·(8 + max_token_length) bounds any valid file; the check keeps a wrong path from reading gigabytes.
    if (size > 4 + MAX_VOCAB * 16) throw new InputError(file, `${size} bytes is too large for a tokenizer.bin`);
    buf = fs.readFileSync(file);
  } catch (err) {
    if (err instanceof InputError) throw err;
    throw new InputError(file, `cannot read tokenizer: ${(err as Error).message}`);
  }
  return parseTokenizer(buf, file, expectedVocabSize);
}

/** Serialises a vocabulary in tokenizer.bin format. */
export function tokenizerBytes(vocab: TokenizerVocab): Buffer {
  const t = new Tokenizer(vocab, "vocabulary to save");
  const parts: Buffer[] = [Buffer.alloc(4)];
  parts[0].writeInt32LE(t.maxTokenLength, 0);
  t.pieces.forEach((p, i) => {
    const head = Buffer.alloc(8);
    head.writeFloatLE(t.scores[i], 0);
    head.writeInt32LE(p.length, 4);
    parts.push(head, Buffer.from(p));
  });
  return Buffer.concat(parts);
}

/** Writes a vocabulary as tokenizer.bin, atomically. */
export function saveTokenizer(file: string, vocab: TokenizerVocab): void {
  writeFileAtomic(file, tokenizerBytes(vocab));
}
