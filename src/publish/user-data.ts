// The report on a user's own SAEs: the notebook parameters from `darkmatter reproduce --sae-dir …`, checked before
// any notebook starts, so a wrong path or a missing file is one clear error instead of ten failed notebooks.
import * as fs from "fs";
import * as path from "path";
import { openActivationSource } from "../activations/sources";
import { InputError } from "../errors";
import { checkHfCheckpoint, isHfCheckpointDir, loadHfTokenizer, loadLlama2c, loadTokenizer } from "../lm/index";
import { listSaes } from "../pipeline/saes";

/** What a user passes on the command line; paths relative to the current folder. */
export interface UserData {
  saeDir: string;
  activations?: string;
  model?: string;
  tokenizer?: string;
  text?: string;
  hook?: string;
}

/** The notebook parameters for the user's data (absolute paths, every unset one null), or an InputError. */
export function userParameters(data: UserData, cwd = process.cwd()): Record<string, string | null> {
  const abs = (flag: string, p: string | undefined, kind: "file" | "dir" | "any") => {
    if (p === undefined) return null;
    const full = path.resolve(cwd, p);
    if (!fs.existsSync(full)) throw new InputError(`--${flag} ${p}`, "not found");
    const isDir = fs.statSync(full).isDirectory();
    if (kind === "file" && isDir) throw new InputError(`--${flag} ${p}`, "is a folder; expected a file");
    if (kind === "dir" && !isDir) throw new InputError(`--${flag} ${p}`, "is a file; expected a folder of SAEs");
    return full;
  };
  const saeDir = abs("sae-dir", data.saeDir, "dir")!;
  const activations = abs("activations", data.activations, "any");
  // --model is a llama2.c file, or a Hugging Face checkpoint folder that carries its own tokenizer.json.
  const model = abs("model", data.model, "any");
  const hf = model !== null && isHfCheckpointDir(model);
  if (model !== null && !hf && fs.statSync(model).isDirectory()) {
    throw new InputError(`--model ${data.model}`, "is a folder without config.json; expected a llama2.c model.bin or a Hugging Face checkpoint folder");
  }
  const tokenizer = abs("tokenizer", data.tokenizer, "file");
  const text = abs("text", data.text, "file");
  if (activations && (model || tokenizer || text)) {
    throw new InputError("--activations", "give either --activations or --model, --tokenizer and --text, not both");
  }
  if (hf && tokenizer) throw new InputError("--tokenizer", `is not used with a Hugging Face checkpoint folder (${data.model} has its tokenizer.json)`);
  if (!activations && !(model && (tokenizer || hf) && text)) {
    const missing = [["--model", model], ["--tokenizer", tokenizer || hf], ["--text", text]].filter(([, v]) => !v).map(([f]) => f);
    throw new InputError("--sae-dir", activations === null && missing.length === 3
      ? "needs activations: --activations (a store folder or a .npy of [tokens, d]) or --model, --tokenizer and --text"
      : `building activations needs ${missing.join(", ")} too`);
  }
  const { saes, skipped } = listSaes(saeDir);
  if (saes.length === 0) {
    throw new InputError(data.saeDir, `holds no SAE this project can read${skipped.length ? `: ${skipped.slice(0, 3).map((s) => s.problem).join("; ")}` : ""}`);
  }
  const hook = data.hook ?? null;
  if (activations) {
    openActivationSource(activations, hook ?? undefined).close(); // throws InputError for a bad file or hook
  } else if (hf) {
    const config = checkHfCheckpoint(model!); // every tensor present and well-shaped; weights are read by the notebooks
    loadHfTokenizer(model!, config.bosTokenId);
  } else {
    const weights = loadLlama2c(model!);
    loadTokenizer(tokenizer!, weights.config.vocabSize);
  }
  return { saeDir, activations, hook, model, tokenizer, text };
}
