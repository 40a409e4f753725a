// `darkmatter train-sae` and `darkmatter train-family` in-process: files, records and clear errors.
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, test } from "node:test";
import { main } from "../../src/cli/main";
import { readFamilySummary } from "../../src/family";
import { loadSae } from "../../src/sae";
import { HOOKS, tinyStore, TinyStore } from "./store";

let env: TinyStore;
before(async () => { env = await tinyStore(); });
after(() => env.cleanup());

/** Runs the command with console output captured. */
async function quiet(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const log = console.log, error = console.error, write = process.stderr.write;
  let out = "", err = "";
  console.log = (...a: unknown[]) => { out += a.join(" ") + "\n"; };
  console.error = (...a: unknown[]) => { err += a.join(" ") + "\n"; };
  process.stderr.write = (() => true) as typeof process.stderr.write;
  try {
    return { code: await main(args), out, err };
  } finally {
    console.log = log; console.error = error; process.stderr.write = write;
  }
}

test("train-sae trains on x, then on the error of that SAE, and records the reference", async () => {
  const ref = path.join(env.root, "ref");
  const common = ["--activations", env.store.dir, "--hook", HOOKS[1], "--tokens", "1024", "--batch", "128"];
  const a = await quiet(["train-sae", ...common, "--width", "32", "--k", "4", "--out", ref]);
  assert.equal(a.code, 0, a.err);
  assert.match(a.out, /held-out \(108 rows\): FVU/);
  const out = path.join(env.root, "on-error");
  const b = await quiet(["train-sae", ...common, "--width", "16", "--k", "2", "--target", "error", "--reference-sae", ref, "--out", out, "--json"]);
  assert.equal(b.code, 0, b.err);
  const json = JSON.parse(b.out);
  assert.equal(json.result.target, "error");
  const sae = await loadSae(out);
  try {
    const t = sae.metadata.provenance.target as { target: string; reference: { path: string } };
    assert.equal(t.target, "error");
    assert.equal(t.reference.path, path.resolve(ref));
  } finally {
    sae.dispose();
  }
  const record = JSON.parse(fs.readFileSync(path.join(out, "train-config.json"), "utf8"));
  assert.equal(record.request.target, "error");
  assert.equal(record.request.store.key, env.store.manifest.key);
});

test("train-family builds a grid and reuses it on a second run", async () => {
  const out = path.join(env.root, "fam");
  const args = ["train-family", "--activations", env.store.dir, "--widths", "16,32", "--ks", "2", "--hooks", HOOKS[0], "--tokens", "512", "--batch", "128", "--out", out];
  const a = await quiet(args);
  assert.equal(a.code, 0, a.err);
  assert.match(a.out, /\| 0 \| blocks\.0\.hook_resid_post \| 16 \| 2 \|/);
  assert.equal(readFamilySummary(out).trained, 2);
  const b = await quiet(args);
  assert.equal(b.code, 0, b.err);
  assert.equal(readFamilySummary(out).reused, 2);
});

test("train-sae and train-family train JumpReLU SAEs at target L0s, cached apart from TopK ones", async () => {
  const out = path.join(env.root, "jumprelu");
  const a = await quiet(["train-sae", "--architecture", "jumprelu", "--activations", env.store.dir, "--hook", HOOKS[1],
    "--width", "32", "--l0", "4", "--tokens", "2048", "--batch", "128", "--out", out, "--json"]);
  assert.equal(a.code, 0, a.err);
  const sae = await loadSae(out);
  try {
    assert.equal(sae.architecture, "jumprelu");
    assert.equal(sae.applyBDecToInput, false);
    assert.equal(sae.hostWeight("threshold")!.length, 32);
  } finally {
    sae.dispose();
  }
  const record = JSON.parse(fs.readFileSync(path.join(out, "train-config.json"), "utf8"));
  assert.equal(record.request.recipe.trainer.architecture, "jumprelu");
  assert.equal(record.trainConfig.k, 4, "k is the target L0");

  const fam = path.join(env.root, "fam-mixed");
  const common = ["--activations", env.store.dir, "--widths", "16", "--hooks", HOOKS[0], "--tokens", "512", "--batch", "128", "--out", fam];
  assert.equal((await quiet(["train-family", ...common, "--ks", "2"])).code, 0);
  const topkHash = readFamilySummary(fam).entries[0].hash;
  const j = await quiet(["train-family", "--architecture", "jumprelu", ...common, "--l0s", "2"]);
  assert.equal(j.code, 0, j.err);
  const entry = readFamilySummary(fam).entries[0];
  assert.equal(entry.reused, false, "a TopK SAE in the folder is not taken for the JumpReLU one");
  assert.notEqual(entry.hash, topkHash);
});

test("bad options are one clear line and exit code 1", async () => {
  const store = ["--activations", env.store.dir, "--hook", HOOKS[0]];
  const cases: [string[], RegExp][] = [
    [["train-sae", ...store, "--width", "16", "--k", "2", "--target", "linear", "--out", "/tmp/x"], /--reference-sae/],
    [["train-sae", ...store, "--width", "16", "--k", "32", "--out", "/tmp/x"], /--k/],
    [["train-sae", ...store, "--width", "16", "--k", "2", "--target", "bogus", "--out", "/tmp/x"], /--target/],
    [["train-sae", "--activations", env.store.dir, "--width", "16", "--k", "2", "--out", "/tmp/x"], /--hook/],
    [["train-sae", ...store, "--k", "2", "--out", "/tmp/x"], /--width/],
    [["train-family", "--default", "--widths", "16"], /--widths/],
    [["train-family", "--default", "--profile", "huge"], /--profile/],
    [["train-sae", ...store, "--width", "16", "--l0", "2", "--out", "/tmp/x"], /--l0.*jumprelu/],
    [["train-sae", ...store, "--architecture", "jumprelu", "--width", "16", "--k", "2", "--out", "/tmp/x"], /--k.*--l0/],
    [["train-sae", ...store, "--architecture", "jumprelu", "--width", "16", "--out", "/tmp/x"], /--l0/],
    [["train-sae", ...store, "--architecture", "jumprelu", "--width", "16", "--l0", "16", "--out", "/tmp/x"], /--l0/],
    [["train-sae", ...store, "--architecture", "gated", "--width", "16", "--k", "2", "--out", "/tmp/x"], /--architecture/],
    [["train-family", "--activations", env.store.dir, "--widths", "16", "--l0s", "2", "--out", "/tmp/x"], /--l0s/],
    [["train-family", "--architecture", "jumprelu", "--activations", env.store.dir, "--widths", "16", "--ks", "2", "--out", "/tmp/x"], /--ks/],
    [["train-family", "--default", "--architecture", "bogus"], /--architecture/],
    [["train-family", "--activations", env.store.dir, "--widths", "16,x", "--ks", "2", "--out", "/tmp/x"], /--widths/],
    [["train-family", "--activations", env.store.dir, "--widths", "16", "--ks", "2", "--out", "/tmp/x", "--reference-sae", "/r"], /--reference-sae/],
    [["train-family", "--activations", path.join(env.root, "nothing"), "--widths", "16", "--ks", "2", "--out", "/tmp/x"], /manifest/],
  ];
  for (const [args, message] of cases) {
    const r = await quiet(args);
    assert.equal(r.code, 1, `${args.join(" ")}: ${r.err}`);
    assert.match(r.err, message, args.join(" "));
  }
});
