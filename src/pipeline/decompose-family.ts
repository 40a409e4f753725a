// The linear/nonlinear decomposition (paper §3.2) of every SAE in an analysis context: the table behind the
// predictability, width-scaling and contour figures.
import { decomposeSaeError, DecompositionOptions, DecompositionResult, inputGramFor } from "../darkmatter/decomposition";
import { InputGram } from "../linalg/least-squares";
import { Progress, silentProgress } from "../progress";
import { SaeOutputs } from "../darkmatter/common";
import { NormAccumulator } from "../darkmatter/sanity";
import { arraySource, readChunks } from "../linalg/rows";
import { AnySae, openSae } from "../sae/index";
import { cached, contentFingerprint } from "./cache";
import { AnalysisContext } from "./context";
import { SaeEntry } from "./saes";

export interface SaeDecomposition {
  sae: SaeEntry;
  /** Mean active latents per token measured on these activations (the nominal L0 is `sae.l0`). */
  l0Empirical: number;
  /** Mean ‖x‖ of the activations and mean ‖Sae(x)‖ (the sanity checks compare them). */
  inputNorm?: number;
  reconstructionNorm?: number;
  result: DecompositionResult;
}

/**
 * The decomposition settings the notebooks share, so that one cached decomposition per SAE serves them all
 * (no bootstrap: the family-level figures need point estimates; a notebook wanting intervals asks for them).
 */
export const FAMILY_DECOMPOSITION = { bootstrap: false } as const;

/**
 * Decomposes the error of each SAE in `ctx` (or of `saes`), one SAE in memory at a time. Results are cached by the
 * SAE file's contents, the activations and the options, so notebooks sharing a decomposition compute it once.
 */
export async function decomposeFamily(ctx: AnalysisContext, options: DecompositionOptions & { saes?: SaeEntry[] } = {},
  progress: Progress = silentProgress): Promise<SaeDecomposition[]> {
  const entries = options.saes ?? ctx.saes;
  const out: SaeDecomposition[] = [];
  const { saes: _saes, progress: _progress, onWarning: _warn, sharedGram: _gram, ...settings } = options;
  // XᵀX of the activations is the same for every SAE: computed once, when the first uncached SAE needs it.
  let gram: InputGram | undefined;
  const sharedGram = () => (entries.length > 1 && !settings.dropNonFinite ? (gram ??= inputGramFor(ctx.activations, settings)) : undefined);
  for (const [i, entry] of entries.entries()) {
    progress(i, entries.length, `decomposing SAE width ${entry.width}, L0 ${entry.l0 ?? "?"}`);
    const key = { sae: contentFingerprint(entry.path), activations: ctx.activationsKey, settings };
    out.push({ ...await cached("decomposition", key, () => decomposeOne(ctx, entry, { ...settings, sharedGram: sharedGram() }), __filename), sae: entry });
  }
  progress(entries.length, entries.length, "decomposed every SAE");
  return out;
}

/** Above this size Sae(x) is recomputed in each pass instead of being held in memory. */
const RECONSTRUCTIONS_IN_MEMORY_BYTES = 512 * 1024 ** 2;

/**
 * The SAE's outputs on the context's activations for the analyses: Sae(x) computed once and held in memory when it
 * fits (the analyses read their input twice: fit, then evaluate), else a function that recomputes it per chunk.
 * Also measures the SAE's mean L0 on these activations.
 */
export function saeOutputs(ctx: AnalysisContext, sae: AnySae): { outputs: SaeOutputs; meanL0: () => number; norms: NormAccumulator } {
  let l0Sum = 0, rowsSeen = 0;
  const norms = new NormAccumulator(sae.d_in);
  const reconstruct = (x: Float32Array, rows: number) => {
    const f = sae.forward(x, { latents: false });
    l0Sum += f.meanL0 * rows;
    rowsSeen += rows;
    norms.add(x, f.reconstruction, rows);
    return f.reconstruction;
  };
  const meanL0 = () => (rowsSeen ? l0Sum / rowsSeen : NaN);
  if (ctx.rows * ctx.d * 4 > RECONSTRUCTIONS_IN_MEMORY_BYTES) return { outputs: { reconstruct }, meanL0, norms };
  const all = new Float32Array(ctx.rows * ctx.d);
  for (const c of readChunks(ctx.activations, 8192)) {
    const x = c.data instanceof Float32Array ? c.data : Float32Array.from(c.data);
    all.set(reconstruct(x, c.rows), c.start * ctx.d);
  }
  return { outputs: { reconstructions: arraySource(all, ctx.d, `Sae(x) of ${ctx.activations.name ?? "activations"}`) }, meanL0, norms };
}

async function decomposeOne(ctx: AnalysisContext, entry: SaeEntry, options: DecompositionOptions): Promise<SaeDecomposition> {
  const sae = await openSae(entry.path);
  try {
    const { outputs, meanL0, norms } = saeOutputs(ctx, sae);
    const result = decomposeSaeError({ activations: ctx.activations, sae: outputs }, { ...options, progress: undefined });
    return { sae: entry, l0Empirical: meanL0(), inputNorm: norms.inputNorm, reconstructionNorm: norms.reconstructionNorm, result };
  } finally {
    sae.dispose();
  }
}
