// Command-line options shared by `darkmatter train-sae` and `darkmatter train-family`: the recipe and the target.
import { InputError } from "../errors";
import { checkTargetKind, LinearMapOptions, TargetKind } from "./targets";
import { DEFAULT_RECIPE, RECIPE_ARCHITECTURES, RecipeArchitecture, SaeRecipe } from "./train-target";

export const RECIPE_OPTIONS = {
  target: { type: "string" }, "reference-sae": { type: "string", multiple: true }, "no-intercept": { type: "boolean" },
  "fit-on": { type: "string" }, tokens: { type: "string" }, batch: { type: "string" }, "lr-scale": { type: "string" },
  seed: { type: "string" }, "held-out": { type: "string" }, "split-seed": { type: "string" }, architecture: { type: "string" },
} as const;

export const RECIPE_HELP = `  --architecture A     topk | jumprelu [topk]: TopK (the paper's recipe) or JumpReLU (Gemma Scope's, at a target L0)
  --target T           x | error | linear | nonlinear [x]: the activations, or SaeError = x − Sae(x),
                       LinearError = x·b* (+ intercept) or NonlinearError = SaeError − LinearError of a reference SAE
  --reference-sae P    the reference SAE (any supported format); with several hooks give HOOK=PATH once per hook
  --no-intercept       fit b* without an intercept (default: with one, as the paper's text says)
  --fit-on train|all   rows b* is fitted on: the SAE's training rows, or in-sample on all rows [train]
  --tokens N           training tokens per SAE [${DEFAULT_RECIPE.tokens}]
  --batch B            tokens per step [${DEFAULT_RECIPE.batchSize}]
  --lr-scale S         learning rate = S × 2e-4/√(width/2^14) [${DEFAULT_RECIPE.lrScale}]
  --seed S             training seed [${DEFAULT_RECIPE.seed}]
  --held-out N         rows held out for evaluation [min(8192, 10 % of the rows)]
  --split-seed S       seed of the held-out draw [0]`;

export function intOption(value: string | undefined, name: string, min: number): number | undefined {
  if (value === undefined) return undefined;
  const v = Number(value);
  if (value.trim() === "" || !Number.isSafeInteger(v) || v < min) throw new InputError(`--${name}`, `must be an integer ≥ ${min}, got ${JSON.stringify(value)}`);
  return v;
}

export function intList(value: string | undefined, name: string): number[] | undefined {
  if (value === undefined) return undefined;
  return value.split(",").map((s) => intOption(s.trim(), name, 1)!);
}

type Values = { [K in keyof typeof RECIPE_OPTIONS]?: (typeof RECIPE_OPTIONS)[K] extends { multiple: true } ? string[] : (typeof RECIPE_OPTIONS)[K]["type"] extends "boolean" ? boolean : string };

export interface ParsedRecipe {
  architecture: RecipeArchitecture;
  target: TargetKind;
  recipe: Partial<SaeRecipe>;
  linearMap: LinearMapOptions;
  heldOutRows?: number;
  splitSeed?: number;
}

/** --architecture as a recipe architecture (default topk). */
export function parseArchitecture(value: string | undefined): RecipeArchitecture {
  const a = value ?? "topk";
  if (!(RECIPE_ARCHITECTURES as readonly string[]).includes(a)) throw new InputError("--architecture", `must be one of ${RECIPE_ARCHITECTURES.join(", ")}, got ${JSON.stringify(value)}`);
  return a as RecipeArchitecture;
}

export function parseRecipe(v: Values): ParsedRecipe {
  const architecture = parseArchitecture(v.architecture);
  const target = checkTargetKind(v.target ?? "x", "--target");
  const lrScale = v["lr-scale"] === undefined ? undefined : Number(v["lr-scale"]);
  if (lrScale !== undefined && !(lrScale > 0 && Number.isFinite(lrScale))) throw new InputError("--lr-scale", `must be a positive number, got ${JSON.stringify(v["lr-scale"])}`);
  const fitOn = v["fit-on"];
  if (fitOn !== undefined && fitOn !== "train" && fitOn !== "all") throw new InputError("--fit-on", `must be train or all, got ${JSON.stringify(fitOn)}`);
  return {
    architecture, target,
    recipe: {
      tokens: intOption(v.tokens, "tokens", 1), batchSize: intOption(v.batch, "batch", 1), lrScale,
      seed: intOption(v.seed, "seed", 0),
      // TopK recipes name no architecture, so their cache keys stay what they were.
      ...(architecture === "jumprelu" ? { trainer: { architecture: "jumprelu" as const } } : {}),
    },
    linearMap: { intercept: !v["no-intercept"], ...(fitOn ? { fitOn: fitOn as "train" | "all" } : {}) },
    heldOutRows: intOption(v["held-out"], "held-out", 1),
    splitSeed: intOption(v["split-seed"], "split-seed", 0),
  };
}

/** --reference-sae values as hook → path: a bare PATH applies to the only hook, HOOK=PATH names its hook. */
export function parseReferences(values: string[] | undefined, hooks: string[], target: TargetKind): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values ?? []) {
    const m = /^(blocks\.\d+\.hook_[a-z_]+)=(.+)$/.exec(v);
    if (m) {
      if (!hooks.includes(m[1])) throw new InputError("--reference-sae", `names hook ${m[1]}, which is not trained (hooks: ${hooks.join(", ")})`);
      out[m[1]] = m[2];
    } else {
      if (hooks.length !== 1) throw new InputError("--reference-sae", `with several hooks give HOOK=PATH for each (hooks: ${hooks.join(", ")})`);
      out[hooks[0]] = v;
    }
  }
  if (target === "x" && Object.keys(out).length > 0) throw new InputError("--reference-sae", "applies only to --target error, linear or nonlinear");
  for (const h of hooks) if (target !== "x" && !out[h]) throw new InputError("--reference-sae", `--target ${target} needs a reference SAE for ${h}`);
  return out;
}
