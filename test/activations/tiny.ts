// A tiny, fast setup shared by the activation-store and training tests: a few State of the Union addresses, a
// 512-token BPE tokenizer trained on them, and a seeded random 2-layer Llama with that vocabulary.
import { trainBpe } from "../../src/lm/bpe";
import type { LlamaConfig, LlamaWeights } from "../../src/lm/checkpoint";
import { Corpus, loadSotuCorpus, makeCorpus } from "../../src/lm/corpus";
import { Tokenizer } from "../../src/lm/tokenizer";
import { initWeights } from "../../src/lm/train";

export interface Tiny { corpus: Corpus; tokenizer: Tokenizer; weights: LlamaWeights; config: LlamaConfig }

let cached: Tiny | undefined;

/** Addresses 0…39, cut to their first 6,000 characters so everything stays quick. */
export function tinyCorpus(): Corpus {
  const sotu = loadSotuCorpus();
  return makeCorpus("sotu-tiny", "first 40 SOTU addresses, 6000 chars each", sotu.documents.slice(0, 40).map((d) => ({ id: d.id, text: d.text.slice(0, 6000) })));
}

export function tiny(): Tiny {
  if (cached) return cached;
  const corpus = tinyCorpus();
  const vocab = trainBpe(corpus.documents.map((d) => d.text), { vocabSize: 512 });
  const tokenizer = new Tokenizer({ pieces: vocab.pieces, scores: vocab.scores });
  const config: LlamaConfig = { dim: 16, hiddenDim: 32, nLayers: 2, nHeads: 2, nKvHeads: 1, vocabSize: 512, seqLen: 64, sharedClassifier: true };
  cached = { corpus, tokenizer, weights: initWeights(config, 7), config };
  return cached;
}
