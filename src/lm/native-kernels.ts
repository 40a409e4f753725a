// The fused kernels of native/lm_kernels.c as tfjs kernels of the wasm backend: they read their inputs and write
// their outputs in the wasm heap (no copies), like the wasm-blas BatchMatMul. Only used while wasm-blas is the active
// backend; an addon built before these kernels existed simply lacks them, and then src/lm/ops.ts runs tfjs ops.
import { backendInfo, loadNativeBlas, tf } from "../backend/index";

/** The addon's LM entry points (row-major float32 views; sizes are checked natively). */
interface LmKernelFunctions {
  rmsNorm(rows: number, d: number, eps: number, x: Float32Array, w: Float32Array, y: Float32Array): void;
  swiglu(n: number, g: Float32Array, u: Float32Array, y: Float32Array): void;
  crossEntropy(rows: number, V: number, z: Float32Array, targets: Int32Array, loss: Float32Array): void;
  causalAttention(B: number, T: number, nHeads: number, nKvHeads: number, headSize: number, q: Float32Array,
    k: Float32Array, v: Float32Array, qCos: Float32Array, qSin: Float32Array, kCos: Float32Array, kSin: Float32Array,
    out: Float32Array): void;
}

/** The public methods of tfjs-wasm's backend that a kernel needs to allocate outputs and view tensors in the heap. */
interface WasmKernelBackend {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array | Int32Array;
}

/** Constant RoPE tables [T, headSize/2] of the attention kernel (q's carry the score scale). */
export interface RopeTables { qCos: Float32Array; qSin: Float32Array; kCos: Float32Array; kSin: Float32Array }

const KERNELS = {
  rmsNorm: "DarkmatterRmsNorm",
  swiglu: "DarkmatterSwiGLU",
  crossEntropy: "DarkmatterCrossEntropy",
  causalAttention: "DarkmatterCausalAttention",
} as const;

let functions: LmKernelFunctions | null | undefined;

function addonFunctions(): LmKernelFunctions | null {
  if (functions !== undefined) return functions;
  const blas = loadNativeBlas().blas as unknown as Partial<LmKernelFunctions> | null;
  const complete = blas && (Object.keys(KERNELS) as (keyof LmKernelFunctions)[]).every((k) => typeof blas[k] === "function");
  functions = complete ? (blas as LmKernelFunctions) : null;
  if (functions) register(functions);
  return functions;
}

function register(fns: LmKernelFunctions): void {
  const kernel = (kernelName: string, run: (inputs: Record<string, tf.TensorInfo>, backend: WasmKernelBackend,
    attrs: tf.NamedAttrMap) => tf.TensorInfo) => {
    // A second copy of this module in the process (e.g. a notebook kernel's) replaces the first's identical kernel.
    if (tf.getKernel(kernelName, "wasm")) tf.unregisterKernel(kernelName, "wasm");
    tf.registerKernel({
      kernelName, backendName: "wasm",
      kernelFunc: ({ inputs, backend, attrs }) =>
        run(inputs as Record<string, tf.TensorInfo>, backend as unknown as WasmKernelBackend, attrs ?? {}),
    });
  };
  // Outputs are allocated before any heap view is taken: an allocation may grow the heap and detach older views.
  const f32 = (b: WasmKernelBackend, t: tf.TensorInfo) => b.typedArrayFromHeap(t) as Float32Array;
  kernel(KERNELS.rmsNorm, ({ x, w }, b, { eps }) => {
    const [rows, d] = x.shape;
    const y = b.makeOutput([rows, d], "float32");
    fns.rmsNorm(rows, d, eps as number, f32(b, x), f32(b, w), f32(b, y));
    return y;
  });
  kernel(KERNELS.swiglu, ({ gate, up }, b) => {
    const y = b.makeOutput(gate.shape, "float32");
    fns.swiglu(tf.util.sizeFromShape(gate.shape), f32(b, gate), f32(b, up), f32(b, y));
    return y;
  });
  kernel(KERNELS.crossEntropy, ({ logits, targets }, b) => {
    const [rows, V] = logits.shape;
    const loss = b.makeOutput([rows], "float32");
    fns.crossEntropy(rows, V, f32(b, logits), b.typedArrayFromHeap(targets) as Int32Array, f32(b, loss));
    return loss;
  });
  kernel(KERNELS.causalAttention, ({ q, k, v }, b, attrs) => {
    const { batch, length, nHeads, nKvHeads } = attrs as { batch: number; length: number; nHeads: number; nKvHeads: number };
    const t = attrs.tables as unknown as RopeTables;
    const out = b.makeOutput(q.shape, "float32");
    fns.causalAttention(batch, length, nHeads, nKvHeads, q.shape[1] / nHeads, f32(b, q), f32(b, k), f32(b, v),
      t.qCos, t.qSin, t.kCos, t.kSin, f32(b, out));
    return out;
  });
}

/** True while the fused kernels can run: wasm-blas is the active backend and the addon has them. */
export function nativeKernelsActive(): boolean {
  let name: string;
  try {
    name = backendInfo().name;
  } catch {
    return false; // no backend chosen yet
  }
  return name === "wasm-blas" && tf.getBackend() === "wasm" && addonFunctions() !== null;
}

// The ops below are forward values only (callers give them gradients) and assume nativeKernelsActive().

/** x / rms(x) ⊙ w per row. */
export function nativeRmsNorm(x: tf.Tensor2D, w: tf.Tensor1D, eps: number): tf.Tensor2D {
  return tf.engine().runKernel(KERNELS.rmsNorm, { x, w }, { eps }) as tf.Tensor2D;
}

/** gate ⊙ sigmoid(gate) ⊙ up. */
export function nativeSwiglu(gate: tf.Tensor2D, up: tf.Tensor2D): tf.Tensor2D {
  return tf.engine().runKernel(KERNELS.swiglu, { gate, up }, {}) as tf.Tensor2D;
}

/** logsumexp(logits[r]) - logits[r, targets[r]] per row (targets int32, each in [0, V)). */
export function nativeCrossEntropy(logits: tf.Tensor2D, targets: tf.Tensor1D): tf.Tensor1D {
  return tf.engine().runKernel(KERNELS.crossEntropy, { logits, targets }, {}) as tf.Tensor1D;
}

/** Causal attention of batch·length rows of q [·, nHeads·hs], k and v [·, nKvHeads·hs], RoPE applied inside. */
export function nativeCausalAttention(q: tf.Tensor2D, k: tf.Tensor2D, v: tf.Tensor2D, batch: number, length: number,
  nHeads: number, nKvHeads: number, tables: RopeTables): tf.Tensor2D {
  const attrs = { batch, length, nHeads, nKvHeads, tables } as unknown as tf.NamedAttrMap;
  return tf.engine().runKernel(KERNELS.causalAttention, { q, k, v }, attrs) as tf.Tensor2D;
}
