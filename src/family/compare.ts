// Paper §3.8's comparison: two SAEs of the same shape and recipe, one trained on LinearError and one on
// NonlinearError of the same reference SAE (one b* fit shared by both), evaluated on the same held-out rows.
// The paper's claim: the nonlinear one is "quantitatively worse" (higher FVU, more dead latents).
import * as path from "path";
import type { ActivationStore } from "../activations/index";
import type { Progress } from "../progress";
import type { Sae } from "../sae/index";
import { fitLinearMap, heldOutSplit, LinearMapOptions, LinearMapReport, makeTarget, saeFingerprint, storeRows } from "./targets";
import { resolveRecipe, SaeRecipe, SaeResult, saveTrainedSae, trainOnTarget } from "./train-target";

export interface CompareOptions {
  width: number;
  k: number;
  /** Training tokens per SAE (default: the recipe's). */
  tokens?: number;
  /** The store hook (default: the store's first hook). */
  hook?: string;
  /** Held-out rows (default min(8192, 10 % of the rows)) and the split seed (default 0). */
  heldOutRows?: number;
  splitSeed?: number;
  linearMap?: LinearMapOptions;
  recipe?: Partial<SaeRecipe>;
  /** Save both SAEs (SAELens) into out/linear and out/nonlinear. */
  out?: string;
  progress?: Progress;
}

export interface ErrorTargetComparison {
  hook: string;
  linear: SaeResult;
  nonlinear: SaeResult;
  /** The shared b* fit and the reference SAE's own numbers. */
  linearMap: LinearMapReport;
  reference: { path: string | null; sha256: string };
  /** Both SAEs side by side (Markdown). */
  table: string;
}

/** Trains an SAE on LinearError and one on NonlinearError of `reference` at one store hook and compares them. */
export async function compareErrorTargets(store: ActivationStore, reference: Sae, options: CompareOptions): Promise<ErrorTargetComparison> {
  const hook = options.hook ?? store.hooks[0];
  const rows = storeRows(store, hook);
  const heldOutRows = options.heldOutRows ?? Math.min(8192, Math.max(1, Math.round(0.1 * store.rows)));
  const split = heldOutSplit(rows.rows, heldOutRows, options.splitSeed ?? 0);
  const recipe = resolveRecipe({ ...options.recipe, ...(options.tokens !== undefined ? { tokens: options.tokens } : {}) });
  const progress = options.progress;
  progress?.(0, 2, `fitting b* (x → SaeError) for ${hook}`);
  const map = fitLinearMap(rows, reference, split, options.linearMap);
  const results: Partial<Record<"linear" | "nonlinear", SaeResult>> = {};
  for (const [i, target] of (["linear", "nonlinear"] as const).entries()) {
    const t = makeTarget(rows, { target, split, reference, linearMap: map });
    const trained = await trainOnTarget(t, options.width, options.k, recipe, {
      hook, progress: progress && ((s, n, label) => progress(i + s / n, 2, `${target}: ${label}`)),
    });
    try {
      if (options.out) saveTrainedSae(path.join(options.out, target), trained, { comparison: "linear vs nonlinear", target, hook, width: options.width, k: options.k, recipe, split: { heldOutRows, seed: split.seed }, linearMap: options.linearMap ?? {} });
    } finally {
      trained.sae.dispose();
    }
    results[target] = trained.result;
  }
  const linear = results.linear!, nonlinear = results.nonlinear!;
  return {
    hook, linear, nonlinear, linearMap: map.report,
    reference: { path: reference.metadata.path ?? null, sha256: saeFingerprint(reference) },
    table: comparisonTable(linear, nonlinear),
  };
}

/** The two SAEs side by side. */
export function comparisonTable(linear: SaeResult, nonlinear: SaeResult): string {
  const row = (name: string, r: SaeResult) =>
    `| ${name} | ${r.width} | ${r.k} | ${r.fvu.toFixed(4)} | ${r.deadFraction.toFixed(3)} (${r.deadWindowTokens}) | ` +
    `${r.trainDeadFraction === null ? "n/a" : r.trainDeadFraction.toFixed(3)} (${r.trainDeadWindowTokens}) | ${r.l0.toFixed(2)} | ${r.tokensSeen} |`;
  return [
    "| trained on | width | k | held-out FVU | held-out dead (window) | train dead (window) | L0 | tokens |",
    "|---|---:|---:|---:|---:|---:|---:|---:|",
    row("LinearError", linear), row("NonlinearError", nonlinear),
  ].join("\n") + "\n";
}
