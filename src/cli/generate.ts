import * as fs from "fs";
import * as path from "path";
import { parseArgs } from "util";
import { initBackend } from "../backend/index";
import { projectRoot } from "../backend/native";
import { InputError } from "../errors";
import { loadLlama2c } from "../lm/checkpoint";
import { generate } from "../lm/generate";
import { disposeParams, toTensors } from "../lm/model";
import { loadTokenizer } from "../lm/tokenizer";

const DEFAULT_MODEL = path.join(projectRoot, "data", "model", "model.bin");
const DEFAULT_TOKENIZER = path.join(projectRoot, "data", "model", "tokenizer.bin");

const HELP = `usage: darkmatter generate [options]

Generates text with a llama2.c model (greedy by default), streaming it to stdout.

options (defaults in brackets):
  --model FILE        llama2.c checkpoint [data/model/model.bin, the project's own model]
  --tokenizer FILE    llama2.c tokenizer.bin [data/model/tokenizer.bin]
  --prompt TEXT       text to continue [none: start from BOS]
  --steps N           new tokens at most [256]
  --temperature X     0 = greedy; > 0 samples from softmax(logits / X) [0]
  --seed N            sampling seed [0]`;

function number(name: string, v: string | undefined, fallback: number, integer: boolean): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (v.trim() === "" || !Number.isFinite(n) || (integer && !Number.isSafeInteger(n))) {
    throw new InputError(`--${name}`, `expected ${integer ? "an integer" : "a number"}, got '${v}'`);
  }
  return n;
}

function existing(file: string, what: string, isDefault: boolean): string {
  if (!fs.existsSync(file)) {
    throw new InputError(file, `${what} not found${isDefault
      ? " (the project's default model; build it with `npx darkmatter train-lm`, or pass --model and --tokenizer)" : ""}`);
  }
  return file;
}

/** `darkmatter generate`: text from a llama2.c model and tokenizer. */
export async function run(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args, allowPositionals: false, options: {
      model: { type: "string" }, tokenizer: { type: "string" }, prompt: { type: "string" }, steps: { type: "string" },
      temperature: { type: "string" }, seed: { type: "string" }, help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) { console.log(HELP); return 0; }
  const modelFile = existing(path.resolve(values.model ?? DEFAULT_MODEL), "model file", values.model === undefined);
  const tokenizerFile = existing(path.resolve(values.tokenizer ?? DEFAULT_TOKENIZER), "tokenizer file", values.tokenizer === undefined);
  const steps = number("steps", values.steps, 256, true);
  const temperature = number("temperature", values.temperature, 0, false);
  const seed = number("seed", values.seed, 0, true);
  const weights = loadLlama2c(modelFile);
  const tokenizer = loadTokenizer(tokenizerFile, weights.config.vocabSize);
  await initBackend();
  const params = toTensors(weights);
  try {
    const decoder = new TextDecoder("utf-8");
    const prompt = values.prompt ?? "";
    process.stdout.write(prompt);
    const result = generate(params, tokenizer, {
      prompt, steps, temperature, seed,
      // Pieces are bytes (byte-fallback tokens may split a character): a streaming decoder joins them.
      onToken: (token, prev) => process.stdout.write(decoder.decode(tokenizer.decodePiece(prev, token), { stream: true })),
    });
    process.stdout.write(decoder.decode() + "\n");
    const made = result.tokens.length - result.promptLength;
    const why = { steps: "--steps reached", seq_len: "the model's seq_len reached", bos: "the model began a new text (BOS)", eos: "end of text (EOS)" }[result.stopped];
    console.error(`(${made} tokens; stopped: ${why})`);
  } finally {
    disposeParams(params);
  }
  return 0;
}
