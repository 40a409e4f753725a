// Shared pieces of the SAE tests: fixture locations, the float64 references written by make_fixtures.py, and
// tiny hand-made SAEs.
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { openTensorFile } from "../../src/io/index";
import { Architecture, Sae, SaeWeightsInput } from "../../src/sae/index";

export const FIXTURES = path.resolve(__dirname, "..", "fixtures", "sae");

export interface Fixture {
  /** Name of reference/<name>.npz. */
  name: string;
  /** Path handed to loadSae, relative to FIXTURES. */
  path: string;
  format: string;
  architecture: Architecture;
  options?: { normScalingFactor?: number };
}

export const FIXTURE_LIST: Fixture[] = [
  { name: "gemma-scope", path: "gemma-scope-2b-pt-res/layer_3/width_1k/average_l0_12", format: "gemma-scope", architecture: "jumprelu" },
  { name: "gemma-scope-lowercase", path: "gemma-scope-lowercase/params.npz", format: "gemma-scope", architecture: "jumprelu" },
  { name: "saelens-v6-jumprelu", path: "saelens-v6-jumprelu", format: "saelens", architecture: "jumprelu" },
  { name: "saelens-v6-topk-f16", path: "saelens-v6-topk-f16/sae_weights.safetensors", format: "saelens", architecture: "topk" },
  { name: "saelens-pre6-topk", path: "saelens-pre6-topk/cfg.json", format: "saelens", architecture: "topk" },
  { name: "saelens-pre6-relu-norm", path: "saelens-pre6-relu-norm", format: "saelens", architecture: "relu", options: { normScalingFactor: 1.7 } },
  { name: "saelens-v6-gated", path: "saelens-v6-gated", format: "saelens", architecture: "gated" },
  { name: "saelens-v6-batchtopk", path: "saelens-v6-batchtopk", format: "saelens", architecture: "jumprelu" },
  { name: "sparsify", path: "sparsify-run", format: "sparsify", architecture: "topk" },
  { name: "llama-scope", path: "Llama3_1-8B-Base-L3R-8x", format: "llama-scope", architecture: "jumprelu" },
];

export interface Reference {
  x: Float32Array;
  rows: number;
  d_in: number;
  d_sae: number;
  f: Float32Array;
  recon: Float64Array;
  l0: Int32Array;
  fvu: number;
}

export function loadReference(name: string): Reference {
  const file = openTensorFile(path.join(FIXTURES, "reference", `${name}.npz`));
  try {
    const x = file.read("x"), f = file.read("f");
    return {
      x: x.data as Float32Array, rows: x.shape[0], d_in: x.shape[1], d_sae: f.shape[1], f: f.data as Float32Array,
      recon: file.read("recon").data as Float64Array, l0: file.read("l0").data as Int32Array,
      fvu: (file.read("fvu").data as Float64Array)[0],
    };
  } finally {
    file.close();
  }
}

/** max |a − b| / max(1, max |b|): relative to the scale of the reference. */
export function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  assert.equal(actual.length, expected.length, "lengths differ");
  let worst = 0, scale = 1;
  for (let i = 0; i < expected.length; i++) {
    worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  return worst / scale;
}

export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what: string): void {
  const err = relativeError(actual, expected);
  assert.ok(err <= tol, `${what}: relative error ${err} > ${tol}`);
}

let tempRoot: string | undefined;
/** A fresh temporary folder; all of them are removed at process exit. */
export function tempDir(prefix: string): string {
  if (!tempRoot) {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "dm-sae-"));
    process.on("exit", () => fs.rmSync(root, { recursive: true, force: true }));
    tempRoot = root;
  }
  return fs.mkdtempSync(path.join(tempRoot, `${prefix}-`));
}

/** Copies a fixture folder into a temp folder so a test can break it. */
export function copyFixture(rel: string): string {
  const dir = tempDir("copy");
  const target = path.join(dir, path.basename(rel));
  fs.cpSync(path.join(FIXTURES, rel), target, { recursive: true });
  return target;
}

/** Identity-like SAE over n latents: W_enc = W_dec = I, so pre = x (+ biases) and x̂ = f + b_dec. */
export function identitySae(architecture: Architecture, n: number, extra: Partial<SaeWeightsInput> & { k?: number; applyBDecToInput?: boolean } = {}): Sae {
  const eye = new Float32Array(n * n);
  for (let i = 0; i < n; i++) eye[i * n + i] = 1;
  const { k, applyBDecToInput, ...weights } = extra;
  const base: SaeWeightsInput = { W_enc: eye, W_dec: eye.slice(), b_dec: new Float32Array(n) };
  if (architecture !== "gated") base.b_enc = new Float32Array(n);
  return new Sae({ architecture, d_in: n, d_sae: n, k, applyBDecToInput: applyBDecToInput ?? false, weights: { ...base, ...weights } });
}

/** Dense [rows, d_sae] from CSR latents. */
export function denseOf(latents: { rows: number; d_sae: number; rowPtr: Int32Array; indices: Int32Array; values: Float32Array }): Float32Array {
  const out = new Float32Array(latents.rows * latents.d_sae);
  for (let r = 0; r < latents.rows; r++) {
    for (let p = latents.rowPtr[r]; p < latents.rowPtr[r + 1]; p++) out[r * latents.d_sae + latents.indices[p]] += latents.values[p];
  }
  return out;
}
