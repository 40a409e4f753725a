// Chooses the fastest working TensorFlow.js backend and says which one runs and why:
//   tensorflow (real @tensorflow/tfjs-node, where it installed) > wasm-blas (wasm with matmuls on the system
//   OpenBLAS through native/blas.c) > wasm (SIMD, one thread in Node) > cpu (pure JS).
// DARKMATTER_BACKEND=tensorflow|wasm-blas|wasm|cpu forces a choice.
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { loadNativeBlas, NativeBlas } from "./native";
import "./inspect-tensor";

export type BackendName = "tensorflow" | "wasm-blas" | "wasm" | "cpu";
export const BACKEND_ORDER: readonly BackendName[] = ["tensorflow", "wasm-blas", "wasm", "cpu"];

export interface BackendInfo {
  /** The backend that runs. */
  name: BackendName;
  /** The tfjs engine backend underneath ("wasm" for both wasm variants). */
  tfBackend: string;
  /** Why this one runs: what it is, and why each faster one was skipped. */
  reason: string;
  /** Every backend that could run here, fastest first. */
  available: BackendName[];
}

let active: BackendInfo | undefined;
const unavailable = new Map<BackendName, string>();

function tryLoadTensorflow(): boolean {
  if (unavailable.has("tensorflow")) return false;
  if (tf.findBackendFactory("tensorflow")) return true;
  try {
    // The real native package is an optional dependency under an alias, because danfo's override makes the name
    // @tensorflow/tfjs-node hold plain tfjs: only a registered "tensorflow" backend proves the native one loaded.
    require("tfjs-node-native");
  } catch (err) {
    const msg = (err as Error).message.split("\n")[0];
    unavailable.set("tensorflow", /Cannot find module 'tfjs-node-native'/.test(msg)
      ? "@tensorflow/tfjs-node is not installed (its install downloads libtensorflow, which needs internet)"
      : `@tensorflow/tfjs-node failed to load: ${msg}`);
    return false;
  }
  if (!tf.findBackendFactory("tensorflow")) {
    unavailable.set("tensorflow", "@tensorflow/tfjs-node loaded but registered no 'tensorflow' backend");
    return false;
  }
  return true;
}

function availability(name: BackendName): boolean {
  switch (name) {
    case "tensorflow": return tryLoadTensorflow();
    case "wasm-blas": {
      const { blas, reason } = loadNativeBlas();
      if (!blas) unavailable.set("wasm-blas", `native BLAS unavailable: ${reason}`);
      return blas !== null;
    }
    case "wasm": case "cpu": return tf.findBackendFactory(name) !== null && !unavailable.has(name);
  }
}

/** Backends that can run on this machine, fastest first (loads the optional native pieces to find out). */
export function availableBackends(): BackendName[] {
  return BACKEND_ORDER.filter(availability);
}

// ---------------------------------------------------------------------------------------------------------------
// wasm-blas: the wasm backend with BatchMatMul replaced by OpenBLAS sgemm on views of the wasm heap (no copies).

type KernelConfig = ReturnType<typeof tf.getKernel> & object;
let wasmMatMul: KernelConfig | undefined;

/** The parts of tfjs-wasm's backend object used to reach a tensor's bytes in the wasm heap. */
interface WasmBackendLike {
  wasm: { HEAPU8: Uint8Array };
  dataIdMap: { get(id: unknown): { memoryOffset: number } | undefined };
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
}

/**
 * A host view of a float32 tensor's data in the wasm heap, without a copy; undefined when the tensor is not there
 * (another backend). Valid only until the next tfjs allocation, which may grow (and so move) the heap.
 */
export function wasmHeapView(t: tf.Tensor): Float32Array | undefined {
  if (tf.getBackend() !== "wasm" || t.dtype !== "float32") return undefined;
  const backend = tf.backend() as unknown as WasmBackendLike;
  const entry = backend.dataIdMap?.get(t.dataId);
  if (!entry || !backend.wasm?.HEAPU8) return undefined;
  return new Float32Array(backend.wasm.HEAPU8.buffer, entry.memoryOffset, t.size);
}

function prod(xs: readonly number[]): number { return xs.reduce((p, x) => p * x, 1); }

function blasBatchMatMul(blas: NativeBlas, original: KernelConfig): KernelConfig["kernelFunc"] {
  return (args) => {
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const { transposeA, transposeB } = args.attrs as { transposeA: boolean; transposeB: boolean };
    const backend = args.backend as unknown as WasmBackendLike;
    if (a.dtype !== "float32" || b.dtype !== "float32" || a.shape.length < 2 || b.shape.length < 2) return original.kernelFunc(args);
    const [aRows, aCols] = a.shape.slice(-2);
    const [bRows, bCols] = b.shape.slice(-2);
    const m = transposeA ? aCols : aRows, k = transposeA ? aRows : aCols;
    const n = transposeB ? bRows : bCols, kb = transposeB ? bCols : bRows;
    if (k !== kb) throw new Error(`matMul: inner dimensions ${k} and ${kb} of shapes [${a.shape}] and [${b.shape}] differ`);
    const batchShape = tf.backend_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
    const batch = prod(batchShape), batchA = prod(a.shape.slice(0, -2)), batchB = prod(b.shape.slice(0, -2));
    // Only "same batch or a single matrix" broadcasting is mapped to BLAS calls; anything fancier is rare here.
    if ((batchA !== batch && batchA !== 1) || (batchB !== batch && batchB !== 1)) return original.kernelFunc(args);
    const out = backend.makeOutput([...batchShape, m, n], "float32");
    if (batch * m * n === 0) return out;
    const heap = backend.wasm.HEAPU8.buffer; // read after makeOutput: allocation may grow (and replace) the heap
    const offset = (t: tf.TensorInfo) => backend.dataIdMap.get(t.dataId)!.memoryOffset;
    const oa = offset(a), ob = offset(b), oc = offset(out);
    const sa = aRows * aCols, sb = bRows * bCols, sc = m * n;
    for (let i = 0; i < batch; i++) {
      const A = new Float32Array(heap, oa + (batchA === 1 ? 0 : i * sa * 4), sa);
      const B = new Float32Array(heap, ob + (batchB === 1 ? 0 : i * sb * 4), sb);
      const C = new Float32Array(heap, oc + i * sc * 4, sc);
      blas.sgemm(transposeA, transposeB, m, n, k, 1, A, aCols, B, bCols, 0, C, n);
    }
    return out;
  };
}

function setWasmMatMul(useBlas: boolean): void {
  const current = tf.getKernel("BatchMatMul", "wasm");
  if (!wasmMatMul) wasmMatMul = current;
  if (!wasmMatMul) throw new Error("the wasm backend registered no BatchMatMul kernel");
  tf.unregisterKernel("BatchMatMul", "wasm");
  const blas = loadNativeBlas().blas;
  tf.registerKernel(useBlas && blas ? { ...wasmMatMul, kernelFunc: blasBatchMatMul(blas, wasmMatMul) } : wasmMatMul);
}

// ---------------------------------------------------------------------------------------------------------------

function describe(name: BackendName): string {
  switch (name) {
    case "tensorflow": return "native TensorFlow (@tensorflow/tfjs-node)";
    case "wasm-blas": return `wasm (SIMD) with matmuls on the system OpenBLAS (${loadNativeBlas().reason})`;
    case "wasm": return "wasm (SIMD, one thread in Node)";
    case "cpu": return "pure-JavaScript cpu backend (slow)";
  }
}

/**
 * Selects and initialises a backend. Without an argument: DARKMATTER_BACKEND if set, else the fastest available.
 * Idempotent for the same choice; may be called again with another name to switch (tests do).
 */
export async function initBackend(name?: BackendName): Promise<BackendInfo> {
  const forced = name ?? (process.env.DARKMATTER_BACKEND as BackendName | undefined) ?? undefined;
  if (forced !== undefined && !BACKEND_ORDER.includes(forced)) {
    throw new Error(`DARKMATTER_BACKEND=${forced} is not a backend; choose one of ${BACKEND_ORDER.join(", ")}`);
  }
  if (active && (forced === undefined || forced === active.name)) return active;
  const available = availableBackends();
  const skipped = (upTo: BackendName) =>
    BACKEND_ORDER.slice(0, BACKEND_ORDER.indexOf(upTo)).map((b) => `${b}: ${unavailable.get(b) ?? "not chosen"}`);
  let choice: BackendName;
  if (forced !== undefined) {
    if (!available.includes(forced)) throw new Error(`backend ${forced} was requested but cannot run here: ${unavailable.get(forced)}`);
    choice = forced;
  } else {
    choice = available[0];
  }
  const tfName = choice === "wasm-blas" ? "wasm" : choice;
  if (!(await tf.setBackend(tfName))) {
    unavailable.set(choice, `tf.setBackend("${tfName}") failed`);
    if (forced !== undefined) throw new Error(`backend ${forced} failed to initialise`);
    return initBackend();
  }
  if (tfName === "wasm") setWasmMatMul(choice === "wasm-blas");
  await tf.ready();
  const why = forced !== undefined ? `forced by ${name ? "the caller" : "DARKMATTER_BACKEND"}` : "fastest available";
  const skips = forced === undefined ? skipped(choice) : [];
  active = {
    name: choice, tfBackend: tf.getBackend(), available,
    reason: `${describe(choice)}; ${why}${skips.length ? ` (skipped ${skips.join("; ")})` : ""}`,
  };
  return active;
}

/** The backend chosen by initBackend (throws if none was chosen yet). */
export function backendInfo(): BackendInfo {
  if (!active) throw new Error("no backend selected yet: call `await initBackend()` first");
  return active;
}

/** Whether matMul's transpose flags are cheap on the active backend (they are 10–40× slower on plain wasm). */
function transposeFlagsAreFast(): boolean {
  return active?.name !== "wasm";
}

function swapLast2(x: tf.Tensor): tf.Tensor {
  const r = x.rank;
  return tf.transpose(x, [...Array.from({ length: r - 2 }, (_, i) => i), r - 1, r - 2]);
}

/** a · bᵀ, using the transpose flag only where the backend does it fast. */
export function matMulNT(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  return transposeFlagsAreFast() ? tf.matMul(a, b, false, true) : tf.matMul(a, swapLast2(b));
}

/** aᵀ · b, using the transpose flag only where the backend does it fast. */
export function matMulTN(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  return transposeFlagsAreFast() ? tf.matMul(a, b, true, false) : tf.matMul(swapLast2(a), b);
}

// tfjs types customGrad's arguments as a union of tensors and the save function, hence the casts.
const matMulWithGrad = tf.customGrad(((a: tf.Tensor, b: tf.Tensor, save: tf.GradSaveFunc) => {
  save([a, b]);
  return {
    value: tf.matMul(a, b),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sa, sb] = saved;
      return [matMulNT(dy, sb), matMulTN(sa, dy)];
    },
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (a: tf.Tensor, b: tf.Tensor) => tf.Tensor;

/** a · b (rank 2, or batched with equal batch shapes) whose gradients avoid the slow transposed-matmul path on wasm. */
export function matMul<R extends tf.Rank>(a: tf.Tensor<R>, b: tf.Tensor<R>): tf.Tensor<R> {
  if (a.rank !== b.rank) throw new Error(`matMul: ranks differ (${a.rank} vs ${b.rank})`);
  return matMulWithGrad(a, b) as tf.Tensor<R>;
}

export { tf };
export { loadNativeBlas } from "./native";
export type { NativeBlas } from "./native";
