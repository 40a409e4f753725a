// What the forward pass reads of an SAE. The Sae class (model.ts) implements it and calls the forward pass;
// activation.ts, forward.ts, kernel-pass.ts and sparse.ts take this view instead of the class so that none of
// them imports model.ts back (no import cycle, type-only ones included).
import type { tf } from "../backend/index";

/** relu = SAELens "standard"; batchtopk SAEs are loaded as jumprelu with their learned threshold. */
export type Architecture = "relu" | "topk" | "jumprelu" | "gated";

/** The fields of an Sae the encoder and decoder use (see model.ts for their meaning). */
export interface SaeView {
  readonly architecture: Architecture;
  readonly d_in: number;
  readonly d_sae: number;
  readonly k: number | undefined;
  readonly applyBDecToInput: boolean;
  readonly W_enc: tf.Tensor2D;
  readonly W_dec: tf.Tensor2D;
  readonly b_dec: tf.Tensor1D;
  readonly b_enc: tf.Tensor1D | undefined;
  readonly threshold: tf.Tensor1D | undefined;
  readonly b_gate: tf.Tensor1D | undefined;
  readonly b_mag: tf.Tensor1D | undefined;
  readonly r_mag: tf.Tensor1D | undefined;
  readonly thresholdNonNegative: tf.Tensor1D | undefined;
  readonly magScale: tf.Tensor1D | undefined;
}
