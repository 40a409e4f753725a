// Gemma-Scope-shaped JumpReLU SAEs at d 2304 (widths 16k, 131k, 262k by default): `darkmatter sae-forward` (blocked
// above the weight budget) next to numpy running the same latent blocks and token chunks, with tokens/s and peak
// RSS of each process (/usr/bin/time -v); then the family decomposition of those SAEs with and without the shared
// XᵀX (reconstructions computed once beforehand, so the two timings differ only in the fitting).
//
// GEMMA_SCALE_DIR (default .cache/gemma-scale), GEMMA_SCALE_WIDTHS (default 16384,131072,262144), GEMMA_SCALE_TOKENS
// (default 20000); the generated files are deleted at the end unless GEMMA_SCALE_KEEP=1 (they take ~8 GB).
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { initBackend } from "../src/backend/index";
import { decomposeSaeError, decomposeSaeFamily } from "../src/darkmatter/decomposition";
import { openTensorFile } from "../src/io/index";
import { arraySource } from "../src/linalg/rows";
import { openSae } from "../src/sae/index";
import { hasNumpy, printTable } from "./harness";

const ROOT = path.resolve(__dirname, "..");
const dir = path.resolve(ROOT, process.env.GEMMA_SCALE_DIR ?? ".cache/gemma-scale");
const widths = (process.env.GEMMA_SCALE_WIDTHS ?? "16384,131072,262144").split(",").map(Number);
const tokens = Number(process.env.GEMMA_SCALE_TOKENS ?? 20000);
const L0 = 60;

function saePath(w: number): string {
  return path.join(dir, "layer_12", `width_${Math.floor(w / 1000)}k`, `average_l0_${L0}`, "params.npz");
}

/** Runs a command under /usr/bin/time -v: wall seconds, peak RSS (MiB) and stdout. */
function timed(cmd: string, args: string[]): { seconds: number; rssMiB: number; stdout: string } {
  const t0 = process.hrtime.bigint();
  const r = spawnSync("/usr/bin/time", ["-v", cmd, ...args], { encoding: "utf8", cwd: ROOT, maxBuffer: 1 << 26 });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed:\n${r.stderr}`);
  const m = /Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr);
  return { seconds, rssMiB: m ? Number(m[1]) / 1024 : NaN, stdout: r.stdout };
}

async function main(): Promise<void> {
  if (!hasNumpy()) {
    console.log("gemma-scale: numpy is needed to generate the SAEs; skipped");
    return;
  }
  execFileSync("python3", [path.join(__dirname, "gemma_scale.py"), "make", dir, "--widths", widths.join(","), "--tokens", String(tokens), "--l0", String(L0)], { stdio: "inherit" });
  const x = path.join(dir, `x-${tokens}.npy`);
  execFileSync("python3", ["-c", `import numpy as np; a = np.load(${JSON.stringify(path.join(dir, "x.npy"))}, mmap_mode="r"); np.save(${JSON.stringify(x)}, np.asarray(a[:${tokens}]))`]);
  const rows: (string | number)[][] = [];
  for (const w of widths) {
    const out = path.join(dir, `out-${w}`);
    const ours = timed(process.execPath, [path.join(ROOT, "bin", "darkmatter.js"), "sae-forward", "--sae", saePath(w), "--input", x, "--out", out, "--json"]);
    const summary = JSON.parse(ours.stdout);
    const block = summary.blocked ? summary.blocked.latentBlock : w, chunk = summary.blocked ? summary.blocked.chunkRows : 4096;
    const np = timed("python3", [path.join(__dirname, "gemma_scale.py"), "forward", saePath(w), x, "--block", String(block), "--chunk", String(chunk)]);
    const ref = JSON.parse(np.stdout);
    rows.push([w, summary.blocked ? `${summary.blocked.blocks} × ${block}` : "whole", tokens, tokens / ours.seconds, ours.rssMiB,
      tokens / ref.seconds, np.rssMiB, summary.mean_l0, ref.mean_l0]);
    fs.rmSync(out, { recursive: true, force: true });
  }
  printTable(`SAE forward at d 2304, ${tokens} tokens: darkmatter sae-forward (whole process, load included) vs numpy on the same blocks (forward loop only)`,
    ["width", "blocks", "tokens", "ours tok/s", "ours RSS MiB", "numpy tok/s", "numpy RSS MiB", "ours L0", "numpy L0"], rows);

  // Family decomposition: Sae(x) of each SAE once, then the decompositions with and without the shared XᵀX.
  await initBackend();
  const xf = openTensorFile(x);
  const xs = xf.readFloat32(xf.entries[0].name);
  xf.close();
  const d = 2304;
  const recon: Float32Array[] = [];
  for (const w of widths) {
    const sae = await openSae(saePath(w));
    try { recon.push(sae.forward(xs, { latents: false }).reconstruction); } finally { sae.dispose(); }
  }
  const activations = arraySource(xs, d, "x");
  const outputs = recon.map((r, i) => ({ reconstructions: arraySource(r, d, `Sae_${widths[i]}(x)`) }));
  const options = { bootstrap: false as const };
  let t0 = process.hrtime.bigint();
  const single = outputs.map((sae) => decomposeSaeError({ activations, sae }, options));
  const before = Number(process.hrtime.bigint() - t0) / 1e9;
  t0 = process.hrtime.bigint();
  const shared = decomposeSaeFamily(activations, outputs, options);
  const after = Number(process.hrtime.bigint() - t0) / 1e9;
  let worst = 0;
  shared.forEach((r, i) => { for (const k of ["vectorR2", "normR2", "fvu", "fvuNonlinear"] as const) worst = Math.max(worst, Math.abs(r[k].value - single[i][k].value) / Math.abs(single[i][k].value)); });
  printTable(`Family decomposition of ${widths.length} SAEs on ${tokens} tokens (Sae(x) precomputed)`,
    ["per-SAE XᵀX s", "shared XᵀX s", "speed-up", "max rel. diff of metrics"], [[before, after, before / after, worst.toExponential(2)]]);
  if (process.env.GEMMA_SCALE_KEEP !== "1") fs.rmSync(dir, { recursive: true, force: true });
}

main().catch((e) => { console.error(e); process.exit(1); });
