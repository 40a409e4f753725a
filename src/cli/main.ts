// The command-line entry point. Each command lives in its own module under src/cli/ exporting
// `run(args: string[]): Promise<number>` (the exit code) and is loaded only when called.
import { InputError } from "../errors";

interface CommandModule { run(args: string[]): Promise<number> }
// require (not import()) so that tsx's CommonJS hook compiles the module when the bin runs.
interface CommandEntry { load: () => CommandModule; summary: string }

const COMMANDS: Record<string, CommandEntry> = {
  "fit-error": { load: () => require("./fit-error") as CommandModule, summary: "split one SAE's error into linear and nonlinear parts: R², FVU, FVU_nonlinear" },
  backend: { load: () => require("./backend") as CommandModule, summary: "show which TensorFlow.js backend runs here and why" },
  inspect: { load: () => require("./inspect") as CommandModule, summary: "say what a file or folder is: an SAE (any format) or a tensor file, with its contents" },
  "sae-forward": { load: () => require("./sae-forward") as CommandModule, summary: "run an SAE over stored activations: write recon.npy, error.npy, l0.npy" },
  generate: { load: () => require("./generate") as CommandModule, summary: "generate text with a llama2.c model (default: the project's own)" },
  reproduce: { load: () => require("./reproduce") as CommandModule, summary: "run every notebook into reports/ (the main job)" },
  "train-lm": { load: () => require("./train-lm") as CommandModule, summary: "train the default tokenizer and language model into data/model/" },
  activations: { load: () => require("./activations") as CommandModule, summary: "build an activation store (tokens, losses, hooked activations) from a model and text" },
  "train-sae": { load: () => require("./train-sae") as CommandModule, summary: "train one TopK SAE on a store hook: on x, or on SaeError / LinearError / NonlinearError of a reference SAE" },
  "train-family": { load: () => require("./train-family") as CommandModule, summary: "train a grid of SAEs (widths × ks × hooks) into Gemma Scope folders, cached and resumable (--default: the project's family)" },
};

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  return ["usage: darkmatter <command> [options]   (darkmatter <command> --help for its options)", "", "commands:",
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`)].join("\n");
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    console.log(usage());
    return name ? 0 : 2;
  }
  const entry = COMMANDS[name];
  if (!entry) {
    console.error(`darkmatter: unknown command '${name}'\n\n${usage()}`);
    return 2;
  }
  const mod = entry.load();
  try {
    return await mod.run(args);
  } catch (err) {
    if (err instanceof InputError) {
      console.error(`darkmatter ${name}: ${err.message}`);
      return 1;
    }
    throw err;
  }
}
