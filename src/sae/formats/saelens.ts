// SAELens: `cfg.json` + `sae_weights.safetensors` in the canonical orientation. Two config styles exist: ≥ 6.0 keeps
// the SAE fields at the top and the model/hook/dataset fields in a nested `metadata` object; earlier versions are
// flat (hook_point, activation_fn_str + activation_fn_kwargs {k}, hook_layer, …), where TopK was an activation
// function of the "standard" architecture. This is also the project's own format (`saveSaeLens`).
import * as path from "path";
import { InputError } from "../../errors";
import { HostTensor, writeFileAtomic, writeSafetensors } from "../../io/index";
import { Architecture, Sae, SaeMetadata } from "../model";
import { layerFromHookName } from "../paths";
import {
  SaePlan, WeightPlan, boolField, entryOf, intField, isObject, numberField, openWeights, readJsonObject, requireEntry,
  scalarPlan, stringField, tensorPlan,
} from "./plan";

export const SAELENS_CONFIG = "cfg.json";
export const SAELENS_WEIGHTS = "sae_weights.safetensors";
/** Version written into saved configs: the config layout follows SAELens 6.0, which is what readers key on. */
const SAVED_FORMAT_VERSION = "6.0.0";

export interface SaeLensOptions {
  /** For normalize_activations "expected_average_only_in": the factor √d_in / E‖x‖ the SAE was trained with. */
  normScalingFactor?: number;
}

interface ArchitectureChoice { architecture: Architecture; k?: number; trainedAs?: string }

function chooseArchitecture(cfg: Record<string, unknown>, source: string): ArchitectureChoice {
  const arch = stringField(cfg, "architecture", source) ?? "standard";
  const activation = stringField(cfg, "activation_fn_str", source) ?? stringField(cfg, "activation_fn", source) ?? "relu";
  const kwargs = isObject(cfg.activation_fn_kwargs) ? cfg.activation_fn_kwargs : {};
  const kOf = (): number => {
    const k = intField(cfg, "k", source, true) ?? intField(kwargs, "k", `${source} (activation_fn_kwargs)`, true);
    if (k === undefined || k === 0) throw new InputError(source, "a topk SAE needs a positive k (field \"k\" or activation_fn_kwargs.k)");
    return k;
  };
  switch (arch) {
    case "standard":
      if (activation === "topk") return { architecture: "topk", k: kOf() };
      if (activation !== "relu") throw new InputError(source, `activation function "${activation}" is not supported (relu or topk)`);
      return { architecture: "relu" };
    case "topk": return { architecture: "topk", k: kOf() };
    case "jumprelu": return { architecture: "jumprelu" };
    case "batchtopk": case "matryoshka_batchtopk": return { architecture: "jumprelu", trainedAs: arch };
    case "gated": return { architecture: "gated" };
    default: throw new InputError(source, `architecture "${arch}" is not supported (standard, topk, batchtopk, jumprelu, gated)`);
  }
}

/** The factor to fold for `normalize_activations`, or an InputError for per-token normalisations. */
function inputScaleFor(cfg: Record<string, unknown>, meta: Record<string, unknown>, source: string, options: SaeLensOptions): number {
  const norm = cfg.normalize_activations;
  if (norm === undefined || norm === null || norm === false || norm === "none") return 1;
  if (norm === true || norm === "expected_average_only_in") {
    const s = options.normScalingFactor ?? numberField(cfg, "norm_scaling_factor", source, true) ??
      numberField(meta, "norm_scaling_factor", source, true);
    if (s === undefined) {
      throw new InputError(source, "normalize_activations is expected_average_only_in but no scaling factor is known; " +
        "pass normScalingFactor (√d_in / mean ‖x‖ from the SAE's release) to fold it into the weights");
    }
    if (!(s > 0) || !Number.isFinite(s)) throw new InputError(source, `the norm scaling factor must be positive, got ${s}`);
    return s;
  }
  if (norm === "constant_norm_rescale" || norm === "layer_norm") {
    throw new InputError(source, `normalize_activations "${norm}" rescales each token by its own norm/statistics; ` +
      "that cannot be folded into the weights, so this SAE is not supported");
  }
  throw new InputError(source, `unknown normalize_activations ${JSON.stringify(norm)}`);
}

export function planSaeLens(dir: string, options: SaeLensOptions = {}): SaePlan {
  const cfgFile = path.join(dir, SAELENS_CONFIG);
  const cfg = readJsonObject(cfgFile);
  const nested = isObject(cfg.metadata) ? cfg.metadata : isObject(cfg.meta) ? cfg.meta : undefined;
  const meta: Record<string, unknown> = nested ?? cfg;
  const { architecture, k, trainedAs } = chooseArchitecture(cfg, cfgFile);
  const d_in = intField(cfg, "d_in", cfgFile);
  const d_sae = intField(cfg, "d_sae", cfgFile);
  if (d_in === 0 || d_sae === 0) throw new InputError(cfgFile, "d_in and d_sae must be positive");
  if (k !== undefined && k > d_sae) throw new InputError(cfgFile, `k = ${k} exceeds d_sae = ${d_sae}`);
  const applyBDecToInput = boolField(cfg, "apply_b_dec_to_input", cfgFile, true);
  const scale = inputScaleFor(cfg, meta, cfgFile, options);
  const hookName = stringField(meta, "hook_name", cfgFile) ?? stringField(cfg, "hook_name", cfgFile) ?? stringField(cfg, "hook_point", cfgFile);
  const layer = intField(meta, "hook_layer", cfgFile, true) ?? intField(cfg, "hook_layer", cfgFile, true) ??
    (hookName ? layerFromHookName(hookName) : undefined);
  const ours = isObject(meta.darkmatter) ? meta.darkmatter : undefined;

  const weightsFile = path.join(dir, SAELENS_WEIGHTS);
  const w = openWeights(weightsFile);
  try {
    const conversions: string[] = ours && Array.isArray(ours.conversions) ? ours.conversions.map(String) : [];
    const plan: Record<string, WeightPlan> = {
      W_enc: tensorPlan(w, requireEntry(w, ["W_enc"]), [d_in, d_sae], { scale }),
      W_dec: tensorPlan(w, requireEntry(w, ["W_dec"]), [d_sae, d_in], { scale: 1 / scale }),
      b_dec: tensorPlan(w, requireEntry(w, ["b_dec"]), [d_in], { scale: 1 / scale }),
    };
    if (scale !== 1) conversions.push(`folded input scale ${scale} (normalize_activations) into W_enc, W_dec and b_dec`);
    // A finetuning scaling factor multiplies f before decoding: fold it into the rows of W_dec.
    const sf = entryOf(w, ["finetuning_scaling_factor", "scaling_factor"]);
    if (sf) {
      tensorPlan(w, sf, [d_sae]);
      plan.W_dec.rowScale = { file: w, tensor: sf.name };
      conversions.push(`folded ${sf.name} into the rows of W_dec`);
    }
    if (architecture === "gated") {
      for (const n of ["b_gate", "b_mag", "r_mag"]) plan[n] = tensorPlan(w, requireEntry(w, [n]), [d_sae]);
    } else {
      plan.b_enc = tensorPlan(w, requireEntry(w, ["b_enc"]), [d_sae]);
    }
    if (architecture === "jumprelu") {
      const th = entryOf(w, ["threshold"]);
      const logTh = entryOf(w, ["log_threshold"]);
      const topkTh = entryOf(w, ["topk_threshold"]);
      if (th) plan.threshold = th.shape.length === 1 && th.shape[0] === d_sae ? tensorPlan(w, th, [d_sae]) : scalarPlan(w, th);
      else if (logTh) {
        plan.threshold = tensorPlan(w, logTh, [d_sae], { exp: true });
        conversions.push("threshold = exp(log_threshold)");
      } else if (topkTh && trainedAs) {
        plan.threshold = scalarPlan(w, topkTh);
        conversions.push(`${trainedAs} run as jumprelu with its scalar topk_threshold`);
      } else {
        throw new InputError(weightsFile, `a ${trainedAs ?? "jumprelu"} SAE needs a "threshold" tensor` + (trainedAs ? ' (or a scalar "topk_threshold")' : ""));
      }
    }
    const metadata: SaePlan["metadata"] = {
      format: "saelens", path: path.resolve(dir), hookName, layer,
      modelName: stringField(meta, "model_name", cfgFile) ?? stringField(cfg, "model_name", cfgFile),
      trainedAs: trainedAs ?? (ours ? stringField(ours, "trained_as", cfgFile) : undefined),
      width: ours ? intField(ours, "width", cfgFile, true) : undefined,
      nominalL0: ours ? intField(ours, "nominal_l0", cfgFile, true) : undefined,
      inputScale: scale * (ours ? numberField(ours, "input_scale", cfgFile, true) ?? 1 : 1),
      conversions,
      provenance: ours && isObject(ours.provenance) ? ours.provenance : { config: cfg },
    };
    return { architecture, d_in, d_sae, k, applyBDecToInput, metadata, weights: plan, files: [w] };
  } catch (e) {
    w.close();
    throw e;
  }
}

/** The ≥ 6.0 style config for an SAE (the project's own fields live under metadata.darkmatter). */
export function saeLensConfig(sae: Sae): Record<string, unknown> {
  const m: SaeMetadata = sae.metadata;
  const architecture = sae.architecture === "relu" ? "standard" : sae.architecture;
  const metadata: Record<string, unknown> = { sae_lens_version: SAVED_FORMAT_VERSION };
  if (m.modelName !== undefined) metadata.model_name = m.modelName;
  if (m.hookName !== undefined) metadata.hook_name = m.hookName;
  if (m.layer !== undefined) metadata.hook_layer = m.layer;
  const ours: Record<string, unknown> = { source_format: m.format, input_scale: m.inputScale, conversions: m.conversions, provenance: m.provenance };
  if (m.width !== undefined) ours.width = m.width;
  if (m.nominalL0 !== undefined) ours.nominal_l0 = m.nominalL0;
  if (m.trainedAs !== undefined) ours.trained_as = m.trainedAs;
  if (m.path !== undefined) ours.source_path = m.path;
  metadata.darkmatter = ours;
  const cfg: Record<string, unknown> = {
    architecture, d_in: sae.d_in, d_sae: sae.d_sae, dtype: "float32", device: "cpu",
    apply_b_dec_to_input: sae.applyBDecToInput, normalize_activations: "none", reshape_activations: "none",
  };
  if (sae.k !== undefined) cfg.k = sae.k;
  cfg.metadata = metadata;
  return cfg;
}

/**
 * Writes `dir/sae_weights.safetensors` (float32, canonical names) and then `dir/cfg.json`, each atomically, so a
 * reader that sees the new config also sees the new weights.
 */
export function saveSaeLens(sae: Sae, dir: string): { config: string; weights: string } {
  const record: Record<string, HostTensor> = {};
  for (const n of sae.weightNames()) {
    const shape = n === "W_enc" ? [sae.d_in, sae.d_sae] : n === "W_dec" ? [sae.d_sae, sae.d_in] : [n === "b_dec" ? sae.d_in : sae.d_sae];
    record[n] = { dtype: "float32", shape, data: sae.hostWeight(n)! };
  }
  const weights = path.join(dir, SAELENS_WEIGHTS);
  const config = path.join(dir, SAELENS_CONFIG);
  writeSafetensors(weights, record, { format: "pt" });
  writeFileAtomic(config, JSON.stringify(saeLensConfig(sae), null, 2) + "\n");
  return { config, weights };
}
