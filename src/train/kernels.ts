// The sparse parts of a TopK SAE step as WebAssembly SIMD kernels, assembled here from bytes (no toolchain needed).
//
// Why: per token only k latents are active, so decoding and the decoder/encoder gradients are k-row gathers and
// scatter-adds (B·k·d multiply-adds, ~130× less work than the dense products). Plain JS runs them at ~0.4 GFLOP/s
// (slower than dense BLAS doing 130× the work); the same loops as f32x4 SIMD called once per (token, latent) pair
// are ~10× faster than either. Measured on one step with d = 256, 4096 latents, batch 4096, k = 32:
// decode 92 ms JS / 66 ms dense sgemm / 11 ms here; the three backward products 378 ms JS / ~245 ms sgemm / 33 ms here.
// TopK selection likewise: a JS heap offered every entry took ~100 ms; one SIMD pass per row that collects the few
// entries above a sampled cut-off, then a heap over those, ~30 ms (2-core machine shared with other jobs: noisy);
// a quickselect over those instead of the heap is ~13% faster again.
//
// Every array the kernels touch lives in one WebAssembly.Memory handed out by `KernelArena`; kernels take byte
// offsets into it. The arena is sized once and never grows, so typed-array views into it stay valid (and the native
// BLAS can work on those views directly, as the wasm-blas backend does with the tfjs heap).

const I32 = 0x7f, F32 = 0x7d, V128 = 0x7b;
type Bytes = number[];

function uleb(n: number): Bytes {
  const out: Bytes = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

function sleb(n: number): Bytes {
  const out: Bytes = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) return [...out, b];
    out.push(b | 0x80);
  }
}

const name = (s: string): Bytes => [...uleb(s.length), ...Array.from(Buffer.from(s, "ascii"))];
const vec = (items: Bytes[]): Bytes => [...uleb(items.length), ...items.flat()];
const section = (id: number, body: Bytes): Bytes => [id, ...uleb(body.length), ...body];
const simd = (opcode: number): Bytes => [0xfd, ...uleb(opcode)];

// The instructions the kernels use (WebAssembly core + fixed-width SIMD opcodes).
const get = (i: number): Bytes => [0x20, ...uleb(i)];
const set = (i: number): Bytes => [0x21, ...uleb(i)];
const i32 = (v: number): Bytes => [0x41, ...sleb(v)];
const f32zero: Bytes = [0x43, 0, 0, 0, 0];
const op = {
  i32add: [0x6a], i32sub: [0x6b], i32and: [0x71], i32shl: [0x74], i32shrU: [0x76], i32geU: [0x4f],
  f32add: [0x92], f32sub: [0x93], f32mul: [0x94], f32div: [0x95], f32sqrt: [0x91],
  f32load: [0x2a, 2, 0], f32store: [0x38, 2, 0], i32store: [0x36, 2, 0], f32gt: [0x5e],
  tee: (i: number): Bytes => [0x22, ...uleb(i)], if: [0x04, 0x40], ret: [0x0f],
  vload: [...simd(0x00), 4, 0], vstore: [...simd(0x0b), 4, 0],
  splat: simd(0x13), lane: (l: number): Bytes => [...simd(0x1f), l],
  vgt: simd(0x44), anyTrue: simd(0x53), bitmask: simd(0xa4),
  vsqrt: simd(0xe3), vadd: simd(0xe4), vsub: simd(0xe5), vmul: simd(0xe6), vdiv: simd(0xe7),
  block: [0x02, 0x40], loop: [0x03, 0x40], end: [0x0b], br: (d: number): Bytes => [0x0c, d], brIf: (d: number): Bytes => [0x0d, d],
};

interface Func { exportName: string; params: number[]; results: number[]; locals: number[]; body: Bytes[] }

/** `while (ptr < end) { body; ptr += step … }`: a loop that exits when local `ptr` reaches local `end`. */
function loopUntil(ptr: number, end: number, body: Bytes[]): Bytes[] {
  return [op.block, op.loop, get(ptr), get(end), op.i32geU, op.brIf(1), ...body, op.br(0), op.end, op.end];
}
const advance = (local: number, bytes: number): Bytes => [...get(local), ...i32(bytes), ...op.i32add, ...set(local)];
/** local `dst` = local `base` + (local `count` masked to a multiple of 4 when `whole4`) · 4 bytes. */
function endOf(dst: number, base: number, count: number, whole4: boolean): Bytes[] {
  return [get(base), get(count), whole4 ? [...i32(~3), ...op.i32and] : [], i32(2), op.i32shl, op.i32add, set(dst)];
}

// dot(a, b, n) → Σ a[i]·b[i] (f32x4 partial sums, then a scalar tail).
const dot: Func = {
  exportName: "dot", params: [I32, I32, I32], results: [F32], locals: [I32, I32, V128, F32],
  // locals: 3 end4, 4 end, 5 acc, 6 s
  body: [
    ...endOf(3, 0, 2, true), ...endOf(4, 0, 2, false), f32zero, op.splat, set(5),
    ...loopUntil(0, 3, [get(5), get(0), op.vload, get(1), op.vload, op.vmul, op.vadd, set(5), advance(0, 16), advance(1, 16)]),
    get(5), op.lane(0), get(5), op.lane(1), op.f32add, get(5), op.lane(2), get(5), op.lane(3), op.f32add, op.f32add, set(6),
    ...loopUntil(0, 4, [get(6), get(0), op.f32load, get(1), op.f32load, op.f32mul, op.f32add, set(6), advance(0, 4), advance(1, 4)]),
    get(6),
  ],
};

// axpy(alpha, x, y, n): y[i] += alpha·x[i].
const axpy: Func = {
  exportName: "axpy", params: [F32, I32, I32, I32], results: [], locals: [I32, I32, V128],
  // locals: 4 end4, 5 end, 6 alpha×4
  body: [
    ...endOf(4, 1, 3, true), ...endOf(5, 1, 3, false), get(0), op.splat, set(6),
    ...loopUntil(1, 4, [get(2), get(2), op.vload, get(6), get(1), op.vload, op.vmul, op.vadd, op.vstore, advance(1, 16), advance(2, 16)]),
    ...loopUntil(1, 5, [get(2), get(2), op.f32load, get(0), get(1), op.f32load, op.f32mul, op.f32add, op.f32store, advance(1, 4), advance(2, 4)]),
  ],
};

// dotAxpy(alpha, x, y, w, n) → Σ x[i]·w[i], while y[i] += alpha·x[i]: the decoder backward of one (token, latent)
// pair reads the token's output gradient x once for both.
const dotAxpy: Func = {
  exportName: "dotAxpy", params: [F32, I32, I32, I32, I32], results: [F32], locals: [I32, I32, V128, V128, V128, F32],
  // locals: 5 end4, 6 end, 7 alpha×4, 8 acc, 9 x group, 10 s
  body: [
    ...endOf(5, 1, 4, true), ...endOf(6, 1, 4, false), get(0), op.splat, set(7), f32zero, op.splat, set(8),
    ...loopUntil(1, 5, [
      get(1), op.vload, set(9),
      get(8), get(9), get(3), op.vload, op.vmul, op.vadd, set(8),
      get(2), get(2), op.vload, get(7), get(9), op.vmul, op.vadd, op.vstore,
      advance(1, 16), advance(2, 16), advance(3, 16),
    ]),
    get(8), op.lane(0), get(8), op.lane(1), op.f32add, get(8), op.lane(2), get(8), op.lane(3), op.f32add, op.f32add, set(10),
    ...loopUntil(1, 6, [
      get(10), get(1), op.f32load, get(3), op.f32load, op.f32mul, op.f32add, set(10),
      get(2), get(2), op.f32load, get(0), get(1), op.f32load, op.f32mul, op.f32add, op.f32store,
      advance(1, 4), advance(2, 4), advance(3, 4),
    ]),
    get(10),
  ],
};

// scal(alpha, x, n): x[i] *= alpha.
const scal: Func = {
  exportName: "scal", params: [F32, I32, I32], results: [], locals: [I32, I32, V128],
  // locals: 3 end4, 4 end, 5 alpha×4
  body: [
    ...endOf(3, 1, 2, true), ...endOf(4, 1, 2, false), get(0), op.splat, set(5),
    ...loopUntil(1, 3, [get(1), get(1), op.vload, get(5), op.vmul, op.vstore, advance(1, 16)]),
    ...loopUntil(1, 4, [get(1), get(1), op.f32load, get(0), op.f32mul, op.f32store, advance(1, 4)]),
  ],
};

// collectAbove(p, q, n, thr, outIdx, outVal, cap) → count: writes the index i and value p[i] + q[i] of every entry
// with p[i] + q[i] > thr (n a multiple of 4), in index order, to the int32/f32 arrays at outIdx/outVal; stops once
// `cap` entries are written (then returns cap). Selection calls it once per row with a threshold that lets through a
// few times k entries, instead of offering every entry to a heap.
const collectAbove: Func = {
  exportName: "collectAbove", params: [I32, I32, I32, F32, I32, I32, I32], results: [I32], locals: [I32, I32, V128, V128, I32, F32],
  // locals: 7 start, 8 end, 9 thr×4, 10 v, 11 count, 12 lane value
  body: [
    get(0), set(7), ...endOf(8, 0, 2, false), get(3), op.splat, set(9), i32(0), set(11),
    ...loopUntil(0, 8, [
      get(0), op.vload, get(1), op.vload, op.vadd, op.tee(10), get(9), op.vgt, op.anyTrue, op.if,
      ...[0, 1, 2, 3].flatMap((l) => [
        get(10), op.lane(l), op.tee(12), get(3), op.f32gt, op.if,
        get(4), get(11), i32(2), op.i32shl, op.i32add, get(0), get(7), op.i32sub, i32(2), op.i32shrU, i32(l), op.i32add, op.i32store,
        get(5), get(11), i32(2), op.i32shl, op.i32add, get(12), op.f32store,
        get(11), i32(1), op.i32add, op.tee(11), get(6), op.i32geU, op.if, get(11), op.ret, op.end,
        op.end,
      ]),
      op.end,
      advance(0, 16), advance(1, 16),
    ]),
    get(11),
  ],
};

// collectAboveEach(p, q, t, n, outIdx, outVal, cap) → count: like collectAbove, but each entry has its own threshold:
// entry i passes when p[i] + q[i] > t[i] (the exact float32 comparison, so a JumpReLU threshold is honoured to the bit).
const collectAboveEach: Func = {
  exportName: "collectAboveEach", params: [I32, I32, I32, I32, I32, I32, I32], results: [I32], locals: [I32, I32, V128, I32, I32],
  // locals: 7 start, 8 end, 9 v, 10 count, 11 lane mask
  body: [
    get(0), set(7), ...endOf(8, 0, 3, false), i32(0), set(10),
    ...loopUntil(0, 8, [
      get(0), op.vload, get(1), op.vload, op.vadd, op.tee(9), get(2), op.vload, op.vgt, op.bitmask, op.tee(11), op.if,
      ...[0, 1, 2, 3].flatMap((l) => [
        get(11), i32(1 << l), op.i32and, op.if,
        get(4), get(10), i32(2), op.i32shl, op.i32add, get(0), get(7), op.i32sub, i32(2), op.i32shrU, i32(l), op.i32add, op.i32store,
        get(5), get(10), i32(2), op.i32shl, op.i32add, get(9), op.lane(l), op.f32store,
        get(10), i32(1), op.i32add, op.tee(10), get(6), op.i32geU, op.if, get(10), op.ret, op.end,
        op.end,
      ]),
      op.end,
      advance(0, 16), advance(1, 16), advance(2, 16),
    ]),
    get(10),
  ],
};

// adam(p, g, m, v, n, gscale, b1, c1, b2, c2, step, invSqrtBc2, eps) over n floats (a multiple of 4), torch's update:
//   g' = gscale·g;  m = b1·m + c1·g';  v = b2·v + c2·g'²;  p −= step · m / (√v · invSqrtBc2 + eps)
// with c = 1 − b and step = lr / (1 − b1^t), invSqrtBc2 = 1/√(1 − b2^t). gscale applies gradient clipping.
const adam: Func = {
  exportName: "adam",
  params: [I32, I32, I32, I32, I32, F32, F32, F32, F32, F32, F32, F32, F32],
  results: [], locals: [I32, V128, V128, V128, V128, V128, V128, V128, V128, V128, V128, V128],
  // locals: 13 end; 14..21 splats of gscale,b1,c1,b2,c2,step,invSqrtBc2,eps; 22 g', 23 m, 24 v
  body: [
    ...endOf(13, 0, 4, false),
    ...[5, 6, 7, 8, 9, 10, 11, 12].flatMap((param, i) => [get(param), op.splat, set(14 + i)]),
    ...loopUntil(0, 13, [
      get(1), op.vload, get(14), op.vmul, set(22),
      get(2), op.vload, get(15), op.vmul, get(22), get(16), op.vmul, op.vadd, set(23),
      get(3), op.vload, get(17), op.vmul, get(22), get(22), op.vmul, get(18), op.vmul, op.vadd, set(24),
      get(2), get(23), op.vstore, get(3), get(24), op.vstore,
      get(0), get(0), op.vload, get(19), get(23), op.vmul, get(24), op.vsqrt, get(20), op.vmul, get(21), op.vadd, op.vdiv, op.vsub, op.vstore,
      advance(0, 16), advance(1, 16), advance(2, 16), advance(3, 16),
    ]),
  ],
};

const FUNCS = [dot, axpy, dotAxpy, scal, collectAbove, collectAboveEach, adam];

function assemble(funcs: Func[]): Uint8Array {
  const types = funcs.map((f) => [0x60, ...vec(f.params.map((t) => [t])), ...vec(f.results.map((t) => [t]))]);
  const memoryImport = [...name("env"), ...name("memory"), 0x02, 0x00, ...uleb(1)];
  const code = funcs.map((f) => {
    const body = [...vec(f.locals.map((t) => [1, t])), ...f.body.flat(), 0x0b];
    return [...uleb(body.length), ...body];
  });
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec(types)),
    ...section(2, vec([memoryImport])),
    ...section(3, vec(funcs.map((_, i) => uleb(i)))),
    ...section(7, vec(funcs.map((f, i) => [...name(f.exportName), 0x00, ...uleb(i)]))),
    ...section(10, vec(code)),
  ]);
}

// The slice of the WebAssembly JS API used here (the project's TypeScript libs do not declare it).
/** The wasm heap the kernels work in (what a KernelArena allocates from). */
export interface WasmMemory { readonly buffer: ArrayBuffer }
interface WasmApi {
  Memory: new (descriptor: { initial: number }) => WasmMemory;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: object };
}
const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

let compiled: object | undefined;
function kernelModule(): object {
  if (!compiled) compiled = new wasm.Module(assemble(FUNCS));
  return compiled;
}

/** The kernels bound to one memory. All pointers are byte offsets into `memory`; lengths count floats. */
export interface Kernels {
  dot(a: number, b: number, n: number): number;
  axpy(alpha: number, x: number, y: number, n: number): void;
  dotAxpy(alpha: number, x: number, y: number, w: number, n: number): number;
  scal(alpha: number, x: number, n: number): void;
  collectAbove(p: number, q: number, n: number, thr: number, outIdx: number, outVal: number, cap: number): number;
  collectAboveEach(p: number, q: number, t: number, n: number, outIdx: number, outVal: number, cap: number): number;
  adam(p: number, g: number, m: number, v: number, n: number, gscale: number, b1: number, c1: number, b2: number,
    c2: number, step: number, invSqrtBc2: number, eps: number): void;
}

const PAGE = 65536;
/** Largest arena: wasm32 memories stop at 4 GiB; stay below it with room for rounding. */
export const MAX_ARENA_BYTES = 4 * 1024 ** 3 - 16 * PAGE;

/**
 * One fixed-size WebAssembly memory with a bump allocator of 16-byte-aligned float arrays, and the kernels bound to it.
 * Plan sizes with `KernelArena.bytesFor` first, so a too-large request fails before anything is allocated.
 */
export class KernelArena {
  readonly memory: WasmMemory;
  readonly k: Kernels;
  private used = 0;

  /** Bytes needed for arrays of these float counts (each rounded up to 16 bytes). */
  static bytesFor(floatCounts: number[]): number {
    return floatCounts.reduce((s, n) => s + Math.ceil(n / 4) * 16, 0);
  }

  constructor(readonly bytes: number) {
    if (!(bytes >= 0 && bytes <= MAX_ARENA_BYTES)) {
      throw new RangeError(`kernel arena of ${bytes} bytes exceeds the wasm32 limit of ${MAX_ARENA_BYTES} bytes`);
    }
    this.memory = new wasm.Memory({ initial: Math.max(1, Math.ceil(bytes / PAGE)) });
    const instance = new wasm.Instance(kernelModule(), { env: { memory: this.memory } });
    this.k = instance.exports as unknown as Kernels;
  }

  /** A zeroed float array of length n inside the arena; its byteOffset is what the kernels take. */
  floats(n: number): Float32Array {
    return new Float32Array(this.memory.buffer, this.take(n), n);
  }

  /** A zeroed int32 array of length n inside the arena (counts as n floats in `bytesFor`). */
  ints(n: number): Int32Array {
    return new Int32Array(this.memory.buffer, this.take(n), n);
  }

  /**
   * Hands the whole arena out again, zeroed (reusing memory whose pages are already mapped is much cheaper than a
   * fresh WebAssembly.Memory). Every array taken before aliases the new ones and must no longer be used.
   */
  reset(): void {
    new Uint8Array(this.memory.buffer, 0, this.used).fill(0);
    this.used = 0;
  }

  private take(n: number): number {
    const bytes = Math.ceil(n / 4) * 16;
    if (this.used + bytes > this.bytes) throw new RangeError(`kernel arena overflow: ${this.used} + ${bytes} > ${this.bytes} bytes`);
    const offset = this.used;
    this.used += bytes;
    return offset;
  }
}
