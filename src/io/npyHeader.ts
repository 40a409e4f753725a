// The .npy header: magic, version, header length and a Python dict literal such as
// {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }. The dict is parsed by a small strict parser that
// accepts exactly the literals numpy writes (strings, True/False, tuples of integers), never by evaluation.
import { InputError } from "../errors";
import { DType, byteLength } from "./tensor";

export const NPY_MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
/** Preamble bytes before the header dict: magic, version, length field (u16 for v1, u32 for v2/v3). */
export const NPY_PREAMBLE_V1 = 10;
export const NPY_PREAMBLE_V2 = 12;
/** numpy itself refuses headers above 10000 bytes by default; allow more but never a lying gigabyte. */
export const MAX_NPY_HEADER = 1 << 20;

const DESCR_TO_DTYPE: Record<string, DType> = {
  "<f8": "float64", "<f4": "float32", "<f2": "float16", "<i8": "int64", "<i4": "int32", "<i2": "int16",
  "|i1": "int8", "<i1": "int8", "|u1": "uint8", "<u1": "uint8", "|b1": "bool", "<b1": "bool",
};
const DTYPE_TO_DESCR: Partial<Record<DType, string>> = {
  float64: "<f8", float32: "<f4", float16: "<f2", int64: "<i8", int32: "<i4", int16: "<i2", int8: "|i1", uint8: "|u1", bool: "|b1",
};

export function npyDescr(source: string, dtype: DType): string {
  const d = DTYPE_TO_DESCR[dtype];
  if (!d) throw new InputError(source, `.npy has no standard ${dtype} type; store it in safetensors instead`);
  return d;
}

export interface NpyHeader {
  version: number;
  dtype: DType;
  shape: number[];
  /** Offset of the data from the start of the .npy bytes. */
  dataOffset: number;
  /** Exact byte length of the data. */
  dataBytes: number;
}

type PyValue = string | boolean | number[] | number;

/** Strict parser for the dict literal in a .npy header. */
class PyDictParser {
  private i = 0;
  constructor(private readonly s: string, private readonly source: string) {}

  private fail(problem: string): never {
    throw new InputError(this.source, `bad .npy header at character ${this.i}: ${problem} in ${JSON.stringify(this.s.trimEnd().slice(0, 200))}`);
  }

  private ws(): void {
    while (this.i < this.s.length && (this.s[this.i] === " " || this.s[this.i] === "\t")) this.i++;
  }

  private expect(ch: string): void {
    this.ws();
    if (this.s[this.i] !== ch) this.fail(`expected '${ch}'`);
    this.i++;
  }

  parse(): Map<string, PyValue> {
    const out = new Map<string, PyValue>();
    this.expect("{");
    for (;;) {
      this.ws();
      if (this.s[this.i] === "}") break;
      const key = this.string();
      if (out.has(key)) this.fail(`duplicate key '${key}'`);
      this.expect(":");
      out.set(key, this.value());
      this.ws();
      if (this.s[this.i] === ",") { this.i++; continue; }
      if (this.s[this.i] !== "}") this.fail("expected ',' or '}'");
    }
    this.i++;
    // numpy pads with spaces and ends with a newline; nothing else may follow the dict.
    while (this.i < this.s.length) {
      const c = this.s[this.i];
      if (c !== " " && c !== "\n" && c !== "\r" && c !== "\t" && c !== "\x00") this.fail("unexpected text after the dict");
      this.i++;
    }
    return out;
  }

  private value(): PyValue {
    this.ws();
    const c = this.s[this.i];
    if (c === "'" || c === '"') return this.string();
    if (c === "(") return this.tuple();
    if (c === "[") this.fail("structured (record) dtypes are not supported");
    if (this.s.startsWith("True", this.i)) { this.i += 4; return true; }
    if (this.s.startsWith("False", this.i)) { this.i += 5; return false; }
    if (c !== undefined && c >= "0" && c <= "9") return this.int();
    return this.fail("expected a string, True, False or a tuple");
  }

  private string(): string {
    this.ws();
    const q = this.s[this.i];
    if (q !== "'" && q !== '"') this.fail("expected a quoted string");
    const end = this.s.indexOf(q, this.i + 1);
    if (end < 0) this.fail("unterminated string");
    const body = this.s.slice(this.i + 1, end);
    if (body.includes("\\") || body.includes("\n")) this.fail("escapes and newlines are not allowed in header strings");
    this.i = end + 1;
    return body;
  }

  private int(): number {
    const start = this.i;
    while (this.i < this.s.length && this.s[this.i] >= "0" && this.s[this.i] <= "9") this.i++;
    const digits = this.s.slice(start, this.i);
    if (this.s[this.i] === "L") this.i++; // Python 2 long literal, as in old files
    if (digits.length > 1 && digits[0] === "0") this.fail(`integer ${digits} has a leading zero`);
    const n = Number(digits);
    if (digits.length > 16 || !Number.isSafeInteger(n)) this.fail(`dimension ${digits} is too large`);
    return n;
  }

  private tuple(): number[] {
    this.expect("(");
    const items: number[] = [];
    for (;;) {
      this.ws();
      if (this.s[this.i] === ")") break;
      const c = this.s[this.i];
      if (c === "-") this.fail("negative dimension");
      if (c === undefined || c < "0" || c > "9") this.fail("expected a non-negative integer dimension");
      items.push(this.int());
      this.ws();
      if (this.s[this.i] === ",") { this.i++; continue; }
      if (this.s[this.i] !== ")") this.fail("expected ',' or ')'");
      // Python needs a trailing comma for a 1-tuple: "(3)" is the integer 3, not a shape.
      if (items.length === 1) this.fail("a one-element shape needs a trailing comma");
    }
    this.i++;
    return items;
  }
}

function describeDescr(descr: string): string {
  if (descr.startsWith(">")) return `big-endian dtype '${descr}' is not supported (re-save little-endian)`;
  if (descr.includes("O")) return `object arrays ('${descr}') are not supported (they need pickle)`;
  return `unsupported dtype '${descr}' (supported: ${Object.keys(DESCR_TO_DTYPE).join(" ")})`;
}

/**
 * Parses a .npy header from the first bytes of the file (or member). `head` must hold at least the preamble;
 * `totalBytes` is the size of the whole .npy so lengths can be checked. Returns `{ needed }` when `head` is too
 * short to hold the full header, so a caller can read more (bounded by MAX_NPY_HEADER) and call again.
 */
export function parseNpyHeader(source: string, head: Uint8Array, totalBytes: number): NpyHeader | { needed: number } {
  if (totalBytes < NPY_PREAMBLE_V1) throw new InputError(source, `only ${totalBytes} bytes, too short for a .npy file`);
  if (head.length < NPY_PREAMBLE_V2 && head.length < totalBytes) return { needed: Math.min(NPY_PREAMBLE_V2, totalBytes) };
  for (let k = 0; k < NPY_MAGIC.length; k++) {
    if (head[k] !== NPY_MAGIC[k]) throw new InputError(source, "missing the .npy magic \\x93NUMPY");
  }
  const major = head[6];
  const minor = head[7];
  if (minor !== 0 || major < 1 || major > 3) throw new InputError(source, `unsupported .npy version ${major}.${minor}`);
  let headerLen: number;
  let preamble: number;
  if (major === 1) {
    headerLen = head[8] | (head[9] << 8);
    preamble = NPY_PREAMBLE_V1;
  } else {
    if (totalBytes < NPY_PREAMBLE_V2) throw new InputError(source, `only ${totalBytes} bytes, too short for a v${major} .npy file`);
    headerLen = (head[8] | (head[9] << 8) | (head[10] << 16)) + head[11] * 2 ** 24;
    preamble = NPY_PREAMBLE_V2;
  }
  if (headerLen > MAX_NPY_HEADER) throw new InputError(source, `.npy header length ${headerLen} exceeds the ${MAX_NPY_HEADER}-byte limit`);
  const dataOffset = preamble + headerLen;
  if (dataOffset > totalBytes) {
    throw new InputError(source, `.npy header length ${headerLen} runs past the end (${totalBytes} bytes)`);
  }
  if (head.length < dataOffset) return { needed: dataOffset };
  const raw = head.subarray(preamble, dataOffset);
  let text: string;
  if (major === 3) {
    try {
      text = new TextDecoder("utf-8", { fatal: true }).decode(raw);
    } catch {
      throw new InputError(source, ".npy v3 header is not valid UTF-8");
    }
  } else {
    text = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString("latin1");
  }
  const dict = new PyDictParser(text, source).parse();
  const keys = [...dict.keys()].sort().join(",");
  if (keys !== "descr,fortran_order,shape") {
    throw new InputError(source, `.npy header must have exactly the keys descr, fortran_order, shape (got ${keys || "none"})`);
  }
  const descr = dict.get("descr");
  const fortran = dict.get("fortran_order");
  const shape = dict.get("shape");
  if (typeof descr !== "string") throw new InputError(source, ".npy header 'descr' is not a string");
  if (typeof fortran !== "boolean") throw new InputError(source, ".npy header 'fortran_order' is not True/False");
  if (!Array.isArray(shape)) throw new InputError(source, ".npy header 'shape' is not a tuple");
  const dtype = DESCR_TO_DTYPE[descr];
  if (!dtype) throw new InputError(source, describeDescr(descr));
  const dataBytes = byteLength(source, dtype, shape);
  if (fortran) throw new InputError(source, "fortran_order True arrays are not supported (re-save with np.ascontiguousarray)");
  const expected = dataOffset + dataBytes;
  if (expected !== totalBytes) {
    throw new InputError(source,
      `.npy data should be ${dataBytes} bytes for ${dtype} [${shape.join(", ")}] but ${totalBytes - dataOffset} bytes follow the header`);
  }
  return { version: major, dtype, shape, dataOffset, dataBytes };
}

/**
 * Encodes a .npy preamble + header for `dtype`/`shape`, padded with spaces and a final newline so the data starts
 * on a 64-byte boundary. `minLength` lets a streaming writer reserve room to rewrite the shape later.
 */
export function encodeNpyHeader(source: string, dtype: DType, shape: readonly number[], minLength = 0): Uint8Array {
  const descr = npyDescr(source, dtype);
  byteLength(source, dtype, shape);
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(", ")})`;
  const dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  const build = (preamble: number): number => {
    const unpadded = preamble + dict.length + 1;
    return Math.max(Math.ceil(unpadded / 64) * 64, minLength);
  };
  let preamble = NPY_PREAMBLE_V1;
  let total = build(preamble);
  if (total - preamble > 0xffff) {
    preamble = NPY_PREAMBLE_V2;
    total = build(preamble);
  }
  const headerLen = total - preamble;
  const out = new Uint8Array(total);
  out.set(NPY_MAGIC, 0);
  out[6] = preamble === NPY_PREAMBLE_V1 ? 1 : 2;
  out[7] = 0;
  if (preamble === NPY_PREAMBLE_V1) {
    out[8] = headerLen & 0xff;
    out[9] = headerLen >> 8;
  } else {
    new DataView(out.buffer).setUint32(8, headerLen, true);
  }
  const text = dict.padEnd(headerLen - 1, " ") + "\n";
  out.set(Buffer.from(text, "latin1"), preamble);
  return out;
}
