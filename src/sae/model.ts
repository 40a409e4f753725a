// The one SAE type. Weights are held once, as tfjs tensors in the canonical SAELens orientation
// (W_enc [d_in, d_sae], W_dec [d_sae, d_in]); every foreign format is converted into it on load, with any input
// normalisation folded into the weights so that raw activations go in and come out.
import { backendInfo, tf } from "../backend/index";
import { InputError } from "../errors";
import { formatNumber, inspectSymbol } from "../inspect";
import { decodeDense, encodeDense } from "./activation";
import { decodeSparse, encodeSparse, forward, ForwardOptions, ForwardResult, SaeInput } from "./forward";
import { KernelPass } from "./kernel-pass";
import type { SparseLatents } from "./sparse";
import type { Architecture, SaeView } from "./types";

export type { Architecture } from "./types";
export const ARCHITECTURES: readonly Architecture[] = ["relu", "topk", "jumprelu", "gated"];

export type SaeFormat = "gemma-scope" | "saelens" | "sparsify" | "llama-scope" | "memory";

export interface SaeMetadata {
  /** Where the weights came from ("memory" for an SAE built in code, e.g. by training). */
  format: SaeFormat;
  path?: string;
  hookName?: string;
  layer?: number;
  /** Width promised by the path (Gemma Scope width_16k); checked against d_sae on load. */
  width?: number;
  /** Nominal average L0 from the path (Gemma Scope average_l0_58): a label, not a measurement. */
  nominalL0?: number;
  modelName?: string;
  /** How the SAE was trained when that differs from how it runs (batchtopk → jumprelu, Llama Scope topk → jumprelu). */
  trainedAs?: string;
  /** The input scale folded into the weights on load (1 when there was none). */
  inputScale: number;
  /** One line per conversion applied on load, so a user can see what was changed and why. */
  conversions: string[];
  /** Free-form training provenance (target, reference run, dataset, the foreign config …); saved with the SAE. */
  provenance: Record<string, unknown>;
}

/** A weight given as a host array (length checked against its shape) or a tensor (shape checked). */
export type WeightInput = Float32Array | tf.Tensor;

export interface SaeWeightsInput {
  W_enc: WeightInput;
  W_dec: WeightInput;
  b_dec: WeightInput;
  /** Encoder bias (relu, topk, jumprelu). */
  b_enc?: WeightInput;
  /** JumpReLU threshold: one per latent, or a single value shared by all latents. */
  threshold?: WeightInput;
  /** Gated SAE gate bias, magnitude bias and magnitude log-scale (SAELens gated). */
  b_gate?: WeightInput;
  b_mag?: WeightInput;
  r_mag?: WeightInput;
}

export interface SaeSpec {
  architecture: Architecture;
  d_in: number;
  d_sae: number;
  /** Active latents per token (topk only). */
  k?: number;
  /** Subtract b_dec from the input before encoding (SAELens apply_b_dec_to_input; sparsify always; Gemma Scope never). */
  applyBDecToInput: boolean;
  weights: SaeWeightsInput;
  metadata?: Partial<SaeMetadata>;
  /** Named in error messages (a file path, or "createSae"). */
  source?: string;
  /** Check tensor weights for NaN/Inf (default true; loaders that checked while reading pass false). */
  checkFinite?: boolean;
}

export type WeightName = keyof SaeWeightsInput;
const VECTOR_LENGTH: Record<Exclude<WeightName, "W_enc" | "W_dec">, "d_in" | "d_sae"> = {
  b_dec: "d_in", b_enc: "d_sae", threshold: "d_sae", b_gate: "d_sae", b_mag: "d_sae", r_mag: "d_sae",
};

function requiredWeights(arch: Architecture): WeightName[] {
  switch (arch) {
    case "relu": case "topk": return ["W_enc", "W_dec", "b_dec", "b_enc"];
    case "jumprelu": return ["W_enc", "W_dec", "b_dec", "b_enc", "threshold"];
    case "gated": return ["W_enc", "W_dec", "b_dec", "b_gate", "b_mag", "r_mag"];
  }
}

/** wasm32 addresses at most 4 GiB; tfjs-wasm fails (or corrupts memory) past it, so refuse up front. */
const WASM_HEAP_LIMIT = 4 * 1024 ** 3;
/** Room kept free on the wasm heap for forward-pass intermediates (the default forward budget). */
const WASM_WORKING_RESERVE = 384 * 1024 ** 2;

/**
 * Refuses to allocate `bytes` more on a backend that cannot hold them: the wasm heap is addressed with 32 bits and
 * tfjs-wasm fails (or corrupts memory) past 4 GiB. Call `initBackend()` first.
 */
export function ensureBackendCapacity(source: string, bytes: number): void {
  const info = backendInfo();
  if (info.tfBackend !== "wasm") return;
  const used = tf.memory().numBytes;
  if (used + bytes + WASM_WORKING_RESERVE > WASM_HEAP_LIMIT) {
    const gib = (b: number) => (b / 1024 ** 3).toFixed(2);
    throw new InputError(source, `the weights need ${gib(bytes)} GiB on the wasm backend, whose heap holds at most 4 GiB ` +
      `(${gib(used)} GiB already in use); use a narrower SAE, dispose other tensors, or run on the native tensorflow backend`);
  }
}

function checkDim(source: string, name: string, v: unknown): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v <= 0) throw new InputError(source, `${name} must be a positive integer, got ${JSON.stringify(v)}`);
  return v;
}

function firstNonFinite(a: Float32Array): number {
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i])) return i;
  return -1;
}

export class Sae implements SaeView {
  readonly architecture: Architecture;
  /** Input width (d_model of the hook it reads). */
  readonly d_in: number;
  /** Latents in the dictionary. */
  readonly d_sae: number;
  /** Latents kept per token (TopK); undefined for other architectures. */
  readonly k: number | undefined;
  readonly applyBDecToInput: boolean;
  readonly metadata: SaeMetadata;
  readonly W_enc: tf.Tensor2D;
  readonly W_dec: tf.Tensor2D;
  readonly b_dec: tf.Tensor1D;
  readonly b_enc: tf.Tensor1D | undefined;
  /** Per-latent JumpReLU threshold (a scalar threshold is stored expanded). */
  readonly threshold: tf.Tensor1D | undefined;
  readonly b_gate: tf.Tensor1D | undefined;
  readonly b_mag: tf.Tensor1D | undefined;
  readonly r_mag: tf.Tensor1D | undefined;
  /** max(threshold, 0): relu(pre)·1[pre > θ] = pre·1[pre > max(θ, 0)], one comparison instead of two (SAELens semantics). */
  readonly thresholdNonNegative: tf.Tensor1D | undefined;
  /** exp(r_mag) for the gated magnitude path. */
  readonly magScale: tf.Tensor1D | undefined;
  private disposed = false;

  /**
   * Validates and uploads the weights. Host arrays are copied to the backend; tensors are adopted (the SAE disposes
   * them in `dispose()`). Call `initBackend()` first.
   */
  constructor(spec: SaeSpec) {
    const source = spec.source ?? "SAE";
    if (!ARCHITECTURES.includes(spec.architecture)) {
      throw new InputError(source, `unknown architecture ${JSON.stringify(spec.architecture)} (expected one of ${ARCHITECTURES.join(", ")})`);
    }
    const arch = spec.architecture;
    const d_in = checkDim(source, "d_in", spec.d_in);
    const d_sae = checkDim(source, "d_sae", spec.d_sae);
    if (arch === "topk") {
      const k = checkDim(source, "k", spec.k);
      if (k > d_sae) throw new InputError(source, `k = ${k} exceeds d_sae = ${d_sae}`);
    } else if (spec.k !== undefined) {
      throw new InputError(source, `k is only meaningful for topk SAEs, not ${arch}`);
    }
    if (typeof spec.applyBDecToInput !== "boolean") throw new InputError(source, "applyBDecToInput must be true or false");
    const needed = requiredWeights(arch);
    const given = Object.entries(spec.weights).filter(([, w]) => w !== undefined).map(([n]) => n as WeightName);
    for (const n of needed) if (!given.includes(n)) throw new InputError(source, `${arch} SAE needs weight ${n}`);
    for (const n of given) {
      if (!needed.includes(n)) throw new InputError(source, `weight ${n} is not used by ${arch} SAEs`);
    }

    const shapeOf = (n: WeightName): number[] =>
      n === "W_enc" ? [d_in, d_sae] : n === "W_dec" ? [d_sae, d_in] : [VECTOR_LENGTH[n] === "d_in" ? d_in : d_sae];
    // Check every shape and value before allocating anything on the backend.
    let hostBytes = 0;
    for (const n of needed) {
      const w = spec.weights[n]!;
      const shape = shapeOf(n);
      const want = shape.reduce((a, b) => a * b, 1);
      const scalarOk = n === "threshold";
      if (w instanceof Float32Array) {
        if (w.length !== want && !(scalarOk && w.length === 1)) {
          throw new InputError(source, `${n} has ${w.length} values but shape [${shape.join(", ")}] needs ${want}`);
        }
        const bad = firstNonFinite(w);
        if (bad >= 0) throw new InputError(source, `${n} has a non-finite value (${w[bad]}) at flat index ${bad}`);
        hostBytes += 4 * want;
      } else if (w instanceof tf.Tensor) {
        const ok = w.shape.length === shape.length && w.shape.every((s, i) => s === shape[i]);
        const scalar = scalarOk && w.size === 1 && w.rank <= 1;
        if (!ok && !scalar) throw new InputError(source, `${n} has shape [${w.shape.join(", ")}], expected [${shape.join(", ")}]`);
        if (w.dtype !== "float32") throw new InputError(source, `${n} must be float32, got ${w.dtype}`);
        if (spec.checkFinite ?? true) {
          const nonFinite = tf.tidy(() => tf.sum(tf.cast(tf.logicalNot(tf.isFinite(w)), "int32")).dataSync()[0]);
          if (nonFinite > 0) throw new InputError(source, `${n} has ${nonFinite} non-finite values`);
        }
      } else {
        throw new InputError(source, `${n} must be a Float32Array or a tfjs tensor`);
      }
    }
    ensureBackendCapacity(source, hostBytes);
    const upload = (n: WeightName): tf.Tensor | undefined => {
      const w = spec.weights[n];
      if (w === undefined) return undefined;
      const shape = shapeOf(n);
      if (w instanceof tf.Tensor) {
        if (w.size === 1 && shape[0] !== 1) { // a scalar threshold, stored expanded
          const v = w.dataSync()[0];
          w.dispose();
          return tf.fill(shape, v);
        }
        return w;
      }
      return w.length === 1 && shape[0] !== 1 ? tf.fill(shape, w[0]) : tf.tensor(w, shape, "float32");
    };
    this.architecture = arch;
    this.d_in = d_in;
    this.d_sae = d_sae;
    this.k = arch === "topk" ? spec.k : undefined;
    this.applyBDecToInput = spec.applyBDecToInput;
    this.W_enc = upload("W_enc") as tf.Tensor2D;
    this.W_dec = upload("W_dec") as tf.Tensor2D;
    this.b_dec = upload("b_dec") as tf.Tensor1D;
    this.b_enc = upload("b_enc") as tf.Tensor1D | undefined;
    this.threshold = upload("threshold") as tf.Tensor1D | undefined;
    this.b_gate = upload("b_gate") as tf.Tensor1D | undefined;
    this.b_mag = upload("b_mag") as tf.Tensor1D | undefined;
    this.r_mag = upload("r_mag") as tf.Tensor1D | undefined;
    this.thresholdNonNegative = this.threshold ? tf.relu(this.threshold) : undefined;
    this.magScale = this.r_mag ? tf.exp(this.r_mag) : undefined;
    // Absent fields stay absent (not undefined) so metadata compares and serialises cleanly.
    const m = Object.fromEntries(Object.entries(spec.metadata ?? {}).filter(([, v]) => v !== undefined)) as Partial<SaeMetadata>;
    this.metadata = {
      ...m,
      format: m.format ?? "memory",
      inputScale: m.inputScale ?? 1,
      conversions: [...(m.conversions ?? [])],
      provenance: { ...(m.provenance ?? {}) },
    };
  }

  /** Encode, decode and measure a batch [n, d_in]; see `ForwardResult`. Memory stays bounded for any n. */
  forward(x: SaeInput, options: ForwardOptions = {}): ForwardResult {
    this.checkAlive();
    return forward(this, x, options);
  }

  /** Active latents of a batch [n, d_in] in CSR form (indices ascending within each row). */
  encode(x: SaeInput, options: ForwardOptions = {}): SparseLatents {
    this.checkAlive();
    return encodeSparse(this, x, options);
  }

  /** Reconstruction [n, d_in] (host) from sparse latents. */
  decode(latents: SparseLatents, options: ForwardOptions = {}): Float32Array {
    this.checkAlive();
    return decodeSparse(this, latents, options);
  }

  /** Dense latents f(x) [n, d_sae] as a tensor (caller disposes); for small batches and tfjs pipelines. */
  encodeDense(x: tf.Tensor2D): tf.Tensor2D {
    this.checkAlive();
    return encodeDense(this, x);
  }

  /** f · W_dec + b_dec as a tensor, differentiable in f (gradient pursuit and friends). */
  decodeDense(f: tf.Tensor2D): tf.Tensor2D {
    this.checkAlive();
    return decodeDense(this, f);
  }

  /** A host copy of one weight (undefined when the architecture has no such weight). */
  hostWeight(name: WeightName): Float32Array | undefined {
    this.checkAlive();
    const t = this[name];
    if (!t) return undefined;
    // readSync copies on every backend except cpu, which hands out its own storage: copy only there.
    const data = t.dataSync() as Float32Array;
    return tf.getBackend() === "cpu" ? data.slice() : data;
  }

  /** The weights this architecture uses, in a stable order. */
  weightNames(): WeightName[] {
    return requiredWeights(this.architecture);
  }

  /** A short description for printing: sizes, k or threshold statistics, and the metadata. */
  summary(): Record<string, unknown> {
    this.checkAlive();
    const out: Record<string, unknown> = {
      format: this.metadata.format, architecture: this.architecture, d_in: this.d_in, d_sae: this.d_sae,
      apply_b_dec_to_input: this.applyBDecToInput,
    };
    if (this.k !== undefined) out.k = this.k;
    if (this.threshold) out.threshold = summarizeThreshold(this.threshold.dataSync() as Float32Array);
    const { format: _f, ...rest } = this.metadata;
    out.metadata = rest;
    return out;
  }

  /** A few lines for a notebook cell's printed value (util.inspect); `dm.viz.show(sae)` renders more. */
  [inspectSymbol](): string {
    if (this.disposed) return "Sae (disposed)";
    const m = this.metadata;
    const act = this.k !== undefined ? `k ${this.k}` : this.threshold ? "threshold " + Object.entries(summarizeThreshold(this.threshold.dataSync() as Float32Array))
      .map(([k, v]) => `${k} ${formatNumber(v, 3)}`).join(" / ") : this.architecture;
    const lines = [`Sae ${this.architecture} ${this.d_in} → ${this.d_sae} (${act}), format ${m.format}${m.hookName ? `, hook ${m.hookName}` : ""}`];
    if (m.path) lines.push(`  path: ${m.path}`);
    if (m.trainedAs) lines.push(`  trained as ${m.trainedAs}`);
    if (m.conversions.length) lines.push(`  on load: ${m.conversions.length > 1 ? `${m.conversions.length} conversions, first: ` : ""}${m.conversions[0]}`);
    return lines.join("\n");
  }

  /** Frees the backend memory of every weight. The SAE cannot be used afterwards. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    KernelPass.forget(this);
    for (const t of [this.W_enc, this.W_dec, this.b_dec, this.b_enc, this.threshold, this.b_gate, this.b_mag, this.r_mag,
      this.thresholdNonNegative, this.magScale]) t?.dispose();
  }

  private checkAlive(): void {
    if (this.disposed) throw new Error("this SAE was disposed");
  }
}

/** Scalar when every value is equal (Llama Scope's single threshold), otherwise min / median / max. */
export function summarizeThreshold(v: Float32Array): Record<string, number> {
  let lo = Infinity, hi = -Infinity;
  for (let i = 0; i < v.length; i++) { lo = Math.min(lo, v[i]); hi = Math.max(hi, v[i]); }
  if (lo === hi) return { scalar: lo };
  const sorted = Float32Array.from(v).sort();
  return { min: lo, median: sorted[sorted.length >> 1], max: hi };
}
