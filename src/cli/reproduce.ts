import * as path from "path";
import { parseArgs } from "util";
import { InputError } from "../errors";
import { reproduce, userParameters } from "../publish/index";

/** `darkmatter reproduce [--profile full|ci|paper] [--out DIR] [--only NAME]...`: the main job. */
export async function run(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      profile: { type: "string", default: "full" },
      out: { type: "string" },
      only: { type: "string", multiple: true },
      jobs: { type: "string" },
      "topk-only": { type: "boolean" },
      help: { type: "boolean", short: "h" },
      // the user's own SAEs and activations (see USER_DATA)
      "sae-dir": { type: "string" },
      activations: { type: "string" },
      model: { type: "string" },
      tokenizer: { type: "string" },
      text: { type: "string" },
      hook: { type: "string" },
    },
  });
  if (values.help) {
    console.log("usage: darkmatter reproduce [--profile full|ci|paper] [--out reports] [--only NOTEBOOK_NAME_PART]... [--jobs N (notebooks at once, default 2)] [--topk-only]");
    console.log("  The main job also runs 02, 03 and 05 on the project's JumpReLU family (reports/jumprelu/); --topk-only skips that.");
    console.log(USER_DATA);
    return 0;
  }
  if (values.profile !== "full" && values.profile !== "ci" && values.profile !== "paper") {
    console.error(`darkmatter reproduce: --profile must be full, ci or paper, not ${values.profile}`);
    return 2;
  }
  const jobs = values.jobs === undefined ? undefined : Number(values.jobs);
  if (jobs !== undefined && !(Number.isInteger(jobs) && jobs >= 1)) {
    console.error(`darkmatter reproduce: --jobs must be a positive integer, not ${values.jobs}`);
    return 2;
  }
  let parameters: Record<string, string | null> | undefined;
  const userFlags = ["activations", "model", "tokenizer", "text", "hook"] as const;
  if (values["sae-dir"] !== undefined) {
    try {
      parameters = userParameters({ saeDir: values["sae-dir"], activations: values.activations, model: values.model,
        tokenizer: values.tokenizer, text: values.text, hook: values.hook });
    } catch (e) {
      if (!(e instanceof InputError)) throw e;
      console.error(`darkmatter reproduce: ${e.message}`);
      return 2;
    }
  } else if (userFlags.some((f) => values[f] !== undefined)) {
    console.error("darkmatter reproduce: --activations, --model, --tokenizer, --text and --hook need --sae-dir (a folder of your SAEs)");
    return 2;
  }
  // A user's report goes to a folder of its own, never over the project's reports/.
  const outDir = values.out ?? (parameters ? `report-${path.basename(parameters.saeDir!)}` : undefined);
  await reproduce({ profile: values.profile, outDir, only: values.only, jobs, parameters, ...(values["topk-only"] ? { jumprelu: [] } : {}) });
  return 0;
}

const USER_DATA = `On your own SAEs (the report goes to --out, default ./report-<name of DIR>):
  darkmatter reproduce --sae-dir DIR (--activations STORE_OR_NPY | --model M.bin --tokenizer T.bin --text F.txt |
                                      --model HF_FOLDER --text F.txt) [--hook H] [--only NAME] --out DIR
  HF_FOLDER is a Hugging Face checkpoint (config.json, safetensors, tokenizer.json; Gemma 2 or Llama 3).
  DIR holds SAEs in any supported format (Gemma Scope, SAELens, sparsify, Llama Scope); every path is checked before a notebook starts.`;
