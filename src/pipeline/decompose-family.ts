// The linear/nonlinear decomposition (paper §3.2) of every SAE in an analysis context: the table behind the
// predictability, width-scaling and contour figures.
import { decomposeSaeError, DecompositionOptions, DecompositionResult } from "../darkmatter/decomposition";
import { Progress, silentProgress } from "../progress";
import { loadSae } from "../sae/index";
import { AnalysisContext } from "./context";
import { SaeEntry } from "./saes";

export interface SaeDecomposition {
  sae: SaeEntry;
  /** Mean active latents per token measured on these activations (the nominal L0 is `sae.l0`). */
  l0Empirical: number;
  result: DecompositionResult;
}

/** Decomposes the error of each SAE in `ctx` (or of `saes`), one SAE in memory at a time. */
export async function decomposeFamily(ctx: AnalysisContext, options: DecompositionOptions & { saes?: SaeEntry[] } = {},
  progress: Progress = silentProgress): Promise<SaeDecomposition[]> {
  const entries = options.saes ?? ctx.saes;
  const out: SaeDecomposition[] = [];
  for (const [i, entry] of entries.entries()) {
    progress(i, entries.length, `decomposing SAE width ${entry.width}, L0 ${entry.l0 ?? "?"}`);
    const sae = await loadSae(entry.path);
    let l0Sum = 0, rowsSeen = 0;
    try {
      const result = decomposeSaeError({
        activations: ctx.activations,
        sae: {
          reconstruct: (x, rows) => {
            const f = sae.forward(x, { latents: false });
            l0Sum += f.meanL0 * rows;
            rowsSeen += rows;
            return f.reconstruction;
          },
        },
      }, { ...options, progress: undefined });
      out.push({ sae: entry, l0Empirical: rowsSeen ? l0Sum / rowsSeen : NaN, result });
    } finally {
      sae.dispose();
    }
  }
  progress(entries.length, entries.length, "decomposed every SAE");
  return out;
}
