// `darkmatter fit-error`: the linear/nonlinear decomposition of one SAE's error on a set of activations (paper
// §2.5, §3.1, §3.2), printed as a table or JSON.
import { parseArgs } from "util";
import { InputError } from "../errors";
import { terminalProgress } from "../progress";
import { decomposeSaeError, DecompositionResult } from "../darkmatter/decomposition";
import { Estimate } from "../darkmatter/common";
import { openActivationSource } from "../activations/sources";
import { BlockedSae, openSae, WEIGHT_BUDGET_ENV } from "../sae/index";
import { intOption } from "../family/cli-options";
import { NormAccumulator, saeFitWarnings } from "../darkmatter/sanity";
import { warn } from "../warnings";

const USAGE = `usage: darkmatter fit-error --activations PATH --sae PATH [options]

  --activations PATH   activations: a .npy/.npz/safetensors tensor [..., d] (rows = all leading axes), or an
                       activation-store folder (then --hook picks the hook when it has several)
  --sae PATH           an SAE in any supported format (SAELens, Gemma Scope npz, sparsify, Llama Scope)
  --hook NAME          the activation-store hook (default: the store's only hook)
  --tensor NAME        the tensor in an .npz/safetensors file (default: its only tensor)
  --intercept          fit b* and a* with an intercept (default, as the paper's text says)
  --no-intercept       fit without one (as most of the paper's code does)
  --train N            training rows (default 150000, or 60 % of the rows when there are fewer)
  --test N             cap on test rows (default: all the rest)
  --seed S             split seed (default 0)
  --bootstrap N        bootstrap resamples for the intervals (default 200; 0 = off)
  --weights-mb MB      budget for SAE weights in flight (default: $${WEIGHT_BUDGET_ENV} or 2048); wider SAEs are
                       read from their file in latent blocks
  --drop-non-finite    skip rows with NaN/Inf (default: stop with an error)
  --json               print JSON instead of a table`;



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

function table(r: DecompositionResult, activations: string, sae: string): string {
  const level = r.bootstrap ? ` (value  [${Math.round(r.bootstrap.level * 100)} % bootstrap interval, ${r.bootstrap.resamples} resamples])` : "";
  const lines = [
    `activations: ${activations}`, `sae: ${sae}`,
    `d = ${r.d}; rows: ${r.rows.total} total, ${r.rows.train} train, ${r.rows.evaluated} test (seed ${r.rows.seed})` +
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

export async function run(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args, strict: true, allowPositionals: false,
    options: {
      activations: { type: "string" }, sae: { type: "string" }, hook: { type: "string" }, tensor: { type: "string" },
      intercept: { type: "boolean" }, "no-intercept": { type: "boolean" },
      train: { type: "string" }, test: { type: "string" }, seed: { type: "string" }, bootstrap: { type: "string" },
      "drop-non-finite": { type: "boolean" }, "weights-mb": { type: "string" }, json: { type: "boolean" }, help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) { console.log(USAGE); return 0; }
  if (!values.activations) throw new InputError("--activations", `is required\n\n${USAGE}`);
  if (!values.sae) throw new InputError("--sae", `is required\n\n${USAGE}`);
  if (values.intercept && values["no-intercept"]) throw new InputError("--intercept", "and --no-intercept contradict each other");
  const trainRows = intOption(values.train, "train", 1);
  const testRows = intOption(values.test, "test", 1);
  const seed = intOption(values.seed, "seed", 0) ?? 0;
  const resamples = intOption(values.bootstrap, "bootstrap", 0) ?? 200;

  const { source, close } = openActivationSource(values.activations, values.hook, values.tensor);
  try {
    const weightsMb = values["weights-mb"] === undefined ? undefined : Number(values["weights-mb"]);
    if (weightsMb !== undefined && !(weightsMb > 0)) throw new InputError("--weights-mb", `must be a positive number, got "${values["weights-mb"]}"`);
    const sae = await openSae(values.sae, { weightBudgetBytes: weightsMb === undefined ? undefined : weightsMb * 1024 ** 2 });
    try {
      if (sae.d_in !== source.cols) {
        throw new InputError("--sae", `${values.sae} has d_in = ${sae.d_in} but the activations have d = ${source.cols}`);
      }
      // L0 and norms measured along the way, for the sanity checks.
      const norms = new NormAccumulator(sae.d_in);
      let l0Sum = 0, l0Rows = 0;
      const reconstruct = (x: Float32Array, rows: number) => {
        const f = sae.forward(x, { latents: false });
        l0Sum += f.meanL0 * rows;
        l0Rows += rows;
        norms.add(x, f.reconstruction, rows);
        return f.reconstruction;
      };
      const result = decomposeSaeError(
        { activations: source, sae: { reconstruct } },
        {
          intercept: !values["no-intercept"], trainRows, testRows, seed,
          bootstrap: resamples > 0 ? { resamples, seed } : false,
          dropNonFinite: values["drop-non-finite"] ?? false,
          // A blocked SAE reads its whole weight file per call: hand it chunks as large as its plan allows.
          rowsPerChunk: sae instanceof BlockedSae ? sae.blockPlan.chunkRows : undefined,
          progress: values.json ? undefined : terminalProgress(),
        });
      const sanity = saeFitWarnings({
        sae: values.sae, fvu: result.fvu.value, l0Measured: l0Rows ? l0Sum / l0Rows : undefined, l0Nominal: sae.metadata.nominalL0 ?? sae.k,
        inputNorm: norms.inputNorm, reconstructionNorm: norms.reconstructionNorm,
        droppedNonFinite: result.rows.droppedNonFinite, rows: result.rows.total,
        testRows: result.rows.evaluated, regressors: result.d + (result.intercept ? 1 : 0),
      });
      console.log(values.json ? JSON.stringify({ ...summarize(result), sanity }, null, 2) : table(result, values.activations, values.sae));
      for (const w of sanity) warn(w);
    } finally {
      sae.dispose();
    }
  } finally {
    close();
  }
  return 0;
}
