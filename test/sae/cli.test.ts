// `darkmatter inspect` and `darkmatter sae-forward`, in-process where the output is data and through the real
// command for exit codes and files.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { INSPECTORS, inspectPath, renderDescription } from "../../src/cli/inspect";
import { InputError } from "../../src/errors";
import { openTensorFile, writeNpy } from "../../src/io/index";
import { FIXTURES, assertClose, loadReference, tempDir } from "./helpers";

const ROOT = path.resolve(__dirname, "..", "..");

function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [path.join(ROOT, "bin", "darkmatter.js"), ...args], { encoding: "utf8", cwd: ROOT });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test("inspect describes SAEs of every format and plain tensor files", () => {
  const gemma = inspectPath(path.join(FIXTURES, "gemma-scope-2b-pt-res/layer_3/width_1k/average_l0_12"));
  assert.equal(gemma.kind, "sae");
  assert.equal(gemma.format, "gemma-scope");
  assert.equal(gemma.architecture, "jumprelu");
  assert.equal(gemma.d_in, 8);
  assert.equal(gemma.d_sae, 1024);
  assert.deepEqual(Object.keys(gemma.threshold as object), ["min", "median", "max"]);
  assert.equal((gemma.metadata as Record<string, unknown>).nominalL0, 12);

  const llama = inspectPath(path.join(FIXTURES, "Llama3_1-8B-Base-L3R-8x"));
  assert.equal(llama.format, "llama-scope");
  assert.deepEqual(llama.threshold, { scalar: Math.fround(0.4) });
  const files = llama.files as { tensors: { name: string; dtype: string; shape: number[] }[] }[];
  assert.deepEqual(files[0].tensors.find((t) => t.name === "encoder.weight"), { name: "encoder.weight", dtype: "bfloat16", shape: [128, 16] });

  const topk = inspectPath(path.join(FIXTURES, "sparsify-run"));
  assert.equal(topk.format, "sparsify");
  assert.equal(topk.k, 5);

  // An .npz without an encoder is a tensor file, not a Gemma Scope SAE.
  const plain = inspectPath(path.join(FIXTURES, "reference", "sparsify.npz"));
  assert.equal(plain.kind, "tensor-file");
  assert.equal(plain.format, "npz");
  assert.deepEqual((plain.tensors as { name: string }[]).map((t) => t.name), ["x", "f", "recon", "l0", "fvu"]);

  const text = renderDescription(gemma);
  assert.match(text, /^kind: sae$/m);
  assert.match(text, /W_enc\s+float32\s+\[8, 1024\]/);

  assert.throws(() => inspectPath(FIXTURES), (e: unknown) => e instanceof InputError && /not something inspect recognises/.test(e.message));
  assert.throws(() => inspectPath(path.join(FIXTURES, "nope")), /does not exist/);
  assert.deepEqual(INSPECTORS.map((i) => i.name).slice(-1), ["tensor-file"], "the generic inspector stays last");
});

test("darkmatter inspect: exit codes and --json", () => {
  const ok = cli(["inspect", path.join(FIXTURES, "saelens-v6-gated"), "--json"]);
  assert.equal(ok.status, 0, ok.stderr);
  const d = JSON.parse(ok.stdout);
  assert.equal(d.format, "saelens");
  assert.equal(d.architecture, "gated");
  const bad = cli(["inspect", FIXTURES]);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /not something inspect recognises/);
  assert.equal(cli(["inspect"]).status, 2);
});

test("darkmatter sae-forward writes recon, error and l0 that match the reference", () => {
  const ref = loadReference("saelens-v6-topk-f16");
  const dir = tempDir("cli");
  const input = path.join(dir, "x.npy");
  writeNpy(input, { dtype: "float32", shape: [ref.rows, ref.d_in], data: ref.x });
  const out = path.join(dir, "out");
  // A tiny memory budget forces many blocks, so this also checks the streaming.
  const r = cli(["sae-forward", "--sae", path.join(FIXTURES, "saelens-v6-topk-f16"), "--input", input, "--out", out, "--memory-mb", "0.001", "--json"]);
  assert.equal(r.status, 0, r.stderr);
  const summary = JSON.parse(r.stdout);
  assert.equal(summary.rows, ref.rows);
  assert.ok(Math.abs(summary.fvu - ref.fvu) < 1e-5 * ref.fvu);
  assert.deepEqual(fs.readdirSync(out).sort(), ["error.npy", "l0.npy", "recon.npy"]);
  const read = (name: string) => {
    const f = openTensorFile(path.join(out, name));
    try { return f.read(f.entries[0].name); } finally { f.close(); }
  };
  const recon = read("recon.npy"), error = read("error.npy"), l0 = read("l0.npy");
  assert.deepEqual(recon.shape, [ref.rows, ref.d_in]);
  assertClose(recon.data as Float32Array, ref.recon, 1e-5, "recon.npy");
  assertClose(error.data as Float32Array, Float64Array.from(ref.x, (v, i) => v - ref.recon[i]), 1e-5, "error.npy");
  assert.equal(l0.dtype, "int32");
  assert.deepEqual(Array.from(l0.data as Int32Array), Array.from(ref.l0));

  const wrong = path.join(dir, "wrong.npy");
  writeNpy(wrong, { dtype: "float32", shape: [3, ref.d_in + 1], data: new Float32Array(3 * (ref.d_in + 1)) });
  const bad = cli(["sae-forward", "--sae", path.join(FIXTURES, "saelens-v6-topk-f16"), "--input", wrong, "--out", path.join(dir, "o2")]);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /shape \[3, 13\]; the SAE needs \[n, 12\]/);
  assert.ok(!fs.existsSync(path.join(dir, "o2", "recon.npy")), "no partial outputs");
  assert.equal(cli(["sae-forward", "--sae", FIXTURES]).status, 2);
});
