// EleutherAI sparsify (and its predecessor `sae`): `<hookpoint>/cfg.json` + `<hookpoint>/sae.safetensors`, one folder
// per hookpoint (e.g. `layers.10`, `model.layers.12`). encoder.weight is stored [num_latents, d_in] (nn.Linear), W_dec
// [num_latents, d_in]; encode = topk(relu(encoder(x − b_dec))), decode = f·W_dec + b_dec.
import * as path from "path";
import { InputError } from "../../errors";
import { layerFromHookName } from "../paths";
import { SaePlan, boolField, entryOf, intField, openWeights, readJsonObject, requireEntry, stringField, tensorPlan } from "./plan";

export const SPARSIFY_CONFIG = "cfg.json";
export const SPARSIFY_WEIGHTS = "sae.safetensors";

export function planSparsify(dir: string): SaePlan {
  const cfgFile = path.join(dir, SPARSIFY_CONFIG);
  const cfg = readJsonObject(cfgFile);
  const d_in = intField(cfg, "d_in", cfgFile);
  if (d_in === 0) throw new InputError(cfgFile, "d_in must be positive");
  const activation = stringField(cfg, "activation", cfgFile) ?? "topk";
  if (activation !== "topk") throw new InputError(cfgFile, `activation "${activation}" is not supported (topk only)`);
  if (boolField(cfg, "transcode", cfgFile, false)) {
    throw new InputError(cfgFile, "this is a transcoder (transcode: true): it predicts another hook, so x − x̂ is not an SAE error");
  }
  if (boolField(cfg, "skip_connection", cfgFile, false)) throw new InputError(cfgFile, "skip connections (W_skip) are not supported");
  const encoderLayers = intField(cfg, "num_encoder_layers", cfgFile, true) ?? 1;
  if (encoderLayers > 1) throw new InputError(cfgFile, `num_encoder_layers = ${encoderLayers}: multi-layer encoders are not supported`);
  const numLatents = intField(cfg, "num_latents", cfgFile, true) ?? 0;
  const expansion = intField(cfg, "expansion_factor", cfgFile, true);
  const d_sae = numLatents > 0 ? numLatents : d_in * (expansion ?? 0);
  if (d_sae === 0) throw new InputError(cfgFile, "num_latents is 0 and expansion_factor is missing or 0, so the width is unknown");
  const k = intField(cfg, "k", cfgFile);
  if (k === 0 || k > d_sae) throw new InputError(cfgFile, `k = ${k} must be between 1 and the ${d_sae} latents`);

  const weightsFile = path.join(dir, SPARSIFY_WEIGHTS);
  const w = openWeights(weightsFile);
  try {
    if (entryOf(w, ["W_skip"])) throw new InputError(weightsFile, "has a W_skip tensor (skip connection), which is not supported");
    const hookName = path.basename(path.resolve(dir));
    return {
      architecture: "topk", d_in, d_sae, k, applyBDecToInput: true,
      metadata: {
        format: "sparsify", path: path.resolve(dir), hookName, layer: layerFromHookName(hookName),
        conversions: ["encoder.weight [num_latents, d_in] transposed to W_enc [d_in, d_sae]"],
        provenance: { config: cfg },
      },
      weights: {
        W_enc: tensorPlan(w, requireEntry(w, ["encoder.weight"]), [d_sae, d_in], { transposed: true }),
        b_enc: tensorPlan(w, requireEntry(w, ["encoder.bias"]), [d_sae]),
        W_dec: tensorPlan(w, requireEntry(w, ["W_dec"]), [d_sae, d_in]),
        b_dec: tensorPlan(w, requireEntry(w, ["b_dec"]), [d_in]),
      },
      files: [w],
    };
  } catch (e) {
    w.close();
    throw e;
  }
}
