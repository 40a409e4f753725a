import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import { describe, it } from "node:test";
import { InputError } from "../../src/errors";
import { FIRST_LEARNED_ID, bytePiece, trainBpe } from "../../src/lm/bpe";
import { loadSotuCorpus, splitCorpus } from "../../src/lm/corpus";
import { piecesAreWordwise, tokenizeDocuments } from "../../src/lm/corpus-tokens";
import { Tokenizer, loadTokenizer, parseTokenizer, tokenizerBytes } from "../../src/lm/tokenizer";
import { DEFAULT_TOKENIZER_FILE, tokenizeWith } from "../../src/lm/train-default";
import { tinyCorpus } from "../activations/tiny";

describe("BPE trainer", () => {
  const texts = tinyCorpus().documents.map((d) => d.text);
  const vocab = trainBpe(texts, { vocabSize: 768 });
  const tok = new Tokenizer({ pieces: vocab.pieces, scores: vocab.scores });

  it("lays the vocabulary out like llama2.c's SentencePiece export", () => {
    assert.equal(vocab.pieces.length, 768);
    assert.deepEqual(vocab.pieces.slice(0, 3), ["<unk>", "\n<s>\n", "\n</s>\n"]);
    for (let b = 0; b < 256; b++) assert.equal(vocab.pieces[3 + b], bytePiece(b));
    assert.equal(bytePiece(0xab), "<0xAB>");
    assert.equal(vocab.merges + vocab.chars, 768 - FIRST_LEARNED_ID);
    // Merged pieces first (≥ 2 characters), then single characters; scores strictly fall in that order.
    for (let i = FIRST_LEARNED_ID; i < 768; i++) {
      const chars = [...vocab.pieces[i]].length;
      assert.ok(i < FIRST_LEARNED_ID + vocab.merges ? chars >= 2 : chars === 1, `piece ${i} ${JSON.stringify(vocab.pieces[i])}`);
      if (i > FIRST_LEARNED_ID) assert.ok(vocab.scores[i] < vocab.scores[i - 1]);
    }
    assert.equal(new Set(vocab.pieces).size, 768, "pieces are unique");
    assert.ok(piecesAreWordwise(tok.pieces), "no piece has a space after its first character");
    assert.ok(vocab.pieces.includes(" the") && vocab.pieces.includes(" "), "frequent words and the space are pieces");
  });

  it("is deterministic", () => {
    const again = trainBpe(texts, { vocabSize: 768 });
    assert.deepEqual(again.pieces, vocab.pieces);
    assert.deepEqual(again.scores, vocab.scores);
  });

  it("round-trips text through llama2.c's encode/decode, unknown characters via byte fallback", () => {
    const samples = [...texts.slice(0, 5), "naïve café — ½ 日本語 \u{1F600}!", "x", "  two  spaces  "];
    for (const s of samples) {
      const ids = tok.encode(s);
      assert.equal(tok.decode(ids), s);
      assert.deepEqual(tok.encode(tok.decode(ids)), ids);
    }
    const ids = tok.encode("日", { bos: false });
    assert.deepEqual([...ids].slice(1), [...Buffer.from("日")].map((b) => b + 3), "unknown characters become byte tokens");
    // Written and read back as tokenizer.bin, the vocabulary encodes identically.
    const reread = parseTokenizer(tokenizerBytes({ pieces: vocab.pieces, scores: vocab.scores }), "roundtrip");
    assert.deepEqual(reread.encode(texts[3]), tok.encode(texts[3]));
  });

  it("word-cached corpus tokenisation equals encoding whole documents", () => {
    const docs = tinyCorpus().documents.slice(0, 8);
    const enc = (t: string) => tok.encode(t, { bos: false });
    const fast = tokenizeDocuments(docs, enc, true), exact = tokenizeDocuments(docs, enc, false);
    assert.deepEqual(fast.tokens, exact.tokens);
    assert.deepEqual(fast.offsets, exact.offsets);
  });

  it("validates its options", () => {
    assert.throws(() => trainBpe(texts, { vocabSize: 100 }), InputError);
    assert.throws(() => trainBpe(texts, { vocabSize: 1000, minCharCount: 0 }), InputError);
    // A corpus too small for the vocabulary stops early instead of merging pairs seen once.
    const small = trainBpe(["abc abd"], { vocabSize: 600, minCharCount: 1 });
    assert.ok(small.pieces.length < 600);
    assert.ok(small.pieces.includes(" ab"));
  });
});

describe("the committed tokenizer (data/model/tokenizer.bin)", { skip: !fs.existsSync(DEFAULT_TOKENIZER_FILE) && "not built" }, () => {
  it("compresses the held-out addresses and round-trips them", (t) => {
    const tok = loadTokenizer(DEFAULT_TOKENIZER_FILE, 2048);
    const { heldOut } = splitCorpus(loadSotuCorpus());
    const ids = tokenizeWith(tok, heldOut);
    const bytes = heldOut.reduce((s, d) => s + Buffer.byteLength(d.text), 0);
    const bpt = bytes / ids.tokens.length;
    t.diagnostic(`held-out: ${bytes} bytes → ${ids.tokens.length} tokens = ${bpt.toFixed(3)} bytes/token`);
    assert.ok(bpt > 3.5, `${bpt.toFixed(3)} bytes/token`);
    for (const d of heldOut.slice(0, 3)) assert.equal(tok.decode(tok.encode(d.text)), d.text);
  });
});
