// Language-model forward throughput (tokens/s, per-token loss included) on a batch of 8×256 tokens: stories260K
// (when ../shared is present), the project's default model and a wider random model, next to an independent numpy
// forward of the same files and tokens in the same run. The mean losses of both sides are printed as a correctness
// check. Both sides do the same projections; in attention numpy computes the full T×T scores and masks them (the plain
// vectorised way), while ours (src/lm/ops.ts on wasm-blas) skips most of the masked upper triangle.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { initBackend } from "../src/backend/index";
import { projectRoot } from "../src/backend/native";
import { LlamaConfig, LlamaWeights, loadLlama2c, saveLlama2c, kvDim } from "../src/lm/checkpoint";
import { disposeParams, forward, toTensors } from "../src/lm/model";
import { DEFAULT_MODEL_FILE } from "../src/lm/train-default";
import { printTable, runPython, timeIt } from "./harness";

const BATCH = 8, LENGTH = 256, REPS = 5;

const WIDER_SHAPE: LlamaConfig = {
  dim: 192, hiddenDim: 512, nLayers: 6, nHeads: 6, nKvHeads: 6, vocabSize: 2048, seqLen: 256, sharedClassifier: true,
};

/** mulberry32 uniforms → Box–Muller normals (seeded). */
function normals(n: number, seed: number, scale: number): Float32Array {
  let a = seed >>> 0;
  const u = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = scale * Math.sqrt(-2 * Math.log(u() + 1e-12)) * Math.cos(2 * Math.PI * u());
  return out;
}

function randomModel(c: LlamaConfig): LlamaWeights {
  const d = c.dim, h = c.hiddenDim, L = c.nLayers, kv = kvDim(c);
  let s = 1;
  const m = (n: number, fanIn: number) => normals(n, s++, 1 / Math.sqrt(fanIn));
  const ones = (n: number) => new Float32Array(n).fill(1);
  return {
    config: c, tokenEmbedding: normals(c.vocabSize * d, s++, 0.1), rmsAtt: ones(L * d), rmsFfn: ones(L * d), rmsFinal: ones(d),
    wq: m(L * d * d, d), wk: m(L * kv * d, d), wv: m(L * kv * d, d), wo: m(L * d * d, d),
    w1: m(L * h * d, d), w2: m(L * d * h, h), w3: m(L * h * d, d), wcls: null,
  };
}

function randomTokens(vocab: number, seed: number): number[][] {
  const u = normals(BATCH * LENGTH, seed, 1);
  return Array.from({ length: BATCH }, (_, b) => Array.from({ length: LENGTH }, (_, t) =>
    t === 0 ? 1 : Math.floor(Math.abs(u[b * LENGTH + t]) * 100003) % vocab));
}

async function main(): Promise<void> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "lm-forward-bench-"));
  const models: { name: string; path: string; tokens: number[][] }[] = [];
  const stories = path.resolve(projectRoot, "..", "shared", "data", "stories260K", "stories260K.bin");
  if (fs.existsSync(stories)) models.push({ name: "stories260K (64d, 5L, 8h/4kv, V512)", path: stories, tokens: randomTokens(512, 7) });
  // The project's own default model (data/model), and a wider random model of the same family.
  models.push({ name: "default model (128d, 6L, 4h, V2048)", path: DEFAULT_MODEL_FILE, tokens: randomTokens(2048, 8) });
  const widerPath = path.join(tmp, "wider.bin");
  saveLlama2c(widerPath, randomModel(WIDER_SHAPE));
  models.push({ name: "wider random (192d, 6L, 6h, V2048)", path: widerPath, tokens: randomTokens(WIDER_SHAPE.vocabSize, 9) });

  // numpy first, before this process loads OpenBLAS: its idle worker threads spin for a while after each call and
  // would take cores from the Python process.
  const numpy = runPython<{ rows: { tokens_per_s: number; mean_loss: number }[]; blas: string }>("lm-forward.py", { models, reps: REPS });
  const backend = await initBackend();
  const ours = models.map((m) => {
    const params = toTensors(loadLlama2c(m.path));
    let loss = 0;
    const seconds = timeIt(() => {
      const l = forward(params, m.tokens).loss!;
      loss = l.reduce((s, x) => s + x, 0) / l.length;
    }, REPS, 1);
    disposeParams(params);
    return { tokensPerS: (BATCH * LENGTH) / seconds, loss };
  });
  fs.rmSync(tmp, { recursive: true, force: true });
  printTable(`LM forward + per-token loss, batch ${BATCH}×${LENGTH} (ours: ${backend.name}; numpy: ${numpy ? numpy.blas : "not installed"})`,
    ["model", "ours tok/s", "numpy tok/s", "ours/numpy", "ours mean CE", "numpy mean CE"],
    models.map((m, i) => [m.name, ours[i].tokensPerS, numpy ? numpy.rows[i].tokens_per_s : "n/a",
      numpy ? ours[i].tokensPerS / numpy.rows[i].tokens_per_s : "n/a", ours[i].loss.toFixed(5),
      numpy ? numpy.rows[i].mean_loss.toFixed(5) : "n/a"]));
}

main().catch((err) => { console.error(err); process.exit(1); });
