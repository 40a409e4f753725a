// The trained record as the project's Sae (src/sae), so it can be run, analysed and saved like a loaded one.
import { Sae } from "../sae/index";
import type { TrainedSae } from "./trainer";

/** Uploads the trained weights into an Sae (format "memory"); the training summary goes into its provenance. */
export function toSae(trained: TrainedSae): Sae {
  const log = trained.trainingLog;
  const c = log.config;
  const batchTopK = c.architecture === "batchtopk";
  return new Sae({
    architecture: trained.architecture,
    d_in: trained.d_in,
    d_sae: trained.d_sae,
    k: trained.architecture === "topk" ? trained.k : undefined,
    applyBDecToInput: trained.apply_b_dec_to_input,
    weights: {
      W_enc: trained.W_enc, W_dec: trained.W_dec, b_enc: trained.b_enc, b_dec: trained.b_dec,
      ...(trained.threshold ? { threshold: trained.threshold } : {}),
    },
    metadata: {
      format: "memory",
      ...(batchTopK ? { trainedAs: `batchtopk (k=${c.k}), run as jumprelu with the learned threshold ${log.threshold}` } : {}),
      provenance: {
        trainer: c.architecture === "jumprelu" ? "src/train/jumprelu.ts (JumpReLU, Gemma Scope recipe, L0 controller)" : "src/train (TopK recipe of sparsify / paper §3.8)",
        ...(log.jumprelu ? { jumprelu: log.jumprelu } : {}),
        data: log.data,
        steps: log.steps,
        tokensSeen: log.tokensSeen,
        finalDeadFraction: log.finalDeadFraction,
        deadWindowTokens: log.deadWindowTokens,
        ...(log.heldOut ? { heldOut: log.heldOut } : {}),
        backend: log.backend,
        config: c,
      },
    },
    source: "toSae",
  });
}
