// The project's own default language model: a BPE tokenizer and a small Llama trained here, on CPU, on the
// public-domain State of the Union corpus, written to data/model/ with a model card. `npx darkmatter train-lm`
// runs this; the committed files are what every analysis uses when no other model is named.
import * as fs from "fs";
import * as path from "path";
import { backendInfo } from "../backend/index";
import { writeFileAtomic } from "../io/index";
import type { Progress } from "../progress";
import { FIRST_LEARNED_ID, trainBpe } from "./bpe";
import { saveLlama2c, loadLlama2c, type LlamaWeights } from "./checkpoint";
import { type Corpus, HELD_OUT_EVERY, defaultCorpus, splitCorpus } from "./corpus";
import { TokenizedCorpus, piecesAreWordwise, tokenizeDocuments } from "./corpus-tokens";
import { disposeParams, toTensors } from "./model";
import { Tokenizer, loadTokenizer, saveTokenizer } from "./tokenizer";
import { DEFAULT_TRAIN, EvalPoint, TrainConfig, evalContexts, meanLoss, trainLanguageModel, unigramCE } from "./train";

const projectRoot = path.resolve(__dirname, "..", "..");
export const DEFAULT_MODEL_DIR = path.join(projectRoot, "data", "model");
export const DEFAULT_MODEL_FILE = path.join(DEFAULT_MODEL_DIR, "model.bin");
export const DEFAULT_TOKENIZER_FILE = path.join(DEFAULT_MODEL_DIR, "tokenizer.bin");
export const DEFAULT_TRAIN_CACHE = path.join(projectRoot, ".cache", "train-lm");

/** The committed default model and its tokenizer. */
export function loadDefaultModel(): { weights: LlamaWeights; tokenizer: Tokenizer } {
  const weights = loadLlama2c(DEFAULT_MODEL_FILE);
  return { weights, tokenizer: loadTokenizer(DEFAULT_TOKENIZER_FILE, weights.config.vocabSize) };
}

/** Tokenises documents with a tokenizer (word-cached when its pieces allow; identical to encoding whole texts). */
export function tokenizeWith(tokenizer: Tokenizer, documents: Corpus["documents"], progress?: Progress): TokenizedCorpus {
  return tokenizeDocuments(documents, (t) => tokenizer.encode(t, { bos: false }), piecesAreWordwise(tokenizer.pieces), progress);
}

export interface ModelReport {
  corpus: { name: string; source: string; sha256: string; documents: number; trainDocuments: number; heldOutDocuments: number;
    heldOutRule: string; trainTokens: number; heldOutTokens: number };
  tokenizer: { vocabSize: number; merges: number; characters: number; heldOutBytesPerToken: number };
  model: { dim: number; hiddenDim: number; nLayers: number; nHeads: number; nKvHeads: number; vocabSize: number; seqLen: number;
    sharedClassifier: boolean; parameters: number; fileBytes: number };
  training: { steps: number; batchSize: number; contextLength: number; tokensSeen: number; lr: number; minLr: number; warmupSteps: number;
    weightDecay: number; betas: [number, number]; gradClip: number; seed: number; seconds: number; backend: string; machine: string };
  evaluation: { contexts: number; tokensPerSplit: number; trainCE: number; heldOutCE: number; unigramHeldOutCE: number; uniformCE: number };
  curve: EvalPoint[];
  command: string;
  /** The model card's heading when it is not the default model's. */
  title?: string;
}

export interface TrainDefaultOptions {
  outDir: string;
  corpus?: Corpus;
  config?: TrainConfig;
  cacheDir?: string | null;
  progress?: Progress;
  log?: (line: string) => void;
  /** The command line recorded in the model card. */
  command?: string;
  /** Reuse this tokenizer.bin (copied to outDir) instead of training BPE, so several models share it exactly. */
  tokenizerFile?: string;
  /** The model card's first heading (default: the project's default language model). */
  title?: string;
}

/** Merged pieces and single characters of a BPE vocabulary laid out as trainBpe writes it. */
function vocabCounts(t: Tokenizer): { merges: number; chars: number } {
  let merges = 0, chars = 0;
  for (let i = FIRST_LEARNED_ID; i < t.pieces.length; i++) {
    if ([...Buffer.from(t.pieces[i]).toString("utf8")].length > 1) merges++; else chars++;
  }
  return { merges, chars };
}

/** Trains tokenizer and model, evaluates them and writes model.bin, tokenizer.bin, MODEL_CARD.md and model-card.json. */
export function trainDefaultModel(options: TrainDefaultOptions): ModelReport {
  const log = options.log ?? (() => undefined);
  const corpus = options.corpus ?? defaultCorpus();
  const cfg = options.config ?? DEFAULT_TRAIN;
  const split = splitCorpus(corpus);
  log(`corpus ${corpus.name}: ${corpus.documents.length} documents (${split.train.length} train, ${split.heldOut.length} held out)`);

  const tokenizerFile = path.join(options.outDir, "tokenizer.bin");
  let vocab: { merges: number; chars: number };
  if (options.tokenizerFile) {
    const given = loadTokenizer(options.tokenizerFile, cfg.model.vocabSize); // InputError on a wrong file or vocabulary size
    if (path.resolve(options.tokenizerFile) !== path.resolve(tokenizerFile)) {
      fs.mkdirSync(options.outDir, { recursive: true });
      writeFileAtomic(tokenizerFile, fs.readFileSync(options.tokenizerFile));
    }
    vocab = vocabCounts(given);
  } else {
    const trained = trainBpe(split.train.map((d) => d.text), { vocabSize: cfg.model.vocabSize }, options.progress);
    if (trained.pieces.length !== cfg.model.vocabSize) {
      throw new Error(`the corpus supports only ${trained.pieces.length} tokens, not the configured ${cfg.model.vocabSize}`);
    }
    saveTokenizer(tokenizerFile, { pieces: trained.pieces, scores: trained.scores });
    vocab = trained;
  }
  const tokenizer = loadTokenizer(tokenizerFile, cfg.model.vocabSize);
  const train = tokenizeWith(tokenizer, split.train);
  const heldOut = tokenizeWith(tokenizer, split.heldOut);
  const heldOutBytes = split.heldOut.reduce((s, d) => s + Buffer.byteLength(d.text, "utf8"), 0);
  log(`tokenizer: ${vocab.merges} merges, ${vocab.chars} characters; ${train.tokens.length} train and ${heldOut.tokens.length} held-out tokens ` +
    `(${(heldOutBytes / heldOut.tokens.length).toFixed(3)} bytes/token held out)`);

  const result = trainLanguageModel(cfg, {
    train, heldOut, cacheDir: options.cacheDir === undefined ? DEFAULT_TRAIN_CACHE : options.cacheDir, progress: options.progress,
    onEval: (e) => log(`step ${e.step}: train CE ${e.trainCE.toFixed(4)}, held-out CE ${e.heldOutCE.toFixed(4)} (${e.tokensSeen} tokens seen)`),
  });
  const modelFile = path.join(options.outDir, "model.bin");
  saveLlama2c(modelFile, result.weights);

  // Final numbers on the evaluation contexts of the config, from the saved file (what users get).
  const saved = loadLlama2c(modelFile);
  const params = toTensors(saved);
  const T = cfg.model.seqLen;
  const heldOutCtx = evalContexts(heldOut, cfg, "heldout"), trainCtx = evalContexts(train, cfg, "train");
  let trainCE: number, heldOutCE: number;
  try {
    trainCE = meanLoss(params, trainCtx, T);
    heldOutCE = meanLoss(params, heldOutCtx, T);
  } finally {
    disposeParams(params);
  }
  const c = cfg.model;
  const report: ModelReport = {
    corpus: { name: corpus.name, source: corpus.source, sha256: corpus.hash, documents: corpus.documents.length,
      trainDocuments: split.train.length, heldOutDocuments: split.heldOut.length,
      heldOutRule: `document i (in file-name order) is held out iff i % ${HELD_OUT_EVERY} == ${HELD_OUT_EVERY - 1}`,
      trainTokens: train.tokens.length, heldOutTokens: heldOut.tokens.length },
    tokenizer: { vocabSize: tokenizer.pieces.length, merges: vocab.merges, characters: vocab.chars, heldOutBytesPerToken: heldOutBytes / heldOut.tokens.length },
    model: { ...c, parameters: result.parameters, fileBytes: fs.statSync(modelFile).size },
    training: { steps: result.steps, batchSize: cfg.batchSize, contextLength: T, tokensSeen: result.tokensSeen, lr: cfg.lr, minLr: cfg.minLr,
      warmupSteps: cfg.warmupSteps, weightDecay: cfg.weightDecay, betas: [cfg.beta1, cfg.beta2], gradClip: cfg.gradClip, seed: cfg.seed,
      seconds: Math.round(result.seconds), backend: backendInfo().name, machine: machineDescription() },
    evaluation: { contexts: cfg.evalContexts, tokensPerSplit: cfg.evalContexts * (T - 1), trainCE, heldOutCE,
      unigramHeldOutCE: unigramCE(train, c.vocabSize, heldOutCtx, T), uniformCE: Math.log(c.vocabSize) },
    curve: result.evals,
    command: options.command ?? "npx darkmatter train-lm",
    ...(options.title ? { title: options.title } : {}),
  };
  writeFileAtomic(path.join(options.outDir, "model-card.json"), JSON.stringify(report, null, 2) + "\n");
  writeFileAtomic(path.join(options.outDir, "MODEL_CARD.md"), modelCard(report));
  return report;
}

function machineDescription(): string {
  const os = require("os") as typeof import("os");
  const cpus = os.cpus();
  const threads = process.env.OPENBLAS_NUM_THREADS ? `, OPENBLAS_NUM_THREADS=${process.env.OPENBLAS_NUM_THREADS}` : "";
  return `${cpus.length} × ${cpus[0]?.model ?? "unknown CPU"}, Node ${process.version}${threads}`;
}

const f3 = (x: number) => x.toFixed(3);

/** The model card (Markdown) for a report. */
export function modelCard(r: ModelReport): string {
  const m = r.model, t = r.training, e = r.evaluation;
  const curve = r.curve.map((p) => `| ${p.step} | ${p.tokensSeen.toLocaleString("en-US")} | ${f3(p.trainCE)} | ${f3(p.heldOutCE)} |`);
  return `# ${r.title ?? "The project's default language model"}

A ${(m.parameters / 1e6).toFixed(2)}M-parameter Llama in llama2.c format (\`model.bin\`, \`tokenizer.bin\`), trained by this
project on CPU so that every analysis has a real model and real text with no download. It is a small model: use it to
run and check the pipeline, not to draw conclusions about large language models.

## Data
- Corpus: ${r.corpus.source}.
- ${r.corpus.documents} documents (one per address), normalised (NFC, control characters removed, whitespace runs → one space).
- Split by document: ${r.corpus.heldOutRule} → ${r.corpus.trainDocuments} train / ${r.corpus.heldOutDocuments} held-out documents,
  ${r.corpus.trainTokens.toLocaleString("en-US")} / ${r.corpus.heldOutTokens.toLocaleString("en-US")} tokens. corpus sha256 \`${r.corpus.sha256}\`.

## Tokenizer
SentencePiece-style BPE trained here on the train split (\`src/lm/bpe.ts\`): ${r.tokenizer.vocabSize} tokens = 3 special
(\`<unk>\`, BOS, EOS) + 256 byte-fallback tokens + ${r.tokenizer.merges} merges (scores 0, −1, … in merge order) +
${r.tokenizer.characters} characters, so llama2.c's encoder (highest score first) applies the merges in the order they
were learned; characters outside the vocabulary fall back to byte tokens. Held-out compression:
${f3(r.tokenizer.heldOutBytesPerToken)} UTF-8 bytes per token.

## Architecture
dim ${m.dim}, hidden_dim ${m.hiddenDim}, ${m.nLayers} layers, ${m.nHeads} heads (${m.nKvHeads} kv heads), vocab ${m.vocabSize},
seq_len ${m.seqLen}, classifier ${m.sharedClassifier ? "shared with the token embedding" : "separate"}; RMSNorm, RoPE, SwiGLU.
${m.parameters.toLocaleString("en-US")} parameters; \`model.bin\` is ${m.fileBytes.toLocaleString("en-US")} bytes.

## Training
AdamW (β = ${t.betas.join(", ")}, weight decay ${t.weightDecay} on matrices), peak learning rate ${t.lr} after ${t.warmupSteps}
warm-up steps, cosine decay to ${t.minLr}, gradient clipping at global norm ${t.gradClip}; seed ${t.seed} for the initial
weights and the batch order. ${t.steps} steps × ${t.batchSize} contexts × ${t.contextLength} tokens (BOS + ${t.contextLength - 1}
consecutive tokens of one training document, start drawn uniformly) = ${t.tokensSeen.toLocaleString("en-US")} tokens predicted.
Training took ${Math.round(t.seconds / 60)} min of wall time (${t.seconds} s, evaluation excluded) on ${t.machine}, tfjs
backend ${t.backend}; the machine may have been shared with other jobs, which only makes this slower.

## Evaluation (nats per token)
Mean next-token cross-entropy over ${e.contexts} fixed contexts of ${t.contextLength} tokens per split (${e.tokensPerSplit.toLocaleString("en-US")}
predictions each), every prediction after BOS counted:

| | cross-entropy |
|---|---|
| this model, train split | ${f3(e.trainCE)} |
| this model, held-out split | ${f3(e.heldOutCE)} |
| unigram baseline (train token frequencies, add-one), held-out | ${f3(e.unigramHeldOutCE)} |
| uniform over the vocabulary | ${f3(e.uniformCE)} |

Learning curve:

| step | tokens seen | train CE | held-out CE |
|---|---|---|---|
${curve.join("\n")}

## Licence
The addresses are works of the US Government and in the public domain; the npm package's data is PDDL-1.0 / CC0-1.0.
The weights and tokenizer were produced by this project and are released under the project's licence (MIT).

## Reproduce
\`\`\`
${r.command}
\`\`\`
Training is deterministic on a given machine and backend (seeded initialisation and batch order); it checkpoints to
\`.cache/train-lm/<config hash>/\` and an interrupted run resumes from the last checkpoint. Numbers are also in
\`model-card.json\`.
`;
}
