import * as fs from "fs";
import * as path from "path";
import { parseArgs } from "util";
import { DEFAULT_STORE_CONFIG, DEFAULT_STORE_ROOT, StoreInputs, buildActivationStore } from "../activations/build";
import type { StoreConfig } from "../activations/manifest";
import { initBackend } from "../backend/index";
import { InputError } from "../errors";
import { loadLlama2c } from "../lm/checkpoint";
import { isHfCheckpointDir } from "../lm/hf-checkpoint";
import { loadHfModel } from "../lm/hf-model";
import { loadHfTokenizer } from "../lm/hf-tokenizer";
import { readTokenContexts } from "../lm/token-file";
import { defaultCorpus, loadTextCorpus } from "../lm/corpus";
import { HOOK_POINTS } from "../lm/hooks";
import { loadTokenizer } from "../lm/tokenizer";
import { DEFAULT_MODEL_FILE, DEFAULT_TOKENIZER_FILE } from "../lm/train-default";
import { terminalProgress } from "../progress";

const rel = (p: string) => path.relative(process.cwd(), p) || p;
const D = DEFAULT_STORE_CONFIG;

const HELP = `usage: darkmatter activations [options]

Builds an activation store: N contexts of T tokens (BOS + T−1 consecutive tokens of one document, drawn with a
seeded shuffle of all such windows), the model's per-token loss, and the activations at the chosen hooks for
positions skip … T−2 (the first positions and the last one are dropped), as chunked .npy files with a manifest.json.
The store lands in OUT/<hash of config, model, tokenizer and text>/: the same request reuses it, an interrupted
build resumes.

options (defaults in brackets):
  --model PATH       llama2.c model.bin, or a Hugging Face checkpoint folder (config.json + safetensors, model_type
                     llama or gemma2; its tokenizer.json is used) [${rel(DEFAULT_MODEL_FILE)}]
  --tokenizer FILE   llama2.c tokenizer.bin [${rel(DEFAULT_TOKENIZER_FILE)}]
  --text FILE        UTF-8 text, documents split at <|endoftext|> lines or blank lines [State of the Union corpus]
  --tokens FILE.npy  int32 token ids [contexts, ctx], used exactly as given (no BOS added), instead of --text;
                     sets --contexts and --ctx
  --part P           all | train | heldout documents of the text (held out: every 20th) [${D.corpusPart}]
  --layers L,L|all   blocks to hook [${D.hooks.map((h) => h.split(".")[1]).join(",")}]
  --hook K,K         ${HOOK_POINTS.map((h) => h.slice(5)).join(" | ")} (several allowed) [resid_post]
  --contexts N       number of contexts [${D.contexts}]
  --ctx T            tokens per context, BOS included [${D.ctx}]
  --skip P           drop positions 0 … P−1 of every context [${D.skip}]
  --seed S           seed of the context draw [${D.seed}]
  --chunk C          contexts per chunk file (and forward batch) [${D.contextsPerChunk}]
  --out DIR          parent folder of stores [${rel(DEFAULT_STORE_ROOT)}]
  --json             print the manifest as JSON at the end`;

function int(name: string, v: string | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw new InputError(`--${name}`, `expected an integer, got '${v}'`);
  return n;
}

export async function run(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args, allowPositionals: false, options: {
      model: { type: "string" }, tokenizer: { type: "string" }, text: { type: "string" }, tokens: { type: "string" }, part: { type: "string" },
      layers: { type: "string" }, hook: { type: "string" }, contexts: { type: "string" }, ctx: { type: "string" },
      skip: { type: "string" }, seed: { type: "string" }, chunk: { type: "string" }, out: { type: "string" },
      json: { type: "boolean" }, help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) { console.log(HELP); return 0; }
  if (values.text && values.tokens) throw new InputError("--tokens", "give --text or --tokens, not both");
  const modelFile = path.resolve(values.model ?? DEFAULT_MODEL_FILE);
  const tokens = values.tokens ? readTokenContexts(values.tokens) : undefined;
  let inputs: StoreInputs;
  if (isHfCheckpointDir(modelFile)) {
    if (values.tokenizer) throw new InputError("--tokenizer", "a Hugging Face folder brings its own tokenizer.json");
    const model = loadHfModel(modelFile);
    // With --tokens the tokenizer is optional (it is only recorded); with text it is required.
    const tokenizer = tokens && !fs.existsSync(path.join(modelFile, "tokenizer.json")) ? null : loadHfTokenizer(modelFile, model.hf.bosTokenId);
    inputs = { model, tokenizer, modelFile, tokenizerFile: tokenizer ? tokenizer.file : null };
  } else {
    const tokenizerFile = path.resolve(values.tokenizer ?? (values.model ? path.join(path.dirname(modelFile), "tokenizer.bin") : DEFAULT_TOKENIZER_FILE));
    const weights = loadLlama2c(modelFile);
    inputs = { weights, tokenizer: loadTokenizer(tokenizerFile, weights.config.vocabSize), modelFile, tokenizerFile };
  }
  if (tokens) inputs.tokens = tokens;
  else inputs.corpus = values.text ? loadTextCorpus(values.text) : defaultCorpus();
  const nLayers = (inputs.weights ?? inputs.model!).config.nLayers;

  const layers = values.layers === undefined ? D.hooks.map((h) => Number(h.split(".")[1]))
    : values.layers === "all" ? Array.from({ length: nLayers }, (_, l) => l)
    : values.layers.split(",").map((s) => {
      const n = Number(s.trim());
      if (s.trim() === "" || !Number.isInteger(n) || n < 0) throw new InputError("--layers", `'${s}' is not a layer number`);
      return n;
    });
  const kinds = (values.hook ?? "resid_post").split(",").map((k) => k.trim().replace(/^hook_/, ""));
  const hooks = layers.flatMap((l) => kinds.map((k) => `blocks.${l}.hook_${k}`));
  const config: StoreConfig = {
    hooks, contexts: tokens ? tokens.count : int("contexts", values.contexts, D.contexts), ctx: tokens ? tokens.ctx : int("ctx", values.ctx, D.ctx),
    skip: int("skip", values.skip, D.skip), seed: int("seed", values.seed, D.seed),
    corpusPart: (values.part ?? D.corpusPart) as StoreConfig["corpusPart"], contextsPerChunk: int("chunk", values.chunk, D.contextsPerChunk),
  };
  await initBackend();
  const t0 = Date.now();
  const result = buildActivationStore(
    inputs,
    { root: path.resolve(values.out ?? DEFAULT_STORE_ROOT), config, progress: terminalProgress() },
  );
  const store = result.store!;
  const m = store.manifest;
  console.error(result.reused ? "reused an existing store" : `built ${result.chunksBuilt} chunks in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  console.log(`store: ${result.dir}`);
  console.log(`${m.rows.toLocaleString("en-US")} rows (${m.config.contexts} contexts × positions ${m.positions.first}…${m.positions.end - 1}) × d ${m.d}; hooks ${m.config.hooks.join(", ")}`);
  if (values.json) console.log(JSON.stringify(m, null, 2));
  store.close();
  return 0;
}
