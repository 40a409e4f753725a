// Hugging Face checkpoint forward (src/lm/hf-model.ts): Gemma-2-2B- and Llama-3.2-1B-shaped random BF16 checkpoints,
// generated on the fly (bench/hf-forward.py gen; deleted afterwards), 2 × 256 tokens with per-token loss, next to a
// numpy float32 forward of the same files and tokens. Each side runs in its own process, so peak RSS is its own:
// ours holds the BF16 bytes and converts one layer at a time; numpy holds every weight converted to float32.
// HF_BENCH=llama runs only the smaller model; HF_BENCH_DIR sets where checkpoints are written (default: os tmpdir).
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { initBackend } from "../src/backend/index";
import { loadHfModel } from "../src/lm/hf-model";
import { mulberry32 } from "../src/linalg/random";
import { hasNumpy, printTable, runPython } from "./harness";

const B = 2, T = 256;

const GEMMA2_2B = {
  model_type: "gemma2", vocab_size: 256000, hidden_size: 2304, intermediate_size: 9216, num_hidden_layers: 26,
  num_attention_heads: 8, num_key_value_heads: 4, head_dim: 256, query_pre_attn_scalar: 256, sliding_window: 4096,
  attn_logit_softcapping: 50.0, final_logit_softcapping: 30.0, rms_norm_eps: 1e-6, rope_theta: 10000, max_position_embeddings: 8192,
  hidden_activation: "gelu_pytorch_tanh", tie_word_embeddings: true, bos_token_id: 2, torch_dtype: "bfloat16",
};
const LLAMA32_1B = {
  model_type: "llama", vocab_size: 128256, hidden_size: 2048, intermediate_size: 8192, num_hidden_layers: 16,
  num_attention_heads: 32, num_key_value_heads: 8, head_dim: 64, rms_norm_eps: 1e-5, rope_theta: 500000,
  rope_scaling: { rope_type: "llama3", factor: 32.0, low_freq_factor: 1.0, high_freq_factor: 4.0, original_max_position_embeddings: 8192 },
  max_position_embeddings: 131072, hidden_act: "silu", tie_word_embeddings: true, bos_token_id: 128000, torch_dtype: "bfloat16",
};

interface SideResult { seconds: number; cpuSeconds: number; tokensPerSecond: number; loss: number; maxRssBytes: number; loadSeconds?: number }

function tokensFor(vocab: number): number[][] {
  const r = mulberry32(5);
  return Array.from({ length: B }, () => Array.from({ length: T }, () => Math.floor(r() * vocab)));
}

/** Child mode: load and run one checkpoint, print JSON (so the parent sees this process's own peak RSS). */
async function child(dir: string): Promise<void> {
  await initBackend();
  const t0 = Date.now();
  const model = loadHfModel(dir, { checkFinite: false });
  const loadSeconds = (Date.now() - t0) / 1000;
  const tokens = tokensFor(model.config.vocabSize);
  model.forward(tokens.map((s) => s.slice(0, 8))); // warm-up (page faults, BLAS threads), as the numpy side
  const t1 = process.hrtime.bigint(), c1 = process.cpuUsage();
  const r = model.forward(tokens);
  const seconds = Number(process.hrtime.bigint() - t1) / 1e9;
  const cpu = process.cpuUsage(c1), cpuSeconds = (cpu.user + cpu.system) / 1e6;
  const loss = r.loss!.reduce((a, b) => a + b, 0) / r.loss!.length;
  const out: SideResult = { seconds, cpuSeconds, tokensPerSecond: (B * T) / seconds, loss, maxRssBytes: process.resourceUsage().maxRSS * 1024, loadSeconds };
  console.log(JSON.stringify({ ...out, weightBytes: model.checkpoint.bytes, native: model.usesNative }));
}

async function main(): Promise<void> {
  if (process.argv[2] === "--child") return child(process.argv[3]);
  if (!hasNumpy()) { console.log("numpy is missing: nothing to compare against"); return; }
  const root = fs.mkdtempSync(path.join(process.env.HF_BENCH_DIR ?? os.tmpdir(), "hf-bench-"));
  const models: [string, Record<string, unknown>][] = [["Llama-3.2-1B-shaped", LLAMA32_1B], ["Gemma-2-2B-shaped", GEMMA2_2B]];
  const rows: (string | number)[][] = [];
  try {
    for (const [name, config] of models) {
      if (process.env.HF_BENCH === "llama" && config.model_type !== "llama") continue;
      const dir = path.join(root, name);
      runPython("hf-forward.py", { op: "gen", config, dir });
      const ours = JSON.parse(execFileSync(process.execPath, ["--import", "tsx", __filename, "--child", dir],
        { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], maxBuffer: 1 << 24 }).trim().split("\n").pop()!) as SideResult & { weightBytes: number; native: boolean };
      const np = runPython<SideResult>("hf-forward.py", { op: "forward", dir, tokens: tokensFor(config.vocab_size as number) })!;
      fs.rmSync(dir, { recursive: true, force: true });
      const gb = (x: number) => (x / 2 ** 30).toFixed(2);
      rows.push([name, gb(ours.weightBytes), ours.native ? "ours (native)" : "ours (ts)", ours.tokensPerSecond, ours.cpuSeconds, gb(ours.maxRssBytes),
        (ours.maxRssBytes / ours.weightBytes).toFixed(2), ours.loss.toFixed(4), ours.tokensPerSecond / np.tokensPerSecond, np.cpuSeconds / ours.cpuSeconds]);
      rows.push(["", "", "numpy float32", np.tokensPerSecond, np.cpuSeconds, gb(np.maxRssBytes), (np.maxRssBytes / ours.weightBytes).toFixed(2), np.loss.toFixed(4), 1, 1]);
    }
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
  printTable(`HF checkpoint forward, ${B} × ${T} tokens with per-token loss (random BF16 weights)`,
    ["model", "weights GiB", "side", "tokens/s", "CPU s", "peak RSS GiB", "RSS/weights", "mean loss", "× numpy (wall)", "× numpy (CPU)"], rows);
}

main().catch((e) => { console.error(e); process.exit(1); });
