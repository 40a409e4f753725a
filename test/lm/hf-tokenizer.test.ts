import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { InputError } from "../../src/errors";
import { loadHfTokenizer } from "../../src/lm/hf-tokenizer";

// A real Llama 3.1 tokenizer.json shipped in an npm package, checked against llama3-tokenizer-js, an independent
// implementation with its own baked vocabulary and merges (and the token ids its own test suite publishes).
const LLAMA31_DIR = path.join(__dirname, "..", "..", "node_modules", "@lenml", "tokenizer-llama3_1", "models");
// eslint-disable-next-line @typescript-eslint/no-var-requires
const { llama3Tokenizer } = require("llama3-tokenizer-js/bundle/commonjs-llama3-tokenizer-with-baked-data.cjs") as {
  llama3Tokenizer: { encode(text: string, o: { bos: boolean; eos: boolean }): number[] };
};

const tokenizer = loadHfTokenizer(LLAMA31_DIR, 128000);

test("Llama 3.1 tokenizer.json: ids published by llama3-tokenizer-js", () => {
  const published: [string, number[]][] = [
    ["grabbed", [59312, 2788]], [" grabbed", [30418]], ["           grabbed", [1881, 30418]], ["\n", [198]], [" \n", [720]],
    ["\ttabs\t\t\t\tout here", [3324, 3518, 573, 14294, 1618]], ["ax\n####\nboo", [710, 198, 71050, 34093]], ["镇", [104643]],
    ["🦙", [9468, 99, 247]], ["🦙Ꙋ", [9468, 99, 247, 166, 247, 232]], ["Ꙋ🦙", [166, 247, 232, 9468, 99, 247]],
    ["This is a test sentence.", [2028, 374, 264, 1296, 11914, 13]],
  ];
  for (const [text, ids] of published) assert.deepEqual(Array.from(tokenizer.encode(text, { bos: false })), ids, JSON.stringify(text));
  assert.deepEqual(Array.from(tokenizer.encode("I")), [128000, 40]);
  // This tokenizer_config.json (Llama 3.1 Instruct's) names <|eot_id|> as eos_token.
  assert.deepEqual(Array.from(tokenizer.encode("I", { bos: false, eos: true })), [40, 128009]);
  assert.equal(tokenizer.vocabSize, 128256);
});

test("Llama 3.1 tokenizer.json agrees with llama3-tokenizer-js on a long text, and its pieces spell the text's bytes", () => {
  const text = fs.readFileSync(path.join(__dirname, "..", "..", "README.md"), "utf8") + " Ünïcödé — 🦙 naïve café 日本語のテキスト\t\n  x";
  const ours = Array.from(tokenizer.encode(text, { bos: false }));
  assert.deepEqual(ours, llama3Tokenizer.encode(text, { bos: false, eos: false }));
  assert.ok(ours.length > 1000);
  assert.equal(tokenizer.decode(tokenizer.encode(text)), text);
  const bytes = Buffer.concat(ours.map((t, i) => tokenizer.decodePiece(i ? ours[i - 1] : -1, t)));
  assert.equal(bytes.toString("utf8"), text);
  assert.equal(tokenizer.piece(1917), "Ġworld");
  assert.throws(() => tokenizer.piece(128256), InputError);
});

test("tokenizer folders: missing or malformed tokenizer.json is an InputError naming the file", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hf-tok-"));
  try {
    assert.throws(() => loadHfTokenizer(dir), (e: unknown) => e instanceof InputError && e.message.includes(dir) && /no tokenizer.json/.test(e.message));
    fs.writeFileSync(path.join(dir, "tokenizer.json"), "{ not json");
    assert.throws(() => loadHfTokenizer(dir), (e: unknown) => e instanceof InputError && /tokenizer.json.*not valid JSON/.test(e.message));
    fs.writeFileSync(path.join(dir, "tokenizer.json"), "{}");
    assert.throws(() => loadHfTokenizer(dir), /no "model" section/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
