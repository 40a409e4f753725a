// What `darkmatter fit-error` prints, the same for a single run and for merged shards: a table or JSON.
import type { Estimate } from "../darkmatter/common";
import type { DecompositionResult } from "../darkmatter/decomposition";

function showEstimate(e: Estimate): string {
  const v = e.value.toFixed(4);
  return e.interval ? `${v}  [${e.interval.lo.toFixed(4)}, ${e.interval.hi.toFixed(4)}]` : v;
}

/** The result without the fitted matrices: what a person or a script reads. */
export function summarize(r: DecompositionResult): Record<string, unknown> {
  const est = (e: Estimate) => (e.interval ? { value: e.value, lo: e.interval.lo, hi: e.interval.hi, se: e.interval.se, level: e.interval.level } : { value: e.value });
  return {
    intercept: r.intercept, d: r.d, fitOn: r.fitOn, evaluatedOn: r.evaluatedOn, rows: r.rows,
    r2_mean_over_dims: est(r.vectorR2), norm_r2: est(r.normR2), fvu: est(r.fvu), fvu_nonlinear: est(r.fvuNonlinear),
    energy_per_token: r.energy,
    linear_map: { rank: r.linearMap.rank, dependentColumns: r.linearMap.dependentColumns, conditionEstimate: r.linearMap.conditionEstimate },
    bootstrap: r.bootstrap, warnings: r.warnings,
  };
}

export function table(r: DecompositionResult, activations: string, sae: string): string {
  const level = r.bootstrap ? ` (value  [${Math.round(r.bootstrap.level * 100)} % bootstrap interval, ${r.bootstrap.resamples} resamples])` : "";
  const lines = [
    `activations: ${activations}`, `sae: ${sae}`,
    `d = ${r.d}; rows: ${r.rows.total} total, ${r.rows.train} train, ${r.rows.evaluated} ${r.evaluatedOn === "all" ? "evaluated (in-sample)" : "test"} (seed ${r.rows.seed})` +
      (r.rows.droppedNonFinite ? `, ${r.rows.droppedNonFinite} dropped (non-finite)` : ""),
    `b* fitted ${r.intercept ? "with" : "without"} an intercept; metrics on the ${r.evaluatedOn} rows${level}`,
    "",
    `  r2_mean_over_dims  x → SaeError          ${showEstimate(r.vectorR2)}`,
    `  r2                 x → ‖SaeError‖²       ${showEstimate(r.normR2)}`,
    `  fvu                x vs Sae(x)           ${showEstimate(r.fvu)}`,
    `  fvu_nonlinear      x vs Sae(x) + Linear  ${showEstimate(r.fvuNonlinear)}`,
    "",
    `  per token: ‖SaeError‖² ${r.energy.saeError.toPrecision(5)} = ‖LinearError‖² ${r.energy.linearError.toPrecision(5)}` +
      ` + ‖NonlinearError‖² ${r.energy.nonlinearError.toPrecision(5)} + cross ${r.energy.crossTerm.toPrecision(3)}`,
    `  rank of x: ${r.linearMap.rank} of ${r.d}; condition estimate (scaled Gram) ${r.linearMap.conditionEstimate.toExponential(2)}`,
  ];
  for (const w of r.warnings) lines.push(`  warning: ${w}`);
  return lines.join("\n");
}
