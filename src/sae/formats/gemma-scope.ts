// Gemma Scope: `layer_L/width_W/average_l0_K/params.npz`, float32 W_enc [d_in, d_sae], W_dec [d_sae, d_in], b_enc,
// b_dec, threshold (some files spell the matrices w_enc/w_dec). JumpReLU with no b_dec subtraction; any input
// normalisation is already folded in, so raw activations go in. The folder names carry layer, width and nominal L0.
import * as path from "path";
import { InputError } from "../../errors";
import { HostTensor, writeNpz } from "../../io/index";
import { Sae } from "../model";
import { parseGemmaScopePath } from "../paths";
import { SaePlan, entryOf, openWeights, requireEntry, tensorPlan } from "./plan";

export const GEMMA_SCOPE_FILE = "params.npz";

export function planGemmaScope(file: string): SaePlan {
  const weights = openWeights(file);
  try {
    const enc = requireEntry(weights, ["W_enc", "w_enc"]);
    if (enc.shape.length !== 2) throw new InputError(file, `tensor "${enc.name}" must be a matrix [d_in, d_sae], has shape [${enc.shape.join(", ")}]`);
    const [d_in, d_sae] = enc.shape;
    if (d_in === 0 || d_sae === 0) throw new InputError(file, `tensor "${enc.name}" is empty`);
    const convention = parseGemmaScopePath(file);
    // A finetuning scaling factor multiplies f before decoding (as SAELens reads these files): fold it into W_dec.
    const scale = entryOf(weights, ["scaling_factor"]);
    if (scale) tensorPlan(weights, scale, [d_sae]);
    if (convention.width !== undefined && convention.width !== d_sae) {
      throw new InputError(file, `the path says width ${convention.width} but W_enc has ${d_sae} latents`);
    }
    return {
      architecture: "jumprelu", d_in, d_sae, applyBDecToInput: false,
      metadata: { format: "gemma-scope", path: path.resolve(file), ...convention,
        conversions: scale ? ["folded scaling_factor into the rows of W_dec"] : [] },
      weights: {
        W_enc: tensorPlan(weights, enc, [d_in, d_sae]),
        W_dec: tensorPlan(weights, requireEntry(weights, ["W_dec", "w_dec"]), [d_sae, d_in], scale ? { rowScale: { file: weights, tensor: scale.name } } : {}),
        b_enc: tensorPlan(weights, requireEntry(weights, ["b_enc"]), [d_sae]),
        b_dec: tensorPlan(weights, requireEntry(weights, ["b_dec"]), [d_in]),
        threshold: tensorPlan(weights, requireEntry(weights, ["threshold"]), [d_sae]),
      },
      files: [weights],
    };
  } catch (e) {
    weights.close();
    throw e;
  }
}

/**
 * Writes `dir/params.npz` as Gemma Scope does (uncompressed float32 W_enc, W_dec, b_enc, b_dec, threshold). JumpReLU
 * only. The format has no b_dec subtraction, so an SAE that subtracts it is saved with b_enc − b_dec·W_enc, which
 * gives the same pre-activations (computed in float64).
 */
export function saveGemmaScope(sae: Sae, dir: string): string {
  if (sae.architecture !== "jumprelu") {
    throw new InputError(dir, `Gemma Scope files hold JumpReLU SAEs; this SAE is ${sae.architecture} (save it with saveSaeLens)`);
  }
  const W_enc = sae.hostWeight("W_enc")!;
  const b_dec = sae.hostWeight("b_dec")!;
  let b_enc = sae.hostWeight("b_enc")!;
  if (sae.applyBDecToInput) {
    const folded = new Float64Array(b_enc);
    for (let i = 0; i < sae.d_in; i++) {
      const bi = b_dec[i], o = i * sae.d_sae;
      for (let j = 0; j < sae.d_sae; j++) folded[j] -= bi * W_enc[o + j];
    }
    b_enc = Float32Array.from(folded);
  }
  const f32 = (shape: number[], data: Float32Array): HostTensor => ({ dtype: "float32", shape, data });
  const record: Record<string, HostTensor> = {
    W_enc: f32([sae.d_in, sae.d_sae], W_enc),
    W_dec: f32([sae.d_sae, sae.d_in], sae.hostWeight("W_dec")!),
    b_enc: f32([sae.d_sae], b_enc),
    b_dec: f32([sae.d_in], b_dec),
    threshold: f32([sae.d_sae], sae.hostWeight("threshold")!),
  };
  const file = path.join(dir, GEMMA_SCOPE_FILE);
  writeNpz(file, record);
  return file;
}
