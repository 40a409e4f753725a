import { test } from "node:test";
import * as assert from "node:assert/strict";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { saveLlama2c } from "../../src/lm/checkpoint";
import { describeLlamaCheckpoint, describeTokenizer, isLlamaCheckpoint, isLlamaTokenizer } from "../../src/lm/inspect";
import { saveTokenizer } from "../../src/lm/tokenizer";
import { randomWeights, SMALL_CONFIG } from "./random-model";
import { sharedDir } from "./shared";

const root = path.resolve(__dirname, "..", "..");
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "lm-cli-test-"));
process.on("exit", () => fs.rmSync(tmp, { recursive: true, force: true }));

const modelFile = path.join(tmp, "model.bin"), tokenizerFile = path.join(tmp, "tokenizer.bin");
saveLlama2c(modelFile, randomWeights(SMALL_CONFIG, 41));
const chars = " abcdefghijklmnopqrstuvwxyz.,!?'-\n";
saveTokenizer(tokenizerFile, { pieces: ["<unk>", "\n<s>\n", "\n</s>\n", ...chars], scores: [0, 0, 0, ...[...chars].map((_, i) => -i)] });

function cli(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [path.join(root, "bin", "darkmatter.js"), ...args], { cwd: root, encoding: "utf8" });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test("darkmatter generate runs a model, is deterministic per seed, and names missing files", () => {
  const a = cli("generate", "--model", modelFile, "--tokenizer", tokenizerFile, "--prompt", "ab", "--steps", "8", "--temperature", "1", "--seed", "3");
  assert.equal(a.status, 0, a.stderr);
  assert.ok(a.stdout.startsWith("ab"));
  assert.match(a.stderr, /tokens; stopped/);
  const b = cli("generate", "--model", modelFile, "--tokenizer", tokenizerFile, "--prompt", "ab", "--steps", "8", "--temperature", "1", "--seed", "3");
  assert.equal(b.stdout, a.stdout);
  const missing = cli("generate", "--model", path.join(tmp, "nope.bin"), "--tokenizer", tokenizerFile);
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /nope\.bin: model file not found/);
  const wrongVocab = path.join(tmp, "tok3.bin");
  saveTokenizer(wrongVocab, { pieces: ["<unk>", "<s>", "</s>"], scores: [0, 0, 0] });
  const mismatch = cli("generate", "--model", modelFile, "--tokenizer", wrongVocab);
  assert.equal(mismatch.status, 1);
  assert.match(mismatch.stderr, /tok3\.bin: has 3 tokens but the model's vocabulary has 37/);
  assert.equal(cli("generate", "--model", modelFile, "--tokenizer", tokenizerFile, "--temperature", "warm").status, 1);
});

test("llama2.c checkpoints and tokenizers are recognised and described, also by darkmatter inspect", () => {
  assert.ok(isLlamaCheckpoint(modelFile));
  assert.ok(!isLlamaCheckpoint(tokenizerFile));
  assert.ok(!isLlamaCheckpoint(tmp));
  assert.ok(isLlamaTokenizer(tokenizerFile));
  assert.ok(!isLlamaTokenizer(modelFile));
  assert.ok(!isLlamaTokenizer(path.join(tmp, "absent.bin")));
  const m = describeLlamaCheckpoint(modelFile);
  assert.equal(m.n_kv_heads, 2);
  assert.equal(m.kv_dim, 12);
  assert.equal(m.classifier, "separate (wcls)");
  // 37·24 embedding + 3 layers · (2·24 + 2·24² + 2·12·24 + 3·40·24) + 24 + 37·24 classifier
  assert.equal(m.parameters, 37 * 24 + 3 * (48 + 2 * 576 + 2 * 288 + 3 * 960) + 24 + 37 * 24);
  assert.equal(m.bytes, fs.statSync(modelFile).size);
  const t = describeTokenizer(tokenizerFile);
  assert.equal(t.vocab_size, 37);
  assert.deepEqual(t.special_tokens, ["<unk>", "\n<s>\n", "\n</s>\n"]);
  const viaCli = cli("inspect", "--json", modelFile);
  assert.equal(viaCli.status, 0, viaCli.stderr);
  assert.equal(JSON.parse(viaCli.stdout).kind, "llama2c-checkpoint");
  assert.equal(JSON.parse(cli("inspect", "--json", tokenizerFile).stdout).kind, "llama2c-tokenizer");
});

const shared = sharedDir();
test("darkmatter generate on stories260K prints the README's greedy text", { skip: !shared && "../shared is absent" }, () => {
  const dir = path.join(shared!, "data", "stories260K");
  const r = cli("generate", "--model", path.join(dir, "stories260K.bin"), "--tokenizer", path.join(dir, "tok512.bin"), "--steps", "60");
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, "Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, " +
    "she saw a big, red ball. She wanted to play with it, but it was too high\n");
  assert.match(String(describeTokenizer(path.join(dir, "tok512.bin")).byte_fallback_tokens), /^all 256/);
  assert.equal(describeLlamaCheckpoint(path.join(dir, "stories260K.bin")).parameters, 512 * 64 + 5 * (2 * 64 + 2 * 64 * 64 + 2 * 32 * 64 + 3 * 172 * 64) + 64);
});
