// Opening an SAE for analysis: the whole-matrix SAE (weights on the tfjs backend) when its weights fit the weight
// budget and the backend, else the blocked SAE that reads them from the file in latent blocks. Both run the same
// `forward`/`encode`, so every analysis works on SAEs of any width.
import { initBackend } from "../backend/index";
import { InputError } from "../errors";
import { BlockedSae } from "./blocked";
import { saeWeightBytes, weightBudgetBytes } from "./block-plan";
import { closePlan, materialize } from "./formats/plan";
import { LoadSaeOptions, planSae } from "./load";
import { ensureBackendCapacity, Sae } from "./model";

/** An SAE ready to run: whole-matrix or blocked. Narrow with `instanceof Sae` for the weights themselves. */
export type AnySae = Sae | BlockedSae;

export interface OpenSaeOptions extends LoadSaeOptions {
  /** Bytes of weights in flight (default: DARKMATTER_WEIGHT_BUDGET_MB or 2 GiB); wider SAEs run blocked. */
  weightBudgetBytes?: number;
  /** Run blocked even when the weights fit (tests, and checking the blocked path on a narrow SAE). */
  blocked?: boolean;
  /** Latents per block (tests force tiny blocks). */
  latentBlock?: number;
}

/** Whether an SAE of these sizes runs blocked under the budget (or the backend cannot hold it). */
export function runsBlocked(d_in: number, d_sae: number, budgetBytes = weightBudgetBytes()): boolean {
  const bytes = saeWeightBytes(d_in, d_sae);
  if (bytes > budgetBytes) return true;
  try {
    ensureBackendCapacity("SAE", bytes);
    return false;
  } catch (e) {
    if (e instanceof InputError) return true;
    throw e;
  }
}

/** Loads the SAE at `p` whole when it fits, else opens it blocked (see the file comment). */
export async function openSae(p: string, options: OpenSaeOptions = {}): Promise<AnySae> {
  await initBackend();
  const budget = weightBudgetBytes(options.weightBudgetBytes);
  const plan = planSae(p, options);
  if (!options.blocked && !runsBlocked(plan.d_in, plan.d_sae, budget)) {
    try {
      return materialize(plan);
    } finally {
      closePlan(plan);
    }
  }
  return new BlockedSae(plan, { budgetBytes: budget, latentBlock: options.latentBlock });
}

/**
 * The whole-matrix SAE, or a clear refusal naming the budget when `sae` runs blocked (analyses that need W_dec
 * itself); the refused SAE is disposed.
 */
export function requireWholeSae(sae: AnySae, what: string): Sae {
  if (sae instanceof Sae) return sae;
  sae.dispose();
  throw new InputError(sae.metadata.path ?? "SAE", `${what} needs the whole decoder in memory, but this SAE's weights ` +
    `(${(saeWeightBytes(sae.d_in, sae.d_sae) / 1024 ** 3).toFixed(2)} GiB) exceed the weight budget of ` +
    `${(sae.allocator.budgetBytes / 1024 ** 3).toFixed(2)} GiB; raise DARKMATTER_WEIGHT_BUDGET_MB or use a narrower SAE`);
}
