// `darkmatter fit-error`: the linear/nonlinear decomposition of one SAE's error on a set of activations (paper
// §2.5, §3.1, §3.2), printed as a table or JSON; or one shard of it (--rows, --stats-out) and the merge of shards
// (--merge; fit-error-shards.ts), for activations too large for one machine (docs/distributed-fit.md).
import { parseArgs } from "util";
import { codeFingerprint } from "../code-version";
import { InputError } from "../errors";
import { terminalProgress } from "../progress";
import { decomposeSaeError } from "../darkmatter/decomposition";
import { openActivationSource } from "../activations/sources";
import { BlockedSae, openSae, WEIGHT_BUDGET_ENV } from "../sae/index";
import { intOption } from "../family/cli-options";
import { NormAccumulator, saeFitWarnings } from "../darkmatter/sanity";
import { warn } from "../warnings";
import { summarize, table } from "./fit-error-output";
import { parseRange, runMerge, runShard } from "./fit-error-shards";

export { summarize };

const USAGE = `usage: darkmatter fit-error --activations PATH --sae PATH [options]
       darkmatter fit-error --activations PATH --sae PATH --rows A:B --stats-out F.json [options]
       darkmatter fit-error --merge F1.json F2.json … [--json] [--fit-out FIT.json]

  --activations PATH   activations: a .npy/.npz/safetensors tensor [..., d] (rows = all leading axes), or an
                       activation-store folder (then --hook picks the hook when it has several)
  --sae PATH           an SAE in any supported format (SAELens, Gemma Scope npz, sparsify, Llama Scope)
  --hook NAME          the activation-store hook (default: the store's only hook)
  --tensor NAME        the tensor in an .npz/safetensors file (default: its only tensor)
  --intercept          fit b* and a* with an intercept (default, as the paper's text says)
  --no-intercept       fit without one (as most of the paper's code does)
  --fit-on train|all   fit on the training rows and evaluate on the test rows (default), or in-sample on all rows
  --train N            training rows (default 150000, or 60 % of the rows when there are fewer)
  --test N             cap on test rows (default: all the rest)
  --seed S             split seed (default 0)
  --bootstrap N        bootstrap resamples for the intervals (default 200; 0 = off)
  --weights-mb MB      budget for SAE weights in flight (default: $${WEIGHT_BUDGET_ENV} or 2048); wider SAEs are
                       read from their file in latent blocks
  --drop-non-finite    skip rows with NaN/Inf (default: stop with an error)
  --json               print JSON instead of a table

 sharded (docs/distributed-fit.md):
  --rows A:B           compute only rows [A, B) of the activations (the split is still that of all rows)
  --stats-out F.json   write the shard's sufficient statistics to F.json and F.bin (atomically) instead of printing
  --merge F…           check that the shards match and cover every row once, merge them and print what a single
                       run with the same options prints (without intervals unless the bootstrap round's files are given)
  --fit-out FIT.json   with --merge: also write the merged fit, for the bootstrap round
  --bootstrap-fit FIT.json
                       with --rows/--stats-out: the bootstrap round, scoring rows A:B with the merged fit; merging
                       its files with the first round's adds the single run's intervals`;

export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args, strict: true, allowPositionals: true,
    options: {
      activations: { type: "string" }, sae: { type: "string" }, hook: { type: "string" }, tensor: { type: "string" },
      intercept: { type: "boolean" }, "no-intercept": { type: "boolean" }, "fit-on": { type: "string" },
      train: { type: "string" }, test: { type: "string" }, seed: { type: "string" }, bootstrap: { type: "string" },
      "drop-non-finite": { type: "boolean" }, "weights-mb": { type: "string" }, json: { type: "boolean" }, help: { type: "boolean", short: "h" },
      rows: { type: "string" }, "stats-out": { type: "string" }, merge: { type: "boolean" }, "fit-out": { type: "string" },
      "bootstrap-fit": { type: "string" },
    },
  });
  if (values.help) { console.log(USAGE); return 0; }
  if (values.merge) {
    const computeOnly = Object.keys(values).filter((k) => !["merge", "json", "fit-out"].includes(k));
    if (computeOnly.length > 0) throw new InputError(`--${computeOnly[0]}`, "does not apply to --merge: the shards carry their options");
    return runMerge(positionals, { json: values.json ?? false, fitOut: values["fit-out"] });
  }
  if (values["fit-out"] !== undefined) throw new InputError("--fit-out", "applies to --merge only");
  if (values["bootstrap-fit"] !== undefined && values.rows === undefined) throw new InputError("--bootstrap-fit", "applies to a shard (--rows, --stats-out) only");
  if (positionals.length > 0) throw new InputError(positionals[0], "is an unexpected argument (only --merge takes files)");
  if (!values.activations) throw new InputError("--activations", `is required\n\n${USAGE}`);
  if (!values.sae) throw new InputError("--sae", `is required\n\n${USAGE}`);
  if (values.intercept && values["no-intercept"]) throw new InputError("--intercept", "and --no-intercept contradict each other");
  if ((values.rows === undefined) !== (values["stats-out"] === undefined)) {
    throw new InputError(values.rows === undefined ? "--stats-out" : "--rows", "needs --rows and --stats-out together: a shard computes rows A:B and writes their statistics");
  }
  const fitOn = values["fit-on"] ?? "train";
  if (fitOn !== "train" && fitOn !== "all") throw new InputError("--fit-on", `must be train or all, got ${JSON.stringify(fitOn)}`);
  const trainRows = intOption(values.train, "train", 1);
  const testRows = intOption(values.test, "test", 1);
  const seed = intOption(values.seed, "seed", 0) ?? 0;
  const resamples = intOption(values.bootstrap, "bootstrap", 0) ?? 200;
  const range = values.rows === undefined ? undefined : parseRange(values.rows);

  const { source, hook, close } = openActivationSource(values.activations, values.hook, values.tensor);
  try {
    const weightsMb = values["weights-mb"] === undefined ? undefined : Number(values["weights-mb"]);
    if (weightsMb !== undefined && !(weightsMb > 0)) throw new InputError("--weights-mb", `must be a positive number, got "${values["weights-mb"]}"`);
    const sae = await openSae(values.sae, { weightBudgetBytes: weightsMb === undefined ? undefined : weightsMb * 1024 ** 2 });
    try {
      if (sae.d_in !== source.cols) {
        throw new InputError("--sae", `${values.sae} has d_in = ${sae.d_in} but the activations have d = ${source.cols}`);
      }
      const options = {
        intercept: !values["no-intercept"], fitOn: fitOn as "train" | "all", trainRows, testRows, seed,
        dropNonFinite: values["drop-non-finite"] ?? false,
        // A blocked SAE reads its whole weight file per call: hand it chunks as large as its plan allows.
        rowsPerChunk: sae instanceof BlockedSae ? sae.blockPlan.chunkRows : 2048,
        progress: values.json ? undefined : terminalProgress(),
      };
      const bootstrap = resamples > 0 ? { resamples, seed, level: 0.95 } : null;
      if (range) {
        return runShard({
          source, sae, options, bootstrap, range, statsOut: values["stats-out"] as string, saePath: values.sae, activationsPath: values.activations,
          hook: hook ?? null, tensor: values.tensor ?? null, code: codeFingerprint(__filename), bootstrapFit: values["bootstrap-fit"],
        });
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
      const result = decomposeSaeError({ activations: source, sae: { reconstruct } }, { ...options, bootstrap: bootstrap ?? false });
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
