// The sanity checks on an SAE's fit: each warning fires past its limit and not before, names the SAE and gives a
// hint; the CLI prints them for a badly matched SAE and not for a matched one.
import { before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { initBackend } from "../../src/backend/index";
import { run as fitError } from "../../src/cli/fit-error";
import { run as saeForward } from "../../src/cli/sae-forward";
import { NormAccumulator, saeFitWarnings, SaeFitFacts } from "../../src/darkmatter/sanity";
import { writeNpy } from "../../src/io/index";
import { Sae, saveGemmaScope } from "../../src/sae/index";
import { DmWarning, onWarning } from "../../src/warnings";

const codes = (f: Partial<SaeFitFacts>) => saeFitWarnings({ sae: "x/sae", ...f }).map((w) => w.code);

describe("sanity checks", () => {
  it("fvu > 1 fires above 1 only", () => {
    assert.deepEqual(codes({ fvu: 1.02 }), ["fvu-above-1"]);
    assert.deepEqual(codes({ fvu: 0.98 }), []);
    assert.deepEqual(codes({ fvu: NaN }), []);
  });

  it("a measured L0 more than 3× away from the nominal one fires, in either direction, with a direction-specific hint", () => {
    const high = saeFitWarnings({ sae: "x/sae", l0Measured: 2030, l0Nominal: 60 });
    assert.deepEqual(high.map((w) => w.code), ["l0-mismatch"]);
    assert.match(high[0].problem, /2030 is 33\.8× the nominal 60/);
    assert.match(high[0].hint!, /larger than the SAE's training data/);
    const low = saeFitWarnings({ sae: "x/sae", l0Measured: 15, l0Nominal: 60 });
    assert.match(low[0].problem, /1\/4\.0 the nominal 60/);
    assert.match(low[0].hint!, /smaller than the SAE's training data/);
    assert.deepEqual(codes({ l0Measured: 170, l0Nominal: 60 }), []);
    assert.deepEqual(codes({ l0Measured: 25, l0Nominal: 60 }), []);
    assert.deepEqual(codes({ l0Measured: 170 }), [], "no nominal L0: nothing to compare");
  });

  it("reconstruction norms far from the activations' norms fire (scaling)", () => {
    assert.deepEqual(codes({ inputNorm: 100, reconstructionNorm: 20 }), ["norm-mismatch"]);
    assert.deepEqual(codes({ inputNorm: 1, reconstructionNorm: 3.5 }), ["norm-mismatch"]);
    assert.deepEqual(codes({ inputNorm: 100, reconstructionNorm: 40 }), []);
    assert.match(saeFitWarnings({ sae: "s", inputNorm: 100, reconstructionNorm: 20 })[0].hint!, /Gemma Scope/);
  });

  it("dropped NaN/Inf rows and fewer test tokens than regressors fire", () => {
    assert.deepEqual(codes({ droppedNonFinite: 3, rows: 1000 }), ["non-finite-dropped"]);
    assert.match(saeFitWarnings({ sae: "s", droppedNonFinite: 3, rows: 1000 })[0].problem, /3 of 1000 rows/);
    assert.deepEqual(codes({ droppedNonFinite: 0, rows: 1000 }), []);
    assert.deepEqual(codes({ testRows: 128, regressors: 129 }), ["too-few-test-rows"]);
    assert.deepEqual(codes({ testRows: 129, regressors: 129 }), []);
  });

  it("every warning names the SAE and has a hint", () => {
    const all = saeFitWarnings({ sae: "gemma/layer_3/width_16k/average_l0_60", fvu: 19.4, l0Measured: 2030, l0Nominal: 60,
      inputNorm: 1, reconstructionNorm: 30, droppedNonFinite: 2, rows: 50, testRows: 20, regressors: 129 });
    assert.equal(all.length, 5);
    for (const w of all) {
      assert.equal(w.subject, "SAE gemma/layer_3/width_16k/average_l0_60");
      assert.ok(w.hint && w.hint.length > 20);
    }
  });

  it("NormAccumulator averages row norms and skips non-finite rows", () => {
    const acc = new NormAccumulator(2);
    acc.add([3, 4, 0, 1, NaN, 0], [0, 1, 0, 2, 1, 1], 3);
    assert.equal(acc.inputNorm, 3);
    assert.equal(acc.reconstructionNorm, 1.5);
    assert.ok(Number.isNaN(new NormAccumulator(2).inputNorm));
  });
});

describe("sanity warnings in the CLI", () => {
  let dir: string, saeDir: string;
  const d = 8, rows = 400;
  before(async () => {
    await initBackend();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "dm-sanity-"));
    // A JumpReLU SAE that copies every coordinate above 1 (threshold 1), labelled Gemma-Scope style with L0 4.
    const eye = new Float32Array(d * d);
    for (let i = 0; i < d; i++) eye[i * d + i] = 1;
    const sae = new Sae({ architecture: "jumprelu", d_in: d, d_sae: d, applyBDecToInput: false,
      weights: { W_enc: eye, W_dec: eye.slice(), b_enc: new Float32Array(d), b_dec: new Float32Array(d), threshold: new Float32Array(d).fill(1) } });
    saeDir = path.join(dir, "layer_0", "width_8", "average_l0_4");
    saveGemmaScope(sae, saeDir);
    sae.dispose();
    // Activations as it was trained on: 4 of 8 coordinates at 5 + noise; and the same 100× smaller (unscaled).
    let s = 7;
    const rand = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
    const x = new Float32Array(rows * d);
    for (let r = 0; r < rows; r++) for (let j = 0; j < d; j++) x[r * d + j] = (j + r) % 2 === 0 ? 5 + rand() : 0;
    writeNpy(path.join(dir, "good.npy"), { dtype: "float32", shape: [rows, d], data: x });
    writeNpy(path.join(dir, "small.npy"), { dtype: "float32", shape: [rows, d], data: x.map((v) => v / 100) });
  });

  async function capture(fn: () => Promise<number>): Promise<{ out: string; warnings: DmWarning[] }> {
    const lines: string[] = [], warnings: DmWarning[] = [];
    const log = console.log;
    console.log = (...a: unknown[]) => { lines.push(a.join(" ")); };
    const stop = onWarning((w) => warnings.push(w));
    try {
      assert.equal(await fn(), 0);
    } finally {
      console.log = log;
      stop();
    }
    return { out: lines.join("\n"), warnings };
  }

  it("fit-error warns about a badly scaled input (fvu, L0, norms) and not about a matched one", async () => {
    const good = await capture(() => fitError(["--activations", path.join(dir, "good.npy"), "--sae", saeDir, "--json", "--bootstrap", "0"]));
    assert.deepEqual(JSON.parse(good.out).sanity, []);
    assert.deepEqual(good.warnings, []);
    const bad = await capture(() => fitError(["--activations", path.join(dir, "small.npy"), "--sae", saeDir, "--json", "--bootstrap", "0"]));
    const printed = JSON.parse(bad.out).sanity as DmWarning[];
    assert.deepEqual(printed.map((w) => w.code).sort(), ["fvu-above-1", "l0-mismatch", "norm-mismatch"]);
    assert.deepEqual(bad.warnings, printed);
    for (const w of printed) assert.ok(w.subject.includes(saeDir) && w.hint);
  });

  it("sae-forward warns about the same mismatch", async () => {
    const good = await capture(() => saeForward(["--sae", saeDir, "--input", path.join(dir, "good.npy"), "--out", path.join(dir, "out-good"), "--json"]));
    assert.deepEqual(JSON.parse(good.out).sanity, []);
    const bad = await capture(() => saeForward(["--sae", saeDir, "--input", path.join(dir, "small.npy"), "--out", path.join(dir, "out-bad"), "--json"]));
    assert.deepEqual(bad.warnings.map((w) => w.code).sort(), ["fvu-above-1", "l0-mismatch", "norm-mismatch"]);
  });
});
