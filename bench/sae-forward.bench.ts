// JumpReLU SAE forward of a Gemma-Scope-2B-16k-sized SAE (d_in 2304, 16384 latents, seeded random weights) on 8192
// tokens: tokens/s of Sae.forward on the default backend next to numpy running the same forward
// (pre = x·W_enc + b_enc; f = pre·1[pre > θ]; x̂ = f·W_dec + b_dec). Ours also returns the sparse latents, per-token
// L0, the error and the FVU. Its decode adds the active rows of W_dec (sparse) where the backend allows; the
// "decode forced dense" row runs f·W_dec as a matmul like numpy does.
import { initBackend, tf } from "../src/backend/index";
import { ForwardOptions, Sae } from "../src/sae/index";
import { printTable, runPython, timeIt } from "./harness";

const D_IN = 2304, D_SAE = 16384, TOKENS = 8192;
// pre ~ N(0, 1) per latent, so θ = 2.65 keeps ≈ 0.4% of latents active: L0 ≈ 66, as in Gemma Scope's mid-range SAEs.
const THRESHOLD = 2.65;
const REPS = 3, NUMPY_CHUNK = 1024;

async function main(): Promise<void> {
  const info = await initBackend();
  const sae = new Sae({
    architecture: "jumprelu", d_in: D_IN, d_sae: D_SAE, applyBDecToInput: false,
    weights: {
      W_enc: tf.randomNormal([D_IN, D_SAE], 0, 1 / Math.sqrt(D_IN), "float32", 1),
      W_dec: tf.randomNormal([D_SAE, D_IN], 0, 1 / Math.sqrt(D_SAE), "float32", 2),
      b_enc: tf.zeros([D_SAE]), b_dec: tf.randomNormal([D_IN], 0, 0.1, "float32", 3), threshold: tf.fill([D_SAE], THRESHOLD),
    },
  });
  const xt = tf.randomNormal([TOKENS, D_IN], 0, 1, "float32", 4);
  const x = xt.dataSync() as Float32Array;
  xt.dispose();
  const rows: (string | number)[][] = [];
  const variants: [string, ForwardOptions][] = [
    [`ours (${info.name})`, {}],
    [`ours (${info.name}), decode forced dense`, { decodePath: "dense" }],
  ];
  for (const [name, options] of variants) {
    let meanL0 = 0;
    const seconds = timeIt(() => { meanL0 = sae.forward(x, options).meanL0; }, REPS, 1);
    rows.push([name, seconds, TOKENS / seconds, meanL0]);
  }
  sae.dispose();
  const numpy = runPython<{ rows: { name: string; seconds: number; tokens_per_s: number; mean_l0: number }[]; blas: string }>(
    "sae-forward.py", { d_in: D_IN, d_sae: D_SAE, tokens: TOKENS, threshold: THRESHOLD, reps: REPS, chunk: NUMPY_CHUNK });
  for (const r of numpy?.rows ?? []) rows.push([r.name, r.seconds, r.tokens_per_s, r.mean_l0]);
  const base = numpy?.rows[0].tokens_per_s;
  printTable(`JumpReLU SAE forward, d_in ${D_IN}, ${D_SAE} latents, ${TOKENS} tokens (numpy: ${numpy ? numpy.blas : "not installed"})`,
    ["implementation", "seconds", "tokens/s", "mean L0", "× numpy one batch"],
    rows.map((r) => [...r, base ? (r[2] as number) / base : "n/a"]));
}

main().catch((err) => { console.error(err); process.exit(1); });
