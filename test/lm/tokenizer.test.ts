import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { InputError } from "../../src/errors";
import { BOS, EOS, loadTokenizer, parseTokenizer, saveTokenizer, Tokenizer, tokenizerBytes, TokenizerVocab } from "../../src/lm/tokenizer";
import { rng } from "../helpers/random";
import { referenceEncode } from "./reference";
import { sharedDir } from "./shared";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "lm-tokenizer-test-"));
process.on("exit", () => fs.rmSync(tmp, { recursive: true, force: true }));

/** llama2.c layout: specials, 256 byte tokens, merges (descending scores), then single characters. */
function syntheticVocab(): TokenizerVocab {
  const pieces: string[] = ["<unk>", "\n<s>\n", "\n</s>\n"];
  for (let b = 0; b < 256; b++) pieces.push(`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`);
  const scores: number[] = pieces.map(() => 0);
  const merges = [" a", "ab", " ab", "ba", "aa", " b", "bc", "c ", "é€", " é", "aaa", " abc"];
  merges.forEach((m, i) => { pieces.push(m); scores.push(-i); });
  // "bc" and "ba" tie on purpose (run.c takes the leftmost pair).
  scores[pieces.indexOf("bc")] = scores[pieces.indexOf("ba")];
  [" ", "a", "b", "c", "é", "€", "\n"].forEach((ch, i) => { pieces.push(ch); scores.push(-100 - i); });
  return { pieces, scores };
}

test("encode matches run.c's quadratic merge loop on random text with byte fallback", () => {
  // With "c " in the vocabulary merges may cross spaces (the general path); without it " word" chunks are independent.
  const general = syntheticVocab();
  const wordwise = { pieces: general.pieces.filter((p) => p !== "c "), scores: Array.from(general.scores).filter((_, i) => general.pieces[i] !== "c ") };
  for (const vocab of [general, wordwise]) {
    const tok = new Tokenizer(vocab);
    const alphabet = ["a", "b", "c", " ", " ", "é", "€", "\n", "z", "😀", "中", "\u0000", "ß"];
    const u = rng(11);
    for (let trial = 0; trial < 300; trial++) {
      const len = Math.floor(u() * 40);
      const text = Array.from({ length: len }, () => alphabet[Math.floor(u() * alphabet.length)]).join("");
      const expected = referenceEncode(tok.pieces as Uint8Array[], tok.scores, text, true);
      assert.deepEqual(Array.from(tok.encode(text)), expected, JSON.stringify(text));
      assert.equal(tok.decode(tok.encode(text)), text, "round trip");
      assert.deepEqual(tok.encode(text), tok.encode(text), "cached chunks give the same tokens again");
    }
  }
});

test("encode details: dummy prefix, BOS/EOS, ties to the leftmost pair, empty text", () => {
  const v = syntheticVocab();
  const tok = new Tokenizer(v);
  const id = (p: string) => tok.tokenOf(p);
  assert.deepEqual(Array.from(tok.encode("")), [BOS]);
  assert.deepEqual(Array.from(tok.encode("", { bos: false })), []);
  assert.deepEqual(Array.from(tok.encode("a", { bos: false, eos: true })), [id(" a"), EOS]);
  // " bca": "bc" (score -3) outranks " b" (-5); then neither " bc" nor "bca" is a piece.
  assert.deepEqual(Array.from(tok.encode("bca", { bos: false })), [id(" "), id("bc"), id("a")]);
  // " ab": " a" (0) merges before "ab" (-1), then " a"+"b" = " ab" (-2).
  assert.deepEqual(Array.from(tok.encode("ab", { bos: false })), [id(" ab")]);
  // "xbcba": "bc" and "ba" tie; the leftmost ("bc") merges first.
  assert.deepEqual(Array.from(tok.encode("xbcba", { bos: false })), [id(" "), 3 + 0x78, id("bc"), id("ba")]);
  // Byte fallback for an emoji (4 bytes) and decode back.
  const emoji = tok.encode("😀", { bos: false });
  assert.deepEqual(Array.from(emoji), [id(" "), 3 + 0xf0, 3 + 0x9f, 3 + 0x98, 3 + 0x80]);
  assert.equal(tok.decode([BOS, ...emoji]), "😀");
  // Without BOS the dummy-prefix space stays, as in run.c's decode.
  assert.equal(tok.decode(emoji), " 😀");
  // Stray byte tokens that are not valid UTF-8 decode to replacement characters, not an exception.
  assert.equal(tok.decode([3 + 0xff, 3 + 0x41]), "\ufffdA");
  assert.throws(() => tok.decode([9999]), InputError);
});

test("saveTokenizer / loadTokenizer round trip, and the file layout", () => {
  const v = syntheticVocab();
  const file = path.join(tmp, "tok.bin");
  saveTokenizer(file, v);
  const back = loadTokenizer(file, v.pieces.length);
  const orig = new Tokenizer(v);
  assert.equal(back.vocabSize, orig.vocabSize);
  assert.equal(back.maxTokenLength, 6);
  assert.deepEqual(back.scores, orig.scores);
  assert.deepEqual(back.pieces, orig.pieces);
  const bytes = fs.readFileSync(file);
  assert.equal(bytes.readInt32LE(0), 6);
  assert.equal(bytes.readFloatLE(4), 0);
  assert.equal(bytes.readInt32LE(8), 5);
  assert.equal(bytes.subarray(12, 17).toString("latin1"), "<unk>");
});

test("malformed tokenizer files fail with InputError naming the file", () => {
  const good = tokenizerBytes(syntheticVocab());
  const write = (name: string, buf: Uint8Array) => { const f = path.join(tmp, name); fs.writeFileSync(f, buf); return f; };
  const expectError = (file: string, pattern: RegExp, vocab?: number) => assert.throws(() => loadTokenizer(file, vocab), (e: unknown) =>
    e instanceof InputError && e.message.includes(file) && pattern.test(e.message));
  expectError(write("trunc.bin", good.subarray(0, good.length - 1)), /run past the end/);
  expectError(write("trunc2.bin", good.subarray(0, 4 + 8 + 5 + 3)), /ends inside/);
  const negLen = Buffer.from(good); negLen.writeInt32LE(-5, 8);
  expectError(write("neglen.bin", negLen), /length -5/);
  const longLen = Buffer.from(good); longLen.writeInt32LE(7, 8);
  expectError(write("longlen.bin", longLen), /length 7 is outside/);
  const mtl = Buffer.from(good); mtl.writeInt32LE(0, 0);
  expectError(write("mtl.bin", mtl), /max_token_length is 0/);
  const nan = Buffer.from(good); nan.writeFloatLE(NaN, 4);
  expectError(write("nan.bin", nan), /NaN/);
  expectError(write("tiny.bin", Buffer.alloc(2)), /too short/);
  expectError(write("empty.bin", Buffer.from([6, 0, 0, 0])), /no tokens/);
  const ok = write("ok.bin", good);
  expectError(ok, /but the model's vocabulary has 999/, 999);
  expectError(ok, /more than the model's 100 tokens/, 100);
  expectError(path.join(tmp, "missing.bin"), /cannot read/);
});

test("a vocabulary without byte tokens reports unencodable bytes", () => {
  const tok = new Tokenizer({ pieces: ["<unk>", "<s>", "</s>", " ", "a"], scores: [0, 0, 0, -1, -2] });
  assert.deepEqual(Array.from(tok.encode("aa")), [BOS, 3, 4, 4]);
  assert.throws(() => tok.encode("b"), /byte 0x62 has no token/);
});

const shared = sharedDir();
test("tok512: encode agrees with run.c, decode inverts it, on TinyStories and odd text", { skip: !shared && "../shared is absent" }, () => {
  const dir = path.join(shared!, "data", "stories260K");
  const tok = loadTokenizer(path.join(dir, "tok512.bin"), 512);
  const docs = fs.readFileSync(path.join(dir, "tinystories-sample.txt"), "utf8").split("<|endoftext|>").map((d) => d.trim()).filter(Boolean);
  const odd = ["", " ", "  leading and trailing  ", "tabs\tand\nnewlines\r\n", "emoji 😀🎉 and CJK 中文 and é ü ß",
    "<0x41> literal", "\u0000\u0001 control", "Ünïcödé™ — dash … ellipsis", "a".repeat(300)];
  for (const text of [...docs.slice(0, 25), ...odd]) {
    const ids = tok.encode(text);
    assert.deepEqual(Array.from(ids), referenceEncode(tok.pieces as Uint8Array[], tok.scores, text, true), JSON.stringify(text.slice(0, 40)));
    assert.equal(tok.decode(ids), text);
  }
  // Known pieces of this vocabulary (see tok512.bin): BOS is "\n<s>\n"; " t" is the first merge.
  assert.equal(tok.piece(BOS), "\n<s>\n");
  assert.equal(tok.piece(259), " t");
  // The README counts ~1.04M tokens in the whole sample.
  let total = 0;
  for (const d of docs) total += tok.encode(d, { bos: false }).length;
  assert.ok(total > 0.98e6 && total < 1.1e6, `${total} tokens`);
});

test("parseTokenizer reads in-memory bytes", () => {
  const t = parseTokenizer(tokenizerBytes(syntheticVocab()), "memory");
  assert.equal(t.vocabSize, syntheticVocab().pieces.length);
});
