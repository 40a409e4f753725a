import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { InputError } from "../../src/errors";
import { checkpointBytes, legacyFreqCis, loadLlama2c, saveLlama2c, LlamaWeights, WeightName } from "../../src/lm/checkpoint";
import { randomWeights, SMALL_CONFIG } from "./random-model";
import { sharedDir } from "./shared";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "lm-checkpoint-test-"));
process.on("exit", () => fs.rmSync(tmp, { recursive: true, force: true }));

const NAMES: WeightName[] = ["tokenEmbedding", "rmsAtt", "wq", "wk", "wv", "wo", "rmsFfn", "w1", "w2", "w3", "rmsFinal", "wcls"];

function assertSameWeights(a: LlamaWeights, b: LlamaWeights): void {
  assert.deepEqual(a.config, b.config);
  for (const n of NAMES) assert.deepEqual(a[n], b[n], n);
}

test("save then load reproduces every weight, shared and unshared classifiers", () => {
  for (const shared of [false, true]) {
    const w = randomWeights({ ...SMALL_CONFIG, sharedClassifier: shared }, 3);
    const file = path.join(tmp, `m-${shared}.bin`);
    saveLlama2c(file, w);
    assert.equal(fs.statSync(file).size, checkpointBytes(w.config));
    const header = new Int32Array(fs.readFileSync(file).buffer.slice(0, 28));
    assert.deepEqual(Array.from(header), [24, 40, 3, 4, 2, shared ? 37 : -37, 32]);
    const back = loadLlama2c(file);
    assertSameWeights(back, w);
    assert.equal(back.wcls === null, shared);
  }
});

test("the legacy RoPE tables are written where run.c skips them", () => {
  const w = randomWeights(SMALL_CONFIG, 4);
  const file = path.join(tmp, "freq.bin");
  saveLlama2c(file, w);
  const all = new Float32Array(fs.readFileSync(file).buffer.slice(28));
  const c = SMALL_CONFIG, d = c.dim, kv = 12, L = c.nLayers, h = c.hiddenDim;
  const before = c.vocabSize * d + L * d * 2 + L * d * d * 2 + L * kv * d * 2 + L * h * d * 3 + d;
  const half = (c.seqLen * (d / c.nHeads)) / 2;
  const { real, imag } = legacyFreqCis(c);
  assert.deepEqual(all.subarray(before, before + half), real);
  assert.deepEqual(all.subarray(before + half, before + 2 * half), imag);
  assert.equal(real[0], 1); // position 0: cos 0
  assert.ok(Math.abs(real[1 * 3 + 1] - Math.cos(Math.pow(10000, -2 / 6))) < 1e-6); // t=1, j=1 (head_size 6: 3 per row)
});

function writeHeaderFile(name: string, header: number[], floats: number): string {
  const file = path.join(tmp, name);
  const buf = Buffer.alloc(28 + 4 * floats);
  header.forEach((v, i) => buf.writeInt32LE(v, 4 * i));
  fs.writeFileSync(file, buf);
  return file;
}

function assertInputError(fn: () => unknown, file: string, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof InputError, `expected InputError, got ${err}`);
    assert.ok(err.message.includes(file), `message names the file: ${err.message}`);
    assert.match(err.message, pattern);
    return true;
  });
}

test("malformed checkpoints fail with InputError before allocating", () => {
  const good = randomWeights(SMALL_CONFIG, 5);
  const file = path.join(tmp, "good.bin");
  saveLlama2c(file, good);
  const bytes = fs.readFileSync(file);
  const cut = path.join(tmp, "cut.bin");
  fs.writeFileSync(cut, bytes.subarray(0, bytes.length - 4));
  assertInputError(() => loadLlama2c(cut), cut, /requires exactly/);
  const long = path.join(tmp, "long.bin");
  fs.writeFileSync(long, Buffer.concat([bytes, Buffer.alloc(4)]));
  assertInputError(() => loadLlama2c(long), long, /requires exactly/);
  // A header claiming an enormous model is rejected from the file size, not by trying to allocate it.
  const huge = writeHeaderFile("huge.bin", [65536, 200000, 1000, 64, 64, 500000, 4096], 16);
  assertInputError(() => loadLlama2c(huge), huge, /requires exactly/);
  const cases: [string, number[], RegExp][] = [
    ["negdim.bin", [-24, 40, 3, 4, 2, 37, 32], /dim is -24/],
    ["zerolayers.bin", [24, 40, 0, 4, 2, 37, 32], /n_layers is 0/],
    ["zerovocab.bin", [24, 40, 3, 4, 2, 0, 32], /vocab_size is 0/],
    ["heads.bin", [24, 40, 3, 5, 5, 37, 32], /n_heads 5 does not divide dim 24/],
    ["kvheads.bin", [24, 40, 3, 4, 3, 37, 32], /n_kv_heads 3 does not divide n_heads 4/],
    ["zeroheads.bin", [24, 40, 3, 0, 2, 37, 32], /n_heads is 0/],
    ["oddhead.bin", [24, 40, 3, 8, 2, 37, 32], /head size 3/],
    ["v1.bin", [0x616b3432, 1, 24, 40, 3, 4, 2], /version 1 export/],
  ];
  for (const [name, header, pattern] of cases) {
    const f = writeHeaderFile(name, header, 100);
    assertInputError(() => loadLlama2c(f), f, pattern);
  }
  const short = path.join(tmp, "short.bin");
  fs.writeFileSync(short, Buffer.alloc(10));
  assertInputError(() => loadLlama2c(short), short, /too short/);
  assertInputError(() => loadLlama2c(path.join(tmp, "missing.bin")), "missing.bin", /cannot open/);
  // A NaN weight is bad input, not a model.
  const nan = Buffer.from(bytes);
  nan.writeFloatLE(NaN, 28 + 4 * 10);
  const nanFile = path.join(tmp, "nan.bin");
  fs.writeFileSync(nanFile, nan);
  assertInputError(() => loadLlama2c(nanFile), nanFile, /tokenEmbedding has a non-finite value/);
});

test("saveLlama2c refuses weights that do not match their config", () => {
  const w = randomWeights(SMALL_CONFIG, 6);
  assert.throws(() => saveLlama2c(path.join(tmp, "bad.bin"), { ...w, wq: w.wq.subarray(1) }), /weight wq has/);
  assert.throws(() => saveLlama2c(path.join(tmp, "bad.bin"), { ...w, wcls: null }), /sharedClassifier/);
  assert.ok(!fs.existsSync(path.join(tmp, "bad.bin")));
});

const shared = sharedDir();
test("stories260K loads with the README's header and writes back identically", { skip: !shared && "../shared is absent" }, () => {
  const file = path.join(shared!, "data", "stories260K", "stories260K.bin");
  const w = loadLlama2c(file);
  assert.deepEqual(w.config, { dim: 64, hiddenDim: 172, nLayers: 5, nHeads: 8, nKvHeads: 4, vocabSize: 512, seqLen: 512, sharedClassifier: true });
  const out = path.join(tmp, "stories.bin");
  saveLlama2c(out, w);
  const a = fs.readFileSync(file), b = fs.readFileSync(out);
  assert.equal(a.length, b.length);
  const fa = new Float32Array(a.buffer.slice(a.byteOffset + 28, a.byteOffset + a.length));
  const fb = new Float32Array(b.buffer.slice(b.byteOffset + 28, b.byteOffset + b.length));
  assert.ok(a.subarray(0, 28).equals(b.subarray(0, 28)));
  // Weights are bit-identical; the recomputed RoPE tables differ from PyTorch's float32 cos/sin by at most an ulp or so.
  let maxDiff = 0, differing = 0;
  for (let i = 0; i < fa.length; i++) if (fa[i] !== fb[i]) { differing++; maxDiff = Math.max(maxDiff, Math.abs(fa[i] - fb[i])); }
  assert.ok(maxDiff < 1e-6, `max difference ${maxDiff}`);
  const tables = 512 * 4 * 2;
  assert.ok(differing <= tables);
  const weightsEnd = fa.length - tables;
  assert.ok(fa.subarray(0, weightsEnd).every((v, i) => v === fb[i]), "weights are bit-identical");
});
