// The sanity checks (darkmatter/sanity.ts) over a family's decompositions: what a notebook shows above its tables.
import { saeFitWarnings } from "../darkmatter/sanity";
import type { DmWarning } from "../warnings";
import type { SaeDecomposition } from "./decompose-family";

/** The warnings of every decomposed SAE (empty when all look sane). */
export function decompositionWarnings(decomps: SaeDecomposition[]): DmWarning[] {
  return decomps.flatMap((d) => saeFitWarnings({
    sae: d.sae.path, fvu: d.result.fvu.value, l0Measured: d.l0Empirical, l0Nominal: d.sae.l0,
    inputNorm: d.inputNorm, reconstructionNorm: d.reconstructionNorm,
    droppedNonFinite: d.result.rows.droppedNonFinite, rows: d.result.rows.total,
    testRows: d.result.rows.evaluated, regressors: d.result.d + (d.result.intercept ? 1 : 0),
  }));
}
