// `darkmatter sae-forward --sae PATH --input X.npy --out DIR`: runs an SAE over stored activations and writes
// recon.npy, error.npy (x − x̂) and l0.npy. Input rows are streamed in blocks and outputs appended as they are made,
// so any number of rows fits in bounded memory; each output appears only once complete.
import * as path from "path";
import { parseArgs } from "util";
import { backendInfo } from "../backend/index";
import { InputError } from "../errors";
import { NpyWriter, createNpyWriter, openTensorFile, writeNpy } from "../io/index";
import { NormAccumulator, saeFitWarnings } from "../darkmatter/sanity";
import { terminalProgress } from "../progress";
import { warn } from "../warnings";
import { BlockedSae, DEFAULT_MEMORY_BUDGET, FvuAccumulator, WEIGHT_BUDGET_ENV, chunkRowsFor, openSae } from "../sae/index";

const USAGE = `usage: darkmatter sae-forward --sae PATH --input FILE --out DIR [options]

Runs an SAE (any supported format) over the rows of a 2-D activation array [n, d_in] and writes
DIR/recon.npy (float32 [n, d_in]), DIR/error.npy (x − x̂, float32 [n, d_in]) and DIR/l0.npy (int32 [n]).

options:
  --tensor NAME              the array to read from a multi-array .npz / safetensors input
  --memory-mb MB             working-memory budget for the forward pass (default ${DEFAULT_MEMORY_BUDGET / 1024 ** 2})
  --weights-mb MB            budget for SAE weights in flight (default: $${WEIGHT_BUDGET_ENV} or 2048); wider SAEs
                             are read from their file in latent blocks
  --norm-scaling-factor S    for SAELens SAEs with normalize_activations = expected_average_only_in
  --hookpoint NAME           which SAE of a folder holding one per hookpoint
  --json                     print the summary as JSON`;

export async function run(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args, options: {
        sae: { type: "string" }, input: { type: "string" }, out: { type: "string" }, tensor: { type: "string" },
        "memory-mb": { type: "string" }, "weights-mb": { type: "string" }, "norm-scaling-factor": { type: "string" }, hookpoint: { type: "string" },
        json: { type: "boolean" }, help: { type: "boolean", short: "h" },
      },
    });
  } catch (e) {
    console.error(`darkmatter sae-forward: ${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const v = parsed.values;
  if (v.help) {
    console.log(USAGE);
    return 0;
  }
  if (!v.sae || !v.input || !v.out) {
    console.error(`darkmatter sae-forward: --sae, --input and --out are required\n\n${USAGE}`);
    return 2;
  }
  const positive = (name: string, s: string | undefined): number | undefined => {
    if (s === undefined) return undefined;
    const x = Number(s);
    if (!Number.isFinite(x) || x <= 0) throw new InputError(`--${name}`, `must be a positive number, got "${s}"`);
    return x;
  };
  const budget = (positive("memory-mb", v["memory-mb"]) ?? DEFAULT_MEMORY_BUDGET / 1024 ** 2) * 1024 ** 2;
  const weightsMb = positive("weights-mb", v["weights-mb"]);
  const sae = await openSae(v.sae, {
    normScalingFactor: positive("norm-scaling-factor", v["norm-scaling-factor"]), hookpoint: v.hookpoint,
    weightBudgetBytes: weightsMb === undefined ? undefined : weightsMb * 1024 ** 2,
  });
  const input = openTensorFile(v.input, { checkFinite: true });
  const writers: NpyWriter[] = [];
  try {
    const floats = input.entries.filter((e) => ["float32", "float64", "float16", "bfloat16"].includes(e.dtype));
    const entry = v.tensor !== undefined ? input.entries.find((e) => e.name === v.tensor) : floats.length === 1 ? floats[0] : undefined;
    if (!entry) {
      throw new InputError(v.input, v.tensor !== undefined ? `has no tensor "${v.tensor}"`
        : `holds ${floats.length} float arrays (${floats.map((e) => e.name).join(", ")}); choose one with --tensor`);
    }
    if (entry.shape.length !== 2 || entry.shape[1] !== sae.d_in) {
      throw new InputError(v.input, `array "${entry.name}" has shape [${entry.shape.join(", ")}]; the SAE needs [n, ${sae.d_in}]`);
    }
    const rows = entry.shape[0];
    // Blocks as large as one forward chunk, and never more than ~budget/4 of input and outputs per block.
    // A blocked SAE sweeps its whole weight file per block, so its blocks are its planned (larger) token chunks.
    const block = sae instanceof BlockedSae ? sae.blockPlan.chunkRows
      : Math.max(1, Math.min(chunkRowsFor(sae.d_sae, { memoryBudgetBytes: budget }), Math.floor(budget / (4 * 4 * sae.d_in))));
    const recon = createNpyWriter(path.join(v.out, "recon.npy"), "float32", [sae.d_in]);
    writers.push(recon);
    const error = createNpyWriter(path.join(v.out, "error.npy"), "float32", [sae.d_in]);
    writers.push(error);
    const l0 = new Int32Array(rows);
    const stats = new FvuAccumulator(sae.d_in);
    const norms = new NormAccumulator(sae.d_in);
    const progress = terminalProgress();
    for (let r0 = 0; r0 < rows; r0 += block) {
      const m = Math.min(block, rows - r0);
      const x = input.readRowsFloat32(entry.name, r0, m);
      const out = sae.forward(x, { latents: false, memoryBudgetBytes: budget });
      recon.append(out.reconstruction);
      error.append(out.error);
      l0.set(out.l0, r0);
      stats.add(x, out.error);
      norms.add(x, out.reconstruction, m);
      progress(r0 + m, rows, "sae-forward");
    }
    recon.close();
    error.close();
    writers.length = 0;
    writeNpy(path.join(v.out, "l0.npy"), { dtype: "int32", shape: [rows], data: l0 });
    let total = 0;
    for (let i = 0; i < rows; i++) total += l0[i];
    const summary = {
      sae: sae.metadata.path, format: sae.metadata.format, architecture: sae.architecture, d_in: sae.d_in, d_sae: sae.d_sae,
      input: path.resolve(v.input), rows, mean_l0: rows > 0 ? total / rows : null, fvu: Number.isFinite(stats.fvu()) ? stats.fvu() : null,
      backend: backendInfo().name, blocked: sae instanceof BlockedSae ? { ...sae.blockPlan } : false, out: path.resolve(v.out),
    };
    const sanity = saeFitWarnings({
      sae: v.sae, fvu: summary.fvu ?? undefined, l0Measured: summary.mean_l0 ?? undefined, l0Nominal: sae.metadata.nominalL0 ?? sae.k,
      inputNorm: norms.inputNorm, reconstructionNorm: norms.reconstructionNorm,
    });
    if (v.json) console.log(JSON.stringify({ ...summary, sanity }, null, 2));
    else console.log(Object.entries(summary).map(([k, x]) => `${k}: ${x}`).join("\n"));
    for (const w of sanity) warn(w);
    return 0;
  } finally {
    for (const w of writers) w.abort();
    input.close();
    sae.dispose();
  }
}
