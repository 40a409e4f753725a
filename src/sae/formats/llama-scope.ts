// Llama Scope (OpenMOSS lm_saes): `hyperparams.json` + `checkpoints/final.safetensors` with encoder.weight
// [d_sae, d_model], encoder.bias, decoder.weight [d_model, d_sae], decoder.bias, usually bf16. Trained TopK, run as
// JumpReLU with one scalar threshold (as SAELens does). Inputs were scaled by s = √d_model / avg‖x‖ ("dataset-wise"
// normalisation) and outputs scaled back; that is folded into the weights here so raw activations go in:
//   W_enc·s_in, W_dec / s_out, b_dec / s_out   (pre-activations, and hence the threshold, are unchanged).
import * as path from "path";
import { InputError } from "../../errors";
import { layerFromHookName } from "../paths";
import { SaePlan, boolField, intField, isObject, numberField, openWeights, readJsonObject, requireEntry, stringField, tensorPlan } from "./plan";

export const LLAMA_SCOPE_CONFIG = "hyperparams.json";
export const LLAMA_SCOPE_WEIGHTS = path.join("checkpoints", "final.safetensors");

export interface LlamaScopeOptions {
  /**
   * Also multiply the threshold by the input scale, as some SAELens versions do. Off by default: folding the scale
   * into W_enc leaves the pre-activations unchanged, so the stored threshold already applies to them. Check the
   * empirical L0 (≈ 50 for Llama Scope) to tell which convention a checkpoint follows.
   */
  scaleThreshold?: boolean;
}

export function planLlamaScope(dir: string, options: LlamaScopeOptions = {}): SaePlan {
  const cfgFile = path.join(dir, LLAMA_SCOPE_CONFIG);
  const cfg = readJsonObject(cfgFile);
  const d_in = intField(cfg, "d_model", cfgFile);
  const expansion = intField(cfg, "expansion_factor", cfgFile, true);
  const d_sae = intField(cfg, "d_sae", cfgFile, true) ?? (expansion !== undefined ? d_in * expansion : undefined);
  if (d_sae === undefined) throw new InputError(cfgFile, 'missing field "d_sae" (and no expansion_factor)');
  if (d_in === 0 || d_sae === 0) throw new InputError(cfgFile, "d_model and d_sae must be positive");
  if (boolField(cfg, "use_glu_encoder", cfgFile, false)) throw new InputError(cfgFile, "GLU encoders (use_glu_encoder) are not supported");
  const hookIn = stringField(cfg, "hook_point_in", cfgFile) ?? stringField(cfg, "hook_point", cfgFile);
  const hookOut = stringField(cfg, "hook_point_out", cfgFile) ?? hookIn;
  if (hookIn !== hookOut) {
    throw new InputError(cfgFile, `hook_point_in (${hookIn}) differs from hook_point_out (${hookOut}): a transcoder, not an autoencoder`);
  }
  const applyBDecToInput = boolField(cfg, "apply_decoder_bias_to_pre_encoder", cfgFile, false);

  const actFn = stringField(cfg, "act_fn", cfgFile) ?? "jumprelu";
  const trainedK = intField(cfg, "top_k", cfgFile, true);
  let architecture: "jumprelu" | "topk" | "relu";
  let k: number | undefined;
  if (actFn === "jumprelu") architecture = "jumprelu";
  else if (actFn === "topk") {
    architecture = "topk";
    k = trainedK;
    if (k === undefined || k === 0 || k > d_sae) throw new InputError(cfgFile, `act_fn topk needs top_k between 1 and ${d_sae}`);
  } else if (actFn === "relu") architecture = "relu";
  else throw new InputError(cfgFile, `act_fn "${actFn}" is not supported (jumprelu, topk, relu)`);

  // Input/output scales from the dataset-wise normalisation.
  const normMode = stringField(cfg, "norm_activation", cfgFile);
  const norms = cfg.dataset_average_activation_norm;
  let sIn = 1, sOut = 1;
  if (normMode === "token-wise") {
    throw new InputError(cfgFile, 'norm_activation "token-wise" rescales each token by its own norm; that cannot be folded into the weights');
  } else if (normMode === "dataset-wise" || (normMode === undefined && norms !== undefined)) {
    if (!isObject(norms)) throw new InputError(cfgFile, 'dataset-wise normalisation needs "dataset_average_activation_norm": {in, out}');
    const normIn = numberField(norms, "in", `${cfgFile} (dataset_average_activation_norm)`);
    const normOut = numberField(norms, "out", `${cfgFile} (dataset_average_activation_norm)`, true) ?? normIn;
    if (!(normIn > 0) || !(normOut > 0)) throw new InputError(cfgFile, "dataset_average_activation_norm values must be positive");
    sIn = Math.sqrt(d_in) / normIn;
    sOut = Math.sqrt(d_in) / normOut;
  } else if (normMode !== undefined && normMode !== "inference" && normMode !== "none") {
    throw new InputError(cfgFile, `unknown norm_activation "${normMode}"`);
  }
  if (applyBDecToInput && sIn !== sOut) {
    throw new InputError(cfgFile, "b_dec is subtracted from the input but input and output norms differ, so the scales cannot be folded");
  }
  let threshold: number | undefined;
  if (architecture === "jumprelu") {
    threshold = numberField(cfg, "jump_relu_threshold", cfgFile);
    if (options.scaleThreshold) threshold *= sIn;
  }

  const weightsFile = path.join(dir, LLAMA_SCOPE_WEIGHTS);
  const w = openWeights(weightsFile);
  try {
    const conversions = ["encoder.weight / decoder.weight transposed to the canonical orientation"];
    if (sIn !== 1 || sOut !== 1) conversions.push(`folded dataset-wise normalisation: W_enc × ${sIn}, W_dec and b_dec ÷ ${sOut}`);
    if (threshold !== undefined) conversions.push(`scalar jump_relu_threshold ${threshold} used for every latent${options.scaleThreshold ? " (scaled by the input scale)" : ""}`);
    const folder = path.basename(path.resolve(dir));
    const release = /^Llama3_1-8B-Base-L(\d+)[RAM]-(\d+)x$/i.exec(folder);
    return {
      architecture, d_in, d_sae, k, applyBDecToInput,
      metadata: {
        format: "llama-scope", path: path.resolve(dir), hookName: hookIn,
        layer: (hookIn ? layerFromHookName(hookIn) : undefined) ?? (release ? Number(release[1]) : undefined),
        modelName: release ? "meta-llama/Llama-3.1-8B" : undefined,
        trainedAs: trainedK !== undefined && architecture !== "topk" ? `topk (k = ${trainedK})` : undefined,
        inputScale: sIn, conversions, provenance: { config: cfg },
      },
      weights: {
        W_enc: tensorPlan(w, requireEntry(w, ["encoder.weight"]), [d_sae, d_in], { transposed: true, scale: sIn }),
        b_enc: tensorPlan(w, requireEntry(w, ["encoder.bias"]), [d_sae]),
        W_dec: tensorPlan(w, requireEntry(w, ["decoder.weight"]), [d_in, d_sae], { transposed: true, scale: 1 / sOut }),
        b_dec: tensorPlan(w, requireEntry(w, ["decoder.bias"]), [d_in], { scale: 1 / sOut }),
        ...(threshold !== undefined ? { threshold: { constant: threshold } } : {}),
      },
      files: [w],
    };
  } catch (e) {
    w.close();
    throw e;
  }
}
