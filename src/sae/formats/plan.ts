// Loading in two steps. A format reads its config and tensor headers into a plan: the architecture, sizes and
// metadata, and for each canonical weight where its values are and how to convert them (transpose, exp, folded
// scales). Every shape is checked against the config while planning, before any weight data is read. The plan is
// then either described (inspect: no large reads) or materialised one weight at a time, so at most one host copy
// of a large matrix exists while the backend copy is made.
import { constants as bufferConstants } from "buffer";
import * as fs from "fs";
import { tf } from "../../backend/index";
import { InputError } from "../../errors";
import { openTensorFile, TensorEntry, TensorFile } from "../../io/index";
import { Architecture, Sae, SaeMetadata, WeightName, ensureBackendCapacity } from "../model";

/** Where one canonical weight comes from and what to do to it. */
export interface WeightPlan {
  /** A stored tensor ... */
  file?: TensorFile;
  tensor?: string;
  /** ... stored as the transpose of the canonical orientation (sparsify, Llama Scope encoders/decoders). */
  transposed?: boolean;
  /** ... or one number from a config, shared by every latent (Llama Scope's threshold). */
  constant?: number;
  /** Stored as a log (SAELens JumpReLU training checkpoints keep log_threshold). */
  exp?: boolean;
  /** Multiply every value (input-normalisation folding). */
  scale?: number;
  /** Multiply row i by rowScale[i] (SAELens finetuning scaling factor folded into W_dec). */
  rowScale?: { file: TensorFile; tensor: string };
}

export interface SaePlan {
  architecture: Architecture;
  d_in: number;
  d_sae: number;
  k?: number;
  applyBDecToInput: boolean;
  metadata: Partial<SaeMetadata> & { format: SaeMetadata["format"]; path: string };
  weights: Partial<Record<WeightName, WeightPlan>>;
  /** Every file the plan reads from (closed by `closePlan`). */
  files: TensorFile[];
}

export function closePlan(plan: SaePlan): void {
  for (const f of plan.files) f.close();
}

// ---------------------------------------------------------------------------------------------------------------
// Config files

export function readJsonObject(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    throw new InputError(file, `cannot read: ${(e as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new InputError(file, `is not valid JSON: ${(e as Error).message}`);
  }
  if (!isObject(value)) throw new InputError(file, "must hold a JSON object");
  return value;
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** A positive integer config field (undefined when absent and optional). */
export function intField(cfg: Record<string, unknown>, key: string, source: string, optional: true): number | undefined;
export function intField(cfg: Record<string, unknown>, key: string, source: string, optional?: false): number;
export function intField(cfg: Record<string, unknown>, key: string, source: string, optional = false): number | undefined {
  const v = cfg[key];
  if (v === undefined || v === null) {
    if (optional) return undefined;
    throw new InputError(source, `missing field "${key}"`);
  }
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) throw new InputError(source, `field "${key}" must be a non-negative integer, got ${JSON.stringify(v)}`);
  return v;
}

export function numberField(cfg: Record<string, unknown>, key: string, source: string, optional: true): number | undefined;
export function numberField(cfg: Record<string, unknown>, key: string, source: string, optional?: false): number;
export function numberField(cfg: Record<string, unknown>, key: string, source: string, optional = false): number | undefined {
  const v = cfg[key];
  if (v === undefined || v === null) {
    if (optional) return undefined;
    throw new InputError(source, `missing field "${key}"`);
  }
  if (typeof v !== "number" || !Number.isFinite(v)) throw new InputError(source, `field "${key}" must be a finite number, got ${JSON.stringify(v)}`);
  return v;
}

export function boolField(cfg: Record<string, unknown>, key: string, source: string, fallback: boolean): boolean {
  const v = cfg[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== "boolean") throw new InputError(source, `field "${key}" must be true or false, got ${JSON.stringify(v)}`);
  return v;
}

export function stringField(cfg: Record<string, unknown>, key: string, source: string): string | undefined {
  const v = cfg[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") throw new InputError(source, `field "${key}" must be a string, got ${JSON.stringify(v)}`);
  return v;
}

// ---------------------------------------------------------------------------------------------------------------
// Tensor files

/** Opens a weights file with NaN/Inf rejection on every read. */
export function openWeights(file: string): TensorFile {
  if (!fs.existsSync(file)) throw new InputError(file, "is missing");
  return openTensorFile(file, { checkFinite: true });
}

export function entryOf(file: TensorFile, names: readonly string[]): TensorEntry | undefined {
  for (const n of names) {
    const e = file.entries.find((x) => x.name === n);
    if (e) return e;
  }
  return undefined;
}

export function requireEntry(file: TensorFile, names: readonly string[]): TensorEntry {
  const e = entryOf(file, names);
  if (!e) {
    const have = file.entries.map((x) => x.name).join(", ") || "none";
    throw new InputError(file.path, `has no tensor ${names.map((n) => JSON.stringify(n)).join(" or ")} (has ${have})`);
  }
  return e;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** Plans a stored tensor after checking its dtype is float and its shape is `stored`. */
export function tensorPlan(file: TensorFile, entry: TensorEntry, stored: number[], extra: Omit<WeightPlan, "file" | "tensor"> = {}): WeightPlan {
  if (!["float32", "float64", "float16", "bfloat16"].includes(entry.dtype)) {
    throw new InputError(file.path, `tensor "${entry.name}" has dtype ${entry.dtype}; SAE weights must be floating point`);
  }
  if (!sameShape(entry.shape, stored)) {
    throw new InputError(file.path, `tensor "${entry.name}" has shape [${entry.shape.join(", ")}], expected [${stored.join(", ")}]`);
  }
  return { file, tensor: entry.name, ...extra };
}

/** A scalar stored as shape [] or [1]. */
export function scalarPlan(file: TensorFile, entry: TensorEntry): WeightPlan {
  if (entry.shape.reduce((a, b) => a * b, 1) !== 1 || entry.shape.length > 1) {
    throw new InputError(file.path, `tensor "${entry.name}" must be a scalar, has shape [${entry.shape.join(", ")}]`);
  }
  return tensorPlan(file, entry, [...entry.shape]);
}

// ---------------------------------------------------------------------------------------------------------------
// Materialising

/** Rows per block when transposing on read: blocks of ~16 MiB keep both sides cache- and memory-friendly. */
function transposeBlockRows(cols: number): number {
  return Math.max(1, Math.min(4096, Math.floor((16 * 1024 ** 2) / (4 * cols))));
}

/** The values of one planned weight in canonical orientation (host, float32). */
export function readPlannedWeight(w: WeightPlan): Float32Array {
  let out: Float32Array;
  if (w.constant !== undefined) {
    out = Float32Array.of(w.constant);
  } else {
    const file = w.file!, name = w.tensor!;
    const entry = file.entries.find((e) => e.name === name)!;
    if (w.transposed) {
      // Stored [a, b], wanted [b, a]: read blocks of stored rows and scatter each block's columns.
      const [a, b] = entry.shape;
      out = new Float32Array(a * b);
      const block = transposeBlockRows(b);
      for (let r0 = 0; r0 < a; r0 += block) {
        const m = Math.min(block, a - r0);
        const rows = file.readRowsFloat32(name, r0, m);
        for (let j = 0; j < b; j++) {
          const o = j * a + r0;
          for (let i = 0; i < m; i++) out[o + i] = rows[i * b + j];
        }
      }
    } else {
      out = file.readFloat32(name);
    }
  }
  const scaled = w.scale !== undefined && w.scale !== 1;
  if (w.exp) for (let i = 0; i < out.length; i++) out[i] = Math.exp(out[i]);
  if (scaled) for (let i = 0; i < out.length; i++) out[i] *= w.scale!;
  if (w.rowScale) {
    const s = w.rowScale.file.readFloat32(w.rowScale.tensor);
    const cols = out.length / s.length;
    for (let i = 0; i < s.length; i++) for (let j = 0, o = i * cols; j < cols; j++) out[o + j] *= s[i];
  }
  // Stored values were checked while reading; a conversion can still overflow.
  if (w.exp || scaled || w.rowScale || w.constant !== undefined) {
    for (let i = 0; i < out.length; i++) {
      if (!Number.isFinite(out[i])) {
        throw new InputError(w.file?.path ?? "config", `${w.tensor ?? "constant"} becomes non-finite (${out[i]}) after conversion at flat index ${i}`);
      }
    }
  }
  return out;
}

/** Builds the SAE: each weight is read, converted and moved to the backend before the next is read. */
export function materialize(plan: SaePlan): Sae {
  const names = Object.keys(plan.weights) as WeightName[];
  const matrixBytes = 4 * plan.d_in * plan.d_sae;
  if (matrixBytes > bufferConstants.MAX_LENGTH) {
    throw new InputError(plan.metadata.path, `each weight matrix needs ${(matrixBytes / 1024 ** 3).toFixed(1)} GiB as float32, ` +
      `more than the largest array this runtime holds (${(bufferConstants.MAX_LENGTH / 1024 ** 3).toFixed(0)} GiB)`);
  }
  const bytes = 2 * matrixBytes + 4 * (6 * plan.d_sae + plan.d_in);
  ensureBackendCapacity(plan.metadata.path, bytes);
  const tensors: Partial<Record<WeightName, tf.Tensor>> = {};
  try {
    for (const n of names) {
      const values = readPlannedWeight(plan.weights[n]!);
      const shape = n === "W_enc" ? [plan.d_in, plan.d_sae] : n === "W_dec" ? [plan.d_sae, plan.d_in] : [values.length];
      if (values.length !== shape.reduce((a, b) => a * b, 1)) {
        throw new InputError(plan.metadata.path, `${n} has ${values.length} values, expected shape [${shape.join(", ")}]`);
      }
      tensors[n] = tf.tensor(values, shape, "float32");
    }
    return new Sae({
      architecture: plan.architecture, d_in: plan.d_in, d_sae: plan.d_sae, k: plan.k,
      applyBDecToInput: plan.applyBDecToInput, weights: tensors as Record<WeightName, tf.Tensor> & { W_enc: tf.Tensor; W_dec: tf.Tensor; b_dec: tf.Tensor },
      metadata: plan.metadata, source: plan.metadata.path, checkFinite: false,
    });
  } catch (e) {
    for (const t of Object.values(tensors)) t?.dispose();
    throw e;
  }
}
