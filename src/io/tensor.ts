// The common in-memory model for tensors read from or written to files: a dtype, a C-order shape and a typed
// array holding the raw little-endian values. float16/bfloat16 stay as raw bits (Uint16Array) so nothing is lost
// until a caller asks for numbers; conversions to float32/float64 are exact where the target can represent the value.
import * as os from "os";
import { InputError } from "../errors";

export type DType =
  | "float64" | "float32" | "float16" | "bfloat16" | "int64" | "int32" | "int16" | "int8" | "uint8" | "bool";

export const DTYPES: readonly DType[] =
  ["float64", "float32", "float16", "bfloat16", "int64", "int32", "int16", "int8", "uint8", "bool"];

export interface TensorEntry {
  name: string;
  dtype: DType;
  shape: number[];
}

export type HostData =
  | Float64Array | Float32Array | Uint16Array | BigInt64Array | Int32Array | Int16Array | Int8Array | Uint8Array;

export interface HostTensor {
  dtype: DType;
  shape: number[];
  data: HostData;
}

/** The typed-array constructor that holds each dtype (float16/bfloat16 as raw bits, bool as 0/1 bytes). */
const ARRAY_TYPE = {
  float64: Float64Array, float32: Float32Array, float16: Uint16Array, bfloat16: Uint16Array, int64: BigInt64Array,
  int32: Int32Array, int16: Int16Array, int8: Int8Array, uint8: Uint8Array, bool: Uint8Array,
} as const;

const ITEM_SIZE: Record<DType, number> = {
  float64: 8, float32: 4, float16: 2, bfloat16: 2, int64: 8, int32: 4, int16: 2, int8: 1, uint8: 1, bool: 1,
};

export function itemSize(dtype: DType): number {
  return ITEM_SIZE[dtype];
}

export function isFloatDType(dtype: DType): boolean {
  return dtype === "float64" || dtype === "float32" || dtype === "float16" || dtype === "bfloat16";
}

/**
 * Number of elements of `shape`, validating every entry as a non-negative safe integer and the product (times
 * `bytesPerItem`, when given) against overflow, so a lying header can never produce a wrong size.
 */
export function elementCount(source: string, shape: readonly number[], bytesPerItem = 1): number {
  let n = bytesPerItem;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) throw new InputError(source, `shape entry ${d} is not a non-negative integer`);
    n *= d;
    if (!Number.isSafeInteger(n)) throw new InputError(source, `shape [${shape.join(", ")}] is too large (size overflows)`);
  }
  return bytesPerItem === 1 ? n : n / bytesPerItem;
}

/** Byte length of a tensor of `dtype` and `shape`, overflow-checked. */
export function byteLength(source: string, dtype: DType, shape: readonly number[]): number {
  return elementCount(source, shape, itemSize(dtype)) * itemSize(dtype);
}

/** Checks that a tensor's data array has the type its dtype calls for and the length its shape calls for. */
export function validateHostTensor(source: string, t: HostTensor): void {
  if (!(DTYPES as readonly string[]).includes(t.dtype)) throw new InputError(source, `unknown dtype "${t.dtype}"`);
  if (!Array.isArray(t.shape)) throw new InputError(source, "shape is not an array");
  const ctor = ARRAY_TYPE[t.dtype];
  if (!(t.data instanceof ctor)) {
    throw new InputError(source, `dtype ${t.dtype} needs its data in a ${ctor.name}, got ${t.data?.constructor?.name}`);
  }
  const n = elementCount(source, t.shape);
  if (t.data.length !== n) {
    throw new InputError(source, `data has ${t.data.length} elements but shape [${t.shape.join(", ")}] needs ${n}`);
  }
}

// Every file format here is little-endian and the typed arrays use the host's byte order.
const HOST_IS_LE = os.endianness() === "LE";

/**
 * Views freshly read little-endian bytes as the typed array of `dtype`. `bytes` must own an aligned ArrayBuffer
 * region (every reader here allocates one per read), so no copy is made.
 */
export function viewBytes(source: string, dtype: DType, bytes: Uint8Array): HostData {
  if (!HOST_IS_LE) throw new InputError(source, "reading tensors needs a little-endian host");
  const size = itemSize(dtype);
  if (bytes.byteLength % size !== 0 || bytes.byteOffset % size !== 0) {
    throw new InputError(source, `internal: ${bytes.byteLength} bytes at offset ${bytes.byteOffset} do not hold whole ${dtype} items`);
  }
  const ctor = ARRAY_TYPE[dtype];
  const data = new ctor(bytes.buffer, bytes.byteOffset, bytes.byteLength / size);
  if (dtype === "bool") {
    for (let i = 0; i < data.length; i++) {
      if ((data as Uint8Array)[i] > 1) throw new InputError(source, `bool element ${i} has byte value ${(data as Uint8Array)[i]} (must be 0 or 1)`);
    }
  }
  return data;
}

/** The raw little-endian bytes of a tensor's data (a view, no copy). */
export function tensorBytes(t: HostTensor): Uint8Array {
  if (!HOST_IS_LE) throw new InputError("tensor", "writing tensors needs a little-endian host");
  return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
}

// ---- float16 / bfloat16 ----

let f16Table: Float32Array | null = null;

/** All 65536 float16 values decoded exactly (float32 represents every float16 exactly). */
function float16Table(): Float32Array {
  if (f16Table) return f16Table;
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const frac = h & 0x3ff;
    if (exp === 0) t[h] = sign * frac * 2 ** -24;
    else if (exp === 31) t[h] = frac ? NaN : sign * Infinity;
    else t[h] = sign * (1 + frac / 1024) * 2 ** (exp - 15);
  }
  f16Table = t;
  return t;
}

export function float16BitsToFloat32(bits: Uint16Array, out = new Float32Array(bits.length)): Float32Array {
  const t = float16Table();
  for (let i = 0; i < bits.length; i++) out[i] = t[bits[i]];
  return out;
}

export function bfloat16BitsToFloat32(bits: Uint16Array, out = new Float32Array(bits.length)): Float32Array {
  const u = new Uint32Array(out.buffer, out.byteOffset, out.length);
  for (let i = 0; i < bits.length; i++) u[i] = bits[i] << 16;
  return out;
}

const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

/** Rounds a number to the nearest float16 (ties to even); overflow gives ±Infinity, NaN stays NaN. */
export function float32ToFloat16Bits(x: number): number {
  scratchF32[0] = x;
  const f = scratchU32[0];
  const sign = (f >>> 16) & 0x8000;
  const exp = (f >>> 23) & 0xff;
  let mant = f & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    // Subnormal float16 (or zero): shift the full significand and round to nearest even.
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    let r = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    if (rem > half || (rem === half && (r & 1))) r++;
    return sign | r;
  }
  let r = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (r & 1))) r++; // a carry into the exponent is the correct rounding
  return sign | r;
}

/** Rounds a number to the nearest bfloat16 (ties to even); NaN stays NaN. */
export function float32ToBfloat16Bits(x: number): number {
  scratchF32[0] = x;
  const f = scratchU32[0];
  if ((f & 0x7f800000) === 0x7f800000 && (f & 0x7fffff)) return ((f >>> 16) | 0x40) & 0xffff;
  const rounded = f + 0x7fff + ((f >>> 16) & 1);
  return (rounded >>> 16) & 0xffff;
}

// ---- conversions to float ----

const INT64_EXACT = 2n ** 53n;

function int64ToNumbers(source: string, data: BigInt64Array, out: Float32Array | Float64Array): void {
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (v > INT64_EXACT || v < -INT64_EXACT) {
      throw new InputError(source, `int64 element ${i} = ${v} is beyond ±2^53 and cannot be converted exactly`);
    }
    out[i] = Number(v);
  }
}

/** Converts any tensor to float32 values (float64 rounds to nearest float32; int64 must lie within ±2^53). */
export function toFloat32(t: HostTensor, source = "tensor"): Float32Array {
  switch (t.dtype) {
    case "float32": return t.data as Float32Array;
    case "float16": return float16BitsToFloat32(t.data as Uint16Array);
    case "bfloat16": return bfloat16BitsToFloat32(t.data as Uint16Array);
    case "int64": {
      const out = new Float32Array(t.data.length);
      int64ToNumbers(source, t.data as BigInt64Array, out);
      return out;
    }
    default: return Float32Array.from(t.data as Exclude<HostData, BigInt64Array>);
  }
}

/** Converts any tensor to float64 values (exact for every dtype; int64 must lie within ±2^53). */
export function toFloat64(t: HostTensor, source = "tensor"): Float64Array {
  switch (t.dtype) {
    case "float64": return t.data as Float64Array;
    case "float16": return Float64Array.from(float16BitsToFloat32(t.data as Uint16Array));
    case "bfloat16": return Float64Array.from(bfloat16BitsToFloat32(t.data as Uint16Array));
    case "int64": {
      const out = new Float64Array(t.data.length);
      int64ToNumbers(source, t.data as BigInt64Array, out);
      return out;
    }
    default: return Float64Array.from(t.data as Exclude<HostData, BigInt64Array>);
  }
}

/** Throws an InputError naming `source` and the first element that is NaN or ±Infinity. */
export function assertFinite(source: string, data: ArrayLike<number>): void {
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (v - v !== 0) throw new InputError(source, `element ${i} is ${v} (expected finite values)`);
  }
}

/** Checks a tensor of any float dtype for NaN/Inf without converting it first (integers are always finite). */
export function assertFiniteTensor(source: string, t: HostTensor): void {
  if (t.dtype === "float32" || t.dtype === "float64") return assertFinite(source, t.data as Float32Array | Float64Array);
  if (t.dtype === "float16" || t.dtype === "bfloat16") {
    const expMask = t.dtype === "float16" ? 0x7c00 : 0x7f80;
    const bits = t.data as Uint16Array;
    for (let i = 0; i < bits.length; i++) {
      if ((bits[i] & expMask) === expMask) {
        const v = t.dtype === "float16" ? float16Table()[bits[i]] : bfloat16BitsToFloat32(bits.subarray(i, i + 1))[0];
        throw new InputError(source, `element ${i} is ${v} (expected finite values)`);
      }
    }
  }
}

/** Convenience constructor that validates: `hostTensor("float32", [2, 3], data)`. */
export function hostTensor(dtype: DType, shape: number[], data: HostData): HostTensor {
  const t = { dtype, shape: [...shape], data };
  validateHostTensor("hostTensor", t);
  return t;
}
