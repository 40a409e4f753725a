// A synchronous, resumable raw-DEFLATE decoder (RFC 1951). Node's zlib can only inflate synchronously all at once,
// which for a multi-gigabyte deflated .npz member would hold the whole member in memory; this decoder produces output
// in caller-sized pieces with a 32 KiB window, so row ranges can be read with bounded memory. Full-member reads use
// zlib (native, faster). Every malformed stream ends in an InputError; decoding always makes progress, so it cannot hang.
import { InputError } from "../errors";

const LEN_BASE = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258];
const LEN_EXTRA = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0];
const DIST_BASE = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073,
  4097, 6145, 8193, 12289, 16385, 24577];
const DIST_EXTRA = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13];
const CL_ORDER = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];
const WINDOW = 1 << 15;
const WINDOW_MASK = WINDOW - 1;

/** A canonical Huffman code as a lookup table indexed by the next `bits` stream bits: entry = symbol << 4 | length. */
interface Huffman {
  table: Int32Array;
  bits: number;
}

function buildHuffman(lengths: ArrayLike<number>, fail: (p: string) => never): Huffman {
  let maxLen = 0;
  const count = new Int32Array(16);
  for (let i = 0; i < lengths.length; i++) {
    count[lengths[i]]++;
    if (lengths[i] > maxLen) maxLen = lengths[i];
  }
  count[0] = 0;
  if (maxLen === 0) return { table: new Int32Array(1), bits: 0 }; // no codes: any use is an error
  // Reject over-subscribed codes; incomplete ones leave table holes (length 0) that fail when hit.
  let left = 1;
  for (let len = 1; len <= 15; len++) {
    left = left * 2 - count[len];
    if (left < 0) fail("over-subscribed Huffman code");
  }
  const next = new Int32Array(16);
  for (let len = 1, code = 0; len <= 15; len++) {
    code = (code + count[len - 1]) << 1;
    next[len] = code;
  }
  const size = 1 << maxLen;
  const table = new Int32Array(size);
  for (let sym = 0; sym < lengths.length; sym++) {
    const len = lengths[sym];
    if (len === 0) continue;
    const code = next[len]++;
    let rev = 0;
    for (let b = 0; b < len; b++) rev |= ((code >> b) & 1) << (len - 1 - b);
    for (let k = rev; k < size; k += 1 << len) table[k] = (sym << 4) | len;
  }
  return { table, bits: maxLen };
}

let fixedLit: Huffman | null = null;
let fixedDist: Huffman | null = null;

export class RawInflater {
  private input: Uint8Array = new Uint8Array(0);
  private inPos = 0;
  private bitBuf = 0;
  private bitCount = 0;
  private readonly window = new Uint8Array(WINDOW);
  private total = 0; // bytes produced so far
  private state: "header" | "stored" | "huffman" | "done" = "header";
  private last = false;
  private storedLeft = 0;
  private lit: Huffman | null = null;
  private dist: Huffman | null = null;
  private copyLeft = 0;
  private copyDist = 0;

  /** `pull()` returns the next chunk of compressed input, or null when there is no more. */
  constructor(private readonly pull: () => Uint8Array | null, private readonly source: string) {}

  get produced(): number {
    return this.total;
  }

  get finished(): boolean {
    return this.state === "done";
  }

  private fail(problem: string): never {
    throw new InputError(this.source, `corrupt deflate data: ${problem}`);
  }

  /** Loads bytes until at least n bits are buffered or the input ends (n ≤ 24 keeps bitBuf within 32 bits). */
  private fill(n: number): void {
    while (this.bitCount < n) {
      if (this.inPos >= this.input.length) {
        const next = this.pull();
        if (next === null) return;
        this.input = next;
        this.inPos = 0;
        continue;
      }
      this.bitBuf |= this.input[this.inPos++] << this.bitCount;
      this.bitCount += 8;
    }
  }

  private bits(n: number): number {
    if (n === 0) return 0;
    this.fill(n);
    if (this.bitCount < n) this.fail("stream ends early");
    const v = this.bitBuf & ((1 << n) - 1);
    this.bitBuf >>>= n;
    this.bitCount -= n;
    return v;
  }

  private decode(h: Huffman): number {
    this.fill(h.bits);
    const e = h.table[this.bitBuf & ((1 << h.bits) - 1)];
    const len = e & 15;
    if (len === 0) this.fail(h.bits === 0 ? "use of an empty Huffman code" : "invalid Huffman code");
    if (len > this.bitCount) this.fail("stream ends early");
    this.bitBuf >>>= len;
    this.bitCount -= len;
    return e >> 4;
  }

  private readBlockHeader(): void {
    this.last = this.bits(1) === 1;
    const type = this.bits(2);
    if (type === 0) {
      const partial = this.bitCount & 7; // stored blocks start at a byte boundary: drop the partial byte
      this.bitBuf >>>= partial;
      this.bitCount -= partial;
      const len = this.bits(16);
      const nlen = this.bits(16);
      if ((len ^ 0xffff) !== nlen) this.fail("stored block length check fails");
      this.storedLeft = len;
      this.state = "stored";
    } else if (type === 1) {
      if (!fixedLit) {
        const l = new Uint8Array(288);
        l.fill(8, 0, 144); l.fill(9, 144, 256); l.fill(7, 256, 280); l.fill(8, 280, 288);
        fixedLit = buildHuffman(l, (p) => this.fail(p));
        fixedDist = buildHuffman(new Uint8Array(30).fill(5), (p) => this.fail(p));
      }
      this.lit = fixedLit;
      this.dist = fixedDist;
      this.state = "huffman";
    } else if (type === 2) {
      this.readDynamicTables();
      this.state = "huffman";
    } else {
      this.fail("reserved block type 3");
    }
  }

  private readDynamicTables(): void {
    const nlit = this.bits(5) + 257;
    const ndist = this.bits(5) + 1;
    const nclen = this.bits(4) + 4;
    if (nlit > 286 || ndist > 30) this.fail("too many length or distance codes");
    const clLens = new Uint8Array(19);
    for (let i = 0; i < nclen; i++) clLens[CL_ORDER[i]] = this.bits(3);
    const cl = buildHuffman(clLens, (p) => this.fail(p));
    const lens = new Uint8Array(nlit + ndist);
    let i = 0;
    while (i < lens.length) {
      const sym = this.decode(cl);
      if (sym < 16) { lens[i++] = sym; continue; }
      let rep: number;
      let val = 0;
      if (sym === 16) {
        if (i === 0) this.fail("repeat with no previous length");
        val = lens[i - 1];
        rep = 3 + this.bits(2);
      } else if (sym === 17) rep = 3 + this.bits(3);
      else rep = 11 + this.bits(7);
      if (i + rep > lens.length) this.fail("code lengths overrun");
      lens.fill(val, i, i + rep);
      i += rep;
    }
    if (lens[256] === 0) this.fail("no end-of-block code");
    this.lit = buildHuffman(lens.subarray(0, nlit), (p) => this.fail(p));
    this.dist = buildHuffman(lens.subarray(nlit), (p) => this.fail(p));
  }

  private emit(out: Uint8Array, at: number, byte: number): void {
    out[at] = byte;
    this.window[this.total & WINDOW_MASK] = byte;
    this.total++;
  }

  /**
   * Writes up to `length` decompressed bytes into out[offset…]; returns how many (fewer only at the end of the stream).
   * Pass `out = null` to skip bytes without keeping them.
   */
  read(out: Uint8Array | null, offset: number, length: number): number {
    const sink = out ?? new Uint8Array(Math.min(length, 1 << 16));
    let done = 0;
    while (done < length) {
      const at = out ? offset + done : done % sink.length;
      if (this.copyLeft > 0) {
        const b = this.window[(this.total - this.copyDist) & WINDOW_MASK];
        this.emit(sink, at, b);
        this.copyLeft--;
        done++;
        continue;
      }
      if (this.state === "done") break;
      if (this.state === "header") {
        this.readBlockHeader();
        continue;
      }
      if (this.state === "stored") {
        if (this.storedLeft === 0) {
          this.state = this.last ? "done" : "header";
          continue;
        }
        this.emit(sink, at, this.bits(8));
        this.storedLeft--;
        done++;
        continue;
      }
      const sym = this.decode(this.lit!);
      if (sym < 256) {
        this.emit(sink, at, sym);
        done++;
      } else if (sym === 256) {
        this.state = this.last ? "done" : "header";
      } else {
        const li = sym - 257;
        if (li >= 29) this.fail(`invalid length symbol ${sym}`);
        this.copyLeft = LEN_BASE[li] + this.bits(LEN_EXTRA[li]);
        const di = this.decode(this.dist!);
        if (di >= 30) this.fail(`invalid distance symbol ${di}`);
        this.copyDist = DIST_BASE[di] + this.bits(DIST_EXTRA[di]);
        if (this.copyDist > this.total) this.fail(`distance ${this.copyDist} reaches before the start of the data`);
      }
    }
    return done;
  }

  /** After the final block: true if any whole input bytes were left over (callers treat that as corruption). */
  hasTrailingInput(): boolean {
    if (this.bitCount >= 8) return true;
    if (this.inPos < this.input.length) return true;
    const next = this.pull();
    return next !== null && next.length > 0;
  }
}
