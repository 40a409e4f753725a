// `darkmatter train-family`: a grid of SAEs (widths × ks × hooks, one target) on an activation store, in Gemma Scope
// folders, cached and resumable; or, with --default, the project's default family.
import * as path from "path";
import { parseArgs } from "util";
import { openActivationStore } from "../activations/store";
import { InputError } from "../errors";
import { intList, parseArchitecture, parseRecipe, parseReferences, RECIPE_HELP, RECIPE_OPTIONS } from "../family/cli-options";
import { ensureDefaultFamily, FAMILY_PROFILES, FamilyProfile } from "../family/default-family";
import { FamilySummary, SUMMARY_MD, summaryMarkdown, trainFamily } from "../family/family";
import { terminalProgress } from "../progress";

const USAGE = `usage: darkmatter train-family --activations DIR --widths W,W,… --ks K,K,… --out DIR [options]
       darkmatter train-family --architecture jumprelu --activations DIR --widths W,W,… --l0s L,L,… --out DIR [options]
       darkmatter train-family --default [--profile full|ci] [--architecture topk|jumprelu]

Trains one TopK SAE per (hook, width, k), or one JumpReLU SAE per (hook, width, target L0), into OUT/layer_L/width_W/average_l0_K/ (SAELens files + train-config.json)
and writes OUT/summary.json and OUT/summary.md. SAEs whose folder already holds the same request are reused, so an
interrupted run resumes and a changed grid trains only what changed.

  --default            build the project's default family (its own store and folder under .cache/)
  --profile P          ${FAMILY_PROFILES.join(" | ")} [full]: the whole default family, or a reduced one for quick runs
  --activations DIR    an activation-store folder (darkmatter activations)
  --widths W,W         latent counts
  --ks K,K             active latents per token (topk)
  --l0s L,L            target mean active latents per token (jumprelu)
  --hooks H,H          store hooks [all of the store's]
  --out DIR            the family folder
${RECIPE_HELP}
  --json               print the summary as JSON instead of a table`;

export async function run(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args, strict: true, allowPositionals: false,
    options: {
      default: { type: "boolean" }, profile: { type: "string" }, activations: { type: "string" }, widths: { type: "string" },
      ks: { type: "string" }, l0s: { type: "string" }, hooks: { type: "string" }, out: { type: "string" }, json: { type: "boolean" },
      help: { type: "boolean", short: "h" }, ...RECIPE_OPTIONS,
    },
  });
  if (values.help) { console.log(USAGE); return 0; }
  const progress = values.json ? undefined : terminalProgress();
  let summary: FamilySummary;
  if (values.default) {
    const other = ["activations", "widths", "ks", "l0s", "hooks", "out", ...Object.keys(RECIPE_OPTIONS)]
      .filter((k) => k !== "architecture" && values[k as keyof typeof values] !== undefined);
    if (other.length > 0) throw new InputError(`--${other[0]}`, "cannot be combined with --default (the default family fixes its own settings)");
    const profile = (values.profile ?? "full") as FamilyProfile;
    if (!FAMILY_PROFILES.includes(profile)) throw new InputError("--profile", `must be one of ${FAMILY_PROFILES.join(", ")}, got ${JSON.stringify(values.profile)}`);
    summary = (await ensureDefaultFamily(profile, { progress, architecture: parseArchitecture(values.architecture) })).summary;
  } else {
    if (values.profile !== undefined) throw new InputError("--profile", "applies only with --default");
    const parsed = parseRecipe(values);
    const jumprelu = parsed.architecture === "jumprelu";
    const sparsity = jumprelu ? "l0s" : "ks";
    if (jumprelu && values.ks !== undefined) throw new InputError("--ks", "applies to topk; JumpReLU SAEs take target --l0s");
    if (!jumprelu && values.l0s !== undefined) throw new InputError("--l0s", "applies to --architecture jumprelu; TopK SAEs take --ks");
    for (const name of ["activations", "widths", sparsity, "out"] as const) {
      if (values[name] === undefined) throw new InputError(`--${name}`, `is required (or use --default)\n\n${USAGE}`);
    }
    const store = openActivationStore(values.activations!);
    try {
      const hooks = values.hooks ? values.hooks.split(",").map((h) => h.trim()) : store.hooks;
      summary = await trainFamily(store, {
        widths: intList(values.widths, "widths")!, ks: intList(values[sparsity], sparsity)!, hooks, target: parsed.target,
        references: Object.fromEntries(Object.entries(parseReferences(values["reference-sae"], hooks, parsed.target)).map(([h, p]) => [h, path.resolve(p)])),
        linearMap: parsed.linearMap, heldOutRows: parsed.heldOutRows, splitSeed: parsed.splitSeed, recipe: parsed.recipe,
      }, values.out!, { progress });
    } finally {
      store.close();
    }
  }
  if (values.json) console.log(JSON.stringify(summary, null, 2));
  else {
    console.log(summaryMarkdown(summary));
    console.log(`family: ${summary.dir} (${path.join(summary.dir, SUMMARY_MD)})`);
  }
  return 0;
}
