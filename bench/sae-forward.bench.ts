// SAE forward throughput (tokens/s of Sae.forward on the default backend) next to numpy running the same forward, in
// two cases:
// - JumpReLU, Gemma-Scope-2B-16k-sized (d_in 2304, 16384 latents) on 8192 tokens: pre = x·W_enc + b_enc;
//   f = pre·1[pre > θ]; x̂ = f·W_dec + b_dec.
// - TopK, the size of the project's widest family SAE (d_in 128, 8192 latents, k 32) on 104,960 tokens, the token count
//   of an analysis notebook: pre = (x − b_dec)·W_enc + b_enc; the k largest of relu(pre) per token; x̂ = f·W_dec + b_dec.
// Seeded random weights. Ours also returns per-token L0, the error and the FVU (latents: false, as the analyses call
// it). Its decode adds the active rows of W_dec (sparse) where that is cheaper; the "decode forced dense" rows run
// f·W_dec as a matmul. numpy selects the top k with np.argpartition and decodes the k rows per token (sparse) or
// builds f and runs f @ W_dec (dense), 4096 tokens at a time (one batch of pre would need 3.4 GB).
import { initBackend, tf } from "../src/backend/index";
import { ForwardOptions, Sae } from "../src/sae/index";
import { printTable, runPython, timeIt } from "./harness";

interface Case {
  name: string;
  arch: "jumprelu" | "topk";
  d_in: number;
  d_sae: number;
  tokens: number;
  /** JumpReLU: pre ~ N(0, 1) per latent, so θ = 2.65 keeps ≈ 0.4% of latents active (L0 ≈ 66, Gemma Scope's mid-range). */
  threshold?: number;
  k?: number;
  reps: number;
  numpyChunk: number;
}

const CASES: Case[] = [
  { name: "JumpReLU 2304×16384, 8192 tokens", arch: "jumprelu", d_in: 2304, d_sae: 16384, tokens: 8192, threshold: 2.65, reps: 3, numpyChunk: 1024 },
  { name: "TopK 128×8192 k 32, 104960 tokens", arch: "topk", d_in: 128, d_sae: 8192, k: 32, tokens: 104960, reps: 3, numpyChunk: 4096 },
];

type NumpyRow = { name: string; seconds: number; tokens_per_s: number; mean_l0: number };

function makeSae(c: Case): Sae {
  const { d_in, d_sae } = c;
  const W_enc = tf.randomNormal([d_in, d_sae], 0, 1 / Math.sqrt(d_in), "float32", 1) as tf.Tensor2D;
  const W_dec = tf.randomNormal([d_sae, d_in], 0, 1 / Math.sqrt(d_sae), "float32", 2) as tf.Tensor2D;
  const b_dec = tf.randomNormal([d_in], 0, 0.1, "float32", 3) as tf.Tensor1D;
  if (c.arch === "jumprelu") {
    return new Sae({ architecture: "jumprelu", d_in, d_sae, applyBDecToInput: false,
      weights: { W_enc, W_dec, b_dec, b_enc: tf.zeros([d_sae]), threshold: tf.fill([d_sae], c.threshold!) } });
  }
  return new Sae({ architecture: "topk", d_in, d_sae, k: c.k, applyBDecToInput: true,
    weights: { W_enc, W_dec, b_dec, b_enc: tf.randomNormal([d_sae], -0.1, 0.1, "float32", 5) } });
}

async function main(): Promise<void> {
  const info = await initBackend();
  const rows: (string | number)[][] = [];
  let blas = "not installed";
  for (const c of CASES) {
    const sae = makeSae(c);
    const xt = tf.randomNormal([c.tokens, c.d_in], 0, 1, "float32", 4);
    const x = xt.dataSync() as Float32Array;
    xt.dispose();
    const ours: (string | number)[][] = [];
    const variants: [string, ForwardOptions][] = [
      [`ours (${info.name})`, { latents: false }],
      [`ours (${info.name}), decode forced dense`, { latents: false, decodePath: "dense" }],
    ];
    for (const [name, options] of variants) {
      let meanL0 = 0;
      const seconds = timeIt(() => { meanL0 = sae.forward(x, options).meanL0; }, c.reps, 1);
      ours.push([c.name, name, seconds, c.tokens / seconds, meanL0]);
    }
    sae.dispose();
    const numpy = runPython<{ rows: NumpyRow[]; blas: string }>("sae-forward.py", {
      arch: c.arch, d_in: c.d_in, d_sae: c.d_sae, tokens: c.tokens, threshold: c.threshold, k: c.k, reps: c.reps, chunk: c.numpyChunk,
    });
    if (numpy) blas = numpy.blas;
    const theirs = (numpy?.rows ?? []).map((r) => [c.name, r.name, r.seconds, r.tokens_per_s, r.mean_l0]);
    const base = numpy ? Math.max(...numpy.rows.map((r) => r.tokens_per_s)) : undefined;
    for (const r of [...ours, ...theirs]) rows.push([...r, base ? (r[3] as number) / base : "n/a"]);
  }
  printTable(`SAE forward (numpy: ${blas})`,
    ["case", "implementation", "seconds", "tokens/s", "mean L0", "× fastest numpy"], rows);
}

main().catch((err) => { console.error(err); process.exit(1); });
