// `darkmatter train-sae`: trains one TopK (or JumpReLU) SAE on an activation-store hook, on the activations or on an error
// component of a reference SAE (paper §3.8), and saves it in SAELens format with its training record.
import * as path from "path";
import { parseArgs } from "util";
import { openActivationStore } from "../activations/store";
import { InputError } from "../errors";
import { intOption, parseRecipe, parseReferences, RECIPE_HELP, RECIPE_OPTIONS } from "../family/cli-options";
import { heldOutSplit, makeTarget, storeRows } from "../family/targets";
import { resolveRecipe, saveTrainedSae, trainOnTarget } from "../family/train-target";
import { terminalProgress } from "../progress";
import { loadSae, type Sae } from "../sae/index";

const USAGE = `usage: darkmatter train-sae --activations DIR --width W --k K --out DIR [options]
       darkmatter train-sae --architecture jumprelu --activations DIR --width W --l0 L --out DIR [options]

Trains a TopK SAE (the paper's recipe, src/train), or a JumpReLU SAE (Gemma Scope's recipe, its sparsity coefficient
steered to a target L0), on one hook of an activation store and writes it to DIR:
cfg.json + sae_weights.safetensors (SAELens), training-log.json and train-config.json (request, trainer config,
held-out FVU / L0 / dead fraction).

  --activations DIR    an activation-store folder (darkmatter activations)
  --hook H             the store hook [the store's only hook]
  --width W            number of latents
  --k K                active latents per token (topk)
  --l0 L               target mean active latents per token (jumprelu)
  --out DIR            output folder
${RECIPE_HELP}
  --json               print the result as JSON`;

export async function run(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args, strict: true, allowPositionals: false,
    options: {
      activations: { type: "string" }, hook: { type: "string" }, width: { type: "string" }, k: { type: "string" }, l0: { type: "string" },
      out: { type: "string" }, json: { type: "boolean" }, help: { type: "boolean", short: "h" }, ...RECIPE_OPTIONS,
    },
  });
  if (values.help) { console.log(USAGE); return 0; }
  const parsed = parseRecipe(values);
  const jumprelu = parsed.architecture === "jumprelu";
  const sparsity = jumprelu ? "l0" : "k";
  if (jumprelu && values.k !== undefined) throw new InputError("--k", "applies to topk; a JumpReLU SAE takes a target --l0");
  if (!jumprelu && values.l0 !== undefined) throw new InputError("--l0", "applies to --architecture jumprelu; a TopK SAE takes --k");
  for (const name of ["activations", "width", sparsity, "out"] as const) {
    if (values[name] === undefined) throw new InputError(`--${name}`, `is required\n\n${USAGE}`);
  }
  const width = intOption(values.width, "width", 1)!, k = intOption(values[sparsity], sparsity, 1)!;
  if (k > width || (jumprelu && k === width)) throw new InputError(`--${sparsity}`, `${k} must be below --width ${width}`);
  const recipe = resolveRecipe(parsed.recipe);
  const store = openActivationStore(values.activations!);
  let reference: Sae | undefined;
  try {
    const hook = values.hook ?? (store.hooks.length === 1 ? store.hooks[0] : undefined);
    if (!hook) throw new InputError("--hook", `the store has several hooks (${store.hooks.join(", ")}); choose one`);
    if (!store.hooks.includes(hook)) throw new InputError("--hook", `the store has no hook ${hook} (it has ${store.hooks.join(", ")})`);
    const references = parseReferences(values["reference-sae"], [hook], parsed.target);
    if (references[hook]) reference = await loadSae(references[hook]);
    const rows = storeRows(store, hook);
    const heldOutRows = parsed.heldOutRows ?? Math.min(8192, Math.max(1, Math.round(0.1 * rows.rows)));
    const split = heldOutSplit(rows.rows, heldOutRows, parsed.splitSeed ?? 0);
    const progress = values.json ? undefined : terminalProgress();
    const target = makeTarget(rows, {
      target: parsed.target, split, reference, referencePath: references[hook] ? path.resolve(references[hook]) : undefined,
      linearMapOptions: parsed.linearMap, progress,
    });
    const trained = await trainOnTarget(target, width, k, recipe, { hook, progress });
    try {
      saveTrainedSae(values.out!, trained, {
        store: { key: store.manifest.key, rows: store.rows, d: store.d }, hook, width, k, target: parsed.target,
        ...(reference ? { reference: target.provenance.reference } : {}),
        ...(target.provenance.linearMap ? { linearMap: parsed.linearMap } : {}),
        split: { heldOutRows, seed: split.seed }, recipe,
      });
    } finally {
      trained.sae.dispose();
    }
    const r = trained.result;
    if (values.json) console.log(JSON.stringify({ out: path.resolve(values.out!), result: r, target: target.provenance }, null, 2));
    else {
      console.log(`saved ${path.resolve(values.out!)}`);
      console.log(`${target.provenance.description}: ${parsed.architecture} width ${width}, ${jumprelu ? "target L0" : "k"} ${k}, ${r.tokensSeen} tokens in ${r.wallTimeS.toFixed(1)} s`);
      console.log(`held-out (${r.deadWindowTokens} rows): FVU ${r.fvu.toFixed(4)}, L0 ${r.l0.toFixed(2)}, dead ${r.deadFraction.toFixed(3)}; ` +
        `train dead (last ${r.trainDeadWindowTokens} tokens) ${r.trainDeadFraction === null ? "n/a (fewer tokens trained)" : r.trainDeadFraction.toFixed(3)}`);
      const m = target.provenance.linearMap;
      if (m) console.log(`b* ${m.intercept ? "with" : "without"} intercept, fitted on ${m.fitOn} rows (${m.fitRows}); reference FVU ${m.referenceFvu.toFixed(4)}, FVU_nonlinear ${m.referenceFvuNonlinear.toFixed(4)}`);
    }
  } finally {
    reference?.dispose();
    store.close();
  }
  return 0;
}
