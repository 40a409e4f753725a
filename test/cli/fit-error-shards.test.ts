// `darkmatter fit-error` on shards of the rows (--rows, --stats-out) merged with --merge: the merge prints what a
// single run prints, and bad shard sets (overlap, gap, another SAE or seed, damaged files) are refused by name.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { initBackend } from "../../src/backend";
import { InputError } from "../../src/errors";
import { run } from "../../src/cli/fit-error";
import { writeNpy } from "../../src/io";
import { Sae, saveSaeLens } from "../../src/sae";
import { normals } from "../helpers/random";
import { HOOKS, tinyStore } from "../family/store";

async function captureStdout(fn: () => Promise<number>): Promise<{ code: number; out: string }> {
  const lines: string[] = [];
  const original = console.log, originalErr = console.error;
  console.log = (...a: unknown[]) => { lines.push(a.join(" ")); };
  console.error = () => {};
  try {
    const code = await fn();
    return { code, out: lines.join("\n") };
  } finally {
    console.log = original;
    console.error = originalErr;
  }
}

/** A random ReLU SAE for activations of about `scale` per dimension (untrained: its error is far from linear). */
function saveTinySae(dir: string, d: number, latents: number, seed: number, scale = 1): string {
  const sae = new Sae({
    architecture: "relu", d_in: d, d_sae: latents, applyBDecToInput: false,
    weights: {
      W_enc: normals(d * latents, seed).map((v) => v / Math.sqrt(d)), W_dec: normals(latents * d, seed + 1).map((v) => v / Math.sqrt(latents)),
      b_enc: new Float32Array(latents).fill(-0.2 * scale), b_dec: normals(d, seed + 2).map((v) => v * scale),
    },
  });
  saveSaeLens(sae, dir);
  sae.dispose();
  return dir;
}

/** Every number of two JSON values, pairwise: the largest relative difference (and a structural check). */
function maxRelDiff(a: unknown, b: unknown, at = "$"): number {
  if (typeof a === "number" && typeof b === "number") {
    if (a === b) return 0;
    return Math.abs(a - b) / Math.max(Math.abs(a), Math.abs(b));
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    assert.equal(a.length, b.length, `${at}: lengths differ`);
    return Math.max(0, ...a.map((v, i) => maxRelDiff(v, b[i], `${at}[${i}]`)));
  }
  if (a && b && typeof a === "object" && typeof b === "object") {
    assert.deepEqual(Object.keys(a).sort(), Object.keys(b).sort(), `${at}: keys differ`);
    return Math.max(0, ...Object.keys(a).map((k) => maxRelDiff((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${at}.${k}`)));
  }
  assert.deepEqual(a, b, `${at} differs`);
  return 0;
}

test("three uneven shards merged print what a single run prints", async () => {
  await initBackend();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fit-error-shards-"));
  try {
    const d = 8, contexts = 9, positions = 557; // 5013 rows: the shard boundaries cut chunks of 2048 rows
    const saeDir = saveTinySae(path.join(dir, "sae"), d, 24, 1);
    const acts = normals(contexts * positions * d, 4).map((v, i) => v * (i % d === 0 ? 10 : 1) + 2);
    const npy = path.join(dir, "acts.npy");
    writeNpy(npy, { dtype: "float32", shape: [contexts, positions, d], data: acts });
    const common = ["--activations", npy, "--sae", saeDir, "--train", "3000", "--seed", "3", "--bootstrap", "0", "--weights-mb", "1"];
    const single = JSON.parse((await captureStdout(() => run([...common, "--json"]))).out);
    const ranges = ["0:1000", "1000:1001", "1001:3333", "3333:5013"]; // one shard of one row: one of its two sums is empty
    const files = ranges.map((r, i) => path.join(dir, `shard-${i}.json`));
    for (let i = 0; i < ranges.length; i++) {
      assert.equal((await captureStdout(() => run([...common, "--rows", ranges[i], "--stats-out", files[i]]))).code, 0);
    }
    const mergedText = (await captureStdout(() => run(["--merge", files[2], files[0], files[3], files[1], "--json"]))).out;
    const merged = JSON.parse(mergedText);
    const diff = maxRelDiff(single, merged);
    console.log(`max relative difference merged vs single: ${diff.toExponential(2)}`);
    assert.ok(diff <= 1e-9, `merged differs from the single run by ${diff}`);
    // The order of the files does not matter, to the last bit; the table is the single run's table.
    assert.equal((await captureStdout(() => run(["--merge", ...files, "--json"]))).out, mergedText);
    assert.equal((await captureStdout(() => run(["--merge", files[1], files[3], files[2], files[0]]))).out, (await captureStdout(() => run(common))).out);

    // With the bootstrap: round 1 gives the point estimates and the fit, round 2 (other boundaries) the intervals.
    const withBoot = common.map((v) => (v === "0" ? "20" : v));
    const singleBoot = JSON.parse((await captureStdout(() => run([...withBoot, "--json"]))).out);
    assert.ok(singleBoot.fvu.lo < singleBoot.fvu.value && singleBoot.fvu.value < singleBoot.fvu.hi);
    const statsB = ranges.map((r, i) => path.join(dir, `boot-stats-${i}.json`));
    for (let i = 0; i < ranges.length; i++) await captureStdout(() => run([...withBoot, "--rows", ranges[i], "--stats-out", statsB[i]]));
    const fitFile = path.join(dir, "fit.json");
    const round1 = JSON.parse((await captureStdout(() => run(["--merge", ...statsB, "--json", "--fit-out", fitFile]))).out);
    assert.equal(round1.bootstrap, null);
    assert.match(round1.warnings.at(-1), /no bootstrap intervals/);
    const ranges2 = ["0:2500", "2500:2501", "2501:5013"];
    const boots = ranges2.map((r, i) => path.join(dir, `boot-${i}.json`));
    for (let i = 0; i < ranges2.length; i++) await captureStdout(() => run([...withBoot, "--rows", ranges2[i], "--bootstrap-fit", fitFile, "--stats-out", boots[i]]));
    const mergedBoot = JSON.parse((await captureStdout(() => run(["--merge", boots[1], ...statsB, boots[2], boots[0], "--json"]))).out);
    const diffBoot = maxRelDiff(singleBoot, mergedBoot);
    console.log(`max relative difference merged vs single with 20 bootstrap resamples: ${diffBoot.toExponential(2)}`);
    assert.ok(diffBoot <= 1e-9, `merged with intervals differs from the single run by ${diffBoot}`);

    // A bootstrap round scored with another fit (from shards with other --train) is refused by name.
    const other = withBoot.map((v) => (v === "3000" ? "2900" : v));
    const statsO = ["0:2000", "2000:5013"].map((r, i) => path.join(dir, `other-stats-${i}.json`));
    for (const [i, r] of ["0:2000", "2000:5013"].entries()) await captureStdout(() => run([...other, "--rows", r, "--stats-out", statsO[i]]));
    const fitO = path.join(dir, "other-fit.json");
    await captureStdout(() => run(["--merge", ...statsO, "--fit-out", fitO]));
    const bootO = path.join(dir, "other-boot.json");
    await captureStdout(() => run([...other, "--rows", "0:5013", "--bootstrap-fit", fitO, "--stats-out", bootO]));
    await assert.rejects(run(["--merge", ...statsB, bootO]), (e: unknown) => e instanceof InputError && e.source === bootO && /scored with another fit/.test(e.message));
    await assert.rejects(run([...withBoot, "--rows", "0:5013", "--bootstrap-fit", fitO, "--stats-out", path.join(dir, "never.json")]),
      (e: unknown) => e instanceof InputError && /other settings than the evaluation fit \(trainRows 3000 vs 2900/.test(e.message));
    await assert.rejects(run([...withBoot.map((v) => (v === "20" ? "10" : v)), "--rows", "0:5013", "--bootstrap-fit", fitFile, "--stats-out", path.join(dir, "never.json")]),
      (e: unknown) => e instanceof InputError && e.source === fitFile && /other bootstrap options/.test(e.message));
    await assert.rejects(run(["--merge", ...boots]), /the merge needs the first round's statistics files too/);
    await assert.rejects(run(["--merge", ...statsB, fitFile]), (e: unknown) => e instanceof InputError && e.source === fitFile && /is a fit file/.test(e.message));
    assert.ok(!fs.existsSync(path.join(dir, "never.json")));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("bad shard sets are refused with the file and the problem named", async () => {
  await initBackend();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fit-error-shards-bad-"));
  try {
    const d = 6, rows = 900;
    const saeDir = saveTinySae(path.join(dir, "sae"), d, 12, 5);
    const otherSae = saveTinySae(path.join(dir, "other-sae"), d, 12, 9);
    const npy = path.join(dir, "acts.npy");
    writeNpy(npy, { dtype: "float32", shape: [rows, d], data: normals(rows * d, 6).map((v) => v + 1) });
    const common = ["--activations", npy, "--sae", saeDir, "--seed", "2", "--bootstrap", "0"];
    const shard = async (range: string, name: string, extra: string[] = [], args = common) => {
      const file = path.join(dir, `${name}.json`);
      assert.equal((await captureStdout(() => run([...args, ...extra, "--rows", range, "--stats-out", file]))).code, 0);
      return file;
    };
    const [a, b, c] = [await shard("0:300", "a"), await shard("300:700", "b"), await shard("700:900", "c")];
    const refused = (files: string[], file: string, problem: RegExp) => assert.rejects(run(["--merge", ...files]),
      (e: unknown) => e instanceof InputError && e.source === file && problem.test(e.message));

    await refused([a, await shard("250:700", "overlap"), c], path.join(dir, "overlap.json"), /rows \[250, 700\) overlap .*a\.json/);
    await refused([a, await shard("310:700", "gap"), c], path.join(dir, "gap.json"), /rows \[300, 310\) are in no shard/);
    await refused([a, b], b, /rows \[700, 900\) are in no shard \(a gap at the end/);
    await refused([b, c], b, /rows \[0, 300\) are in no shard \(a gap at the start/);
    await refused([a, a, b, c], a, /overlap/);
    await refused([a, await shard("300:700", "other-sae", [], ["--activations", npy, "--sae", otherSae, "--seed", "2", "--bootstrap", "0"]), c],
      path.join(dir, "other-sae.json"), /is from another SAE than/);
    await refused([a, await shard("300:700", "seed", [], common.map((v) => (v === "2" ? "3" : v))), c], path.join(dir, "seed.json"),
      /other settings than .*seed 3 vs 2/);
    await refused([a, await shard("300:700", "no-intercept", ["--no-intercept"]), c], path.join(dir, "no-intercept.json"), /intercept false vs true/);

    // Damaged files: a truncated JSON, a truncated sidecar, a flipped byte in the sidecar, a missing sidecar.
    const copy = (name: string) => {
      const f = path.join(dir, `${name}.json`);
      fs.copyFileSync(b, f);
      fs.copyFileSync(b.replace(/\.json$/, ".bin"), f.replace(/\.json$/, ".bin"));
      const json = JSON.parse(fs.readFileSync(f, "utf8"));
      json.sidecar.file = `${name}.bin`;
      fs.writeFileSync(f, JSON.stringify(json));
      return f;
    };
    const cut = copy("cut-json");
    fs.writeFileSync(cut, fs.readFileSync(cut, "utf8").slice(0, 200));
    await refused([a, cut, c], cut, /is not valid JSON \(truncated or corrupted\?\)/);
    const short = copy("short-bin");
    fs.truncateSync(short.replace(/\.json$/, ".bin"), 100);
    await refused([a, short, c], short, /sidecar .*short-bin\.bin has 100 bytes, the file records \d+ \(truncated\?\)/);
    const flipped = copy("flipped");
    const bin = fs.readFileSync(flipped.replace(/\.json$/, ".bin"));
    bin[17] ^= 1;
    fs.writeFileSync(flipped.replace(/\.json$/, ".bin"), bin);
    await refused([a, flipped, c], flipped, /does not match the sha256/);
    const lost = copy("lost");
    fs.rmSync(lost.replace(/\.json$/, ".bin"));
    await refused([a, lost, c], lost, /sidecar .*lost\.bin cannot be read \(ENOENT\)/);
    const edited = copy("edited");
    const ej = JSON.parse(fs.readFileSync(edited, "utf8"));
    ej.states.fit.rows = -1;
    fs.writeFileSync(edited, JSON.stringify(ej));
    await refused([a, edited, c], edited, /states\.fit\.rows must be an integer ≥ 0/);
    const notShard = path.join(dir, "not-a-shard.json");
    fs.writeFileSync(notShard, JSON.stringify({ hello: 1 }));
    await refused([a, notShard, c], notShard, /is not a fit-error shard statistics file/);

    // Options that do not fit the command.
    await assert.rejects(run([...common, "--rows", "0:300"]), /--rows: needs --rows and --stats-out together/);
    await assert.rejects(run([...common, "--rows", "800:1000", "--stats-out", path.join(dir, "x.json")]), /reaches past the 900 rows/);
    await assert.rejects(run([...common, "--rows", "5:5", "--stats-out", path.join(dir, "x.json")]), /--rows: must be A:B/);
    await assert.rejects(run(["--merge", a, b, c, "--seed", "1"]), /--seed: does not apply to --merge/);
    await assert.rejects(run(["--merge"]), /give the shards' statistics files/);
    await assert.rejects(run(["--merge", a, b, c, "--fit-out", path.join(dir, "fit.json")]), /computed with --bootstrap 0/);
    assert.ok(!fs.existsSync(path.join(dir, "x.json")), "a refused shard writes nothing");
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("shards of an activation store hook merge to the single run", async () => {
  const { store, cleanup } = await tinyStore();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fit-error-shards-store-"));
  try {
    let sq = 0; // the hook's scale, so that the SAE's error is neither tiny nor exactly linear
    for (const c of store.chunks(HOOKS[1], 1080)) for (const v of c.x) sq += v * v;
    const saeDir = saveTinySae(path.join(dir, "sae"), store.d, 48, 11, Math.sqrt(sq / (1080 * store.d)));
    const common = ["--activations", store.dir, "--hook", HOOKS[1], "--sae", saeDir, "--seed", "1", "--bootstrap", "0", "--json"];
    const single = JSON.parse((await captureStdout(() => run(common))).out);
    const files: string[] = [];
    for (const r of ["0:431", "431:433", "433:1080"]) { // around the store's chunk file boundary at row 432
      files.push(path.join(dir, `${r.replace(":", "-")}.json`));
      await captureStdout(() => run([...common, "--rows", r, "--stats-out", files[files.length - 1]]));
    }
    const merged = JSON.parse((await captureStdout(() => run(["--merge", ...files, "--json"]))).out);
    assert.equal(merged.rows.total, 1080);
    assert.ok(merged.fvu_nonlinear.value > 0.01 && merged.r2_mean_over_dims.value < 0.99, "the test needs an error that is not exactly linear");
    const diff = maxRelDiff(single, merged);
    assert.ok(diff <= 1e-9, `merged differs from the single run by ${diff}: ${JSON.stringify([single, merged])}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
    cleanup();
  }
});
