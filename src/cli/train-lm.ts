import * as path from "path";
import { parseArgs } from "util";
import { initBackend } from "../backend/index";
import { InputError } from "../errors";
import { loadTextCorpus } from "../lm/corpus";
import { DEFAULT_TRAIN, TrainConfig, parameterCount } from "../lm/train";
import { DEFAULT_MODEL_DIR, DEFAULT_TRAIN_CACHE, trainDefaultModel } from "../lm/train-default";
import { terminalProgress } from "../progress";

const HELP = `usage: darkmatter train-lm [options]

Trains the project's default model: a BPE tokenizer and a small Llama (llama2.c format) on the State of the Union
corpus (or --text FILE), then writes model.bin, tokenizer.bin, MODEL_CARD.md and model-card.json. Deterministic;
checkpoints to ${path.relative(process.cwd(), DEFAULT_TRAIN_CACHE) || DEFAULT_TRAIN_CACHE}/<config hash>/ and resumes an interrupted run.

options (defaults in brackets):
  --out DIR        output folder [${path.relative(process.cwd(), DEFAULT_MODEL_DIR) || DEFAULT_MODEL_DIR}]
  --text FILE      train on a UTF-8 text file instead (documents split at <|endoftext|> lines or blank lines)
  --tokenizer FILE reuse this tokenizer.bin instead of training BPE (models of a size ladder share one tokenizer)
  --title TEXT     the model card's heading
  --steps N        optimiser steps [${DEFAULT_TRAIN.steps}]
  --batch N        contexts per step [${DEFAULT_TRAIN.batchSize}]
  --micro-batch N  contexts per forward/backward pass, gradients accumulated over the step (a divisor of --batch;
                   for models whose whole batch does not fit the wasm heap) [the whole batch]
  --lr X           peak learning rate [${DEFAULT_TRAIN.lr}]
  --min-lr X       final learning rate [${DEFAULT_TRAIN.minLr}]
  --warmup N       warm-up steps [${DEFAULT_TRAIN.warmupSteps}]
  --seed N         seed of the initial weights and the batch order [${DEFAULT_TRAIN.seed}]
  --dim N          model width [${DEFAULT_TRAIN.model.dim}]
  --hidden N       feed-forward width [${DEFAULT_TRAIN.model.hiddenDim}]
  --layers N       blocks [${DEFAULT_TRAIN.model.nLayers}]
  --heads N        attention heads (kv heads too) [${DEFAULT_TRAIN.model.nHeads}]
  --seq N          context length [${DEFAULT_TRAIN.model.seqLen}]
  --vocab N        tokenizer vocabulary [${DEFAULT_TRAIN.model.vocabSize}]
  --eval-every N   evaluate every N steps [${DEFAULT_TRAIN.evalEvery}]
  --no-cache       do not checkpoint or resume`;

function int(name: string, v: string | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw new InputError(`--${name}`, `expected an integer, got '${v}'`);
  return n;
}

function num(name: string, v: string | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new InputError(`--${name}`, `expected a number, got '${v}'`);
  return n;
}

export async function run(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args, allowPositionals: false, options: {
      out: { type: "string" }, text: { type: "string" }, tokenizer: { type: "string" }, title: { type: "string" }, steps: { type: "string" }, batch: { type: "string" }, "micro-batch": { type: "string" }, lr: { type: "string" },
      "min-lr": { type: "string" }, warmup: { type: "string" }, seed: { type: "string" }, dim: { type: "string" },
      hidden: { type: "string" }, layers: { type: "string" }, heads: { type: "string" }, seq: { type: "string" },
      vocab: { type: "string" }, "eval-every": { type: "string" }, "no-cache": { type: "boolean" }, help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) { console.log(HELP); return 0; }
  const d = DEFAULT_TRAIN;
  const heads = int("heads", values.heads, d.model.nHeads);
  const config: TrainConfig = {
    ...d,
    model: { ...d.model, dim: int("dim", values.dim, d.model.dim), hiddenDim: int("hidden", values.hidden, d.model.hiddenDim),
      nLayers: int("layers", values.layers, d.model.nLayers), nHeads: heads, nKvHeads: heads,
      seqLen: int("seq", values.seq, d.model.seqLen), vocabSize: int("vocab", values.vocab, d.model.vocabSize) },
    steps: int("steps", values.steps, d.steps), batchSize: int("batch", values.batch, d.batchSize), lr: num("lr", values.lr, d.lr),
    minLr: num("min-lr", values["min-lr"], d.minLr), warmupSteps: int("warmup", values.warmup, d.warmupSteps),
    seed: int("seed", values.seed, d.seed), evalEvery: int("eval-every", values["eval-every"], d.evalEvery),
    ...(values["micro-batch"] !== undefined ? { microBatch: int("micro-batch", values["micro-batch"], d.batchSize) } : {}),
  };
  const info = await initBackend();
  const outDir = path.resolve(values.out ?? DEFAULT_MODEL_DIR);
  console.error(`backend: ${info.name}; ${parameterCount(config.model).toLocaleString("en-US")} parameters; output ${outDir}`);
  const report = trainDefaultModel({
    outDir, config, corpus: values.text ? loadTextCorpus(values.text) : undefined,
    cacheDir: values["no-cache"] ? null : DEFAULT_TRAIN_CACHE, progress: terminalProgress(), log: (l) => console.error(l),
    command: ["npx darkmatter train-lm", ...args.map((a) => (/^[\w.,/=:-]+$/.test(a) ? a : JSON.stringify(a)))].join(" "),
    tokenizerFile: values.tokenizer ? path.resolve(values.tokenizer) : undefined, title: values.title,
  });
  const e = report.evaluation;
  console.log(`held-out CE ${e.heldOutCE.toFixed(3)} nats/token (train ${e.trainCE.toFixed(3)}, unigram ${e.unigramHeldOutCE.toFixed(3)}, ` +
    `uniform ${e.uniformCE.toFixed(3)}); ${report.training.tokensSeen.toLocaleString("en-US")} tokens in ${report.training.seconds} s`);
  console.log(`wrote ${path.join(outDir, "model.bin")}, tokenizer.bin, MODEL_CARD.md, model-card.json`);
  return 0;
}
