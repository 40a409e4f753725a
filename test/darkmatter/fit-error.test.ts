// The `darkmatter fit-error` command end to end, on a small SAE saved in SAELens format and activations in .npy.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { initBackend } from "../../src/backend";
import { InputError } from "../../src/errors";
import { run, summarize } from "../../src/cli/fit-error";
import { decomposeSaeError } from "../../src/darkmatter";
import { writeNpy } from "../../src/io";
import { arraySource } from "../../src/linalg";
import { Sae, saveSaeLens } from "../../src/sae";
import { normals } from "../helpers/random";

async function captureStdout(fn: () => Promise<number>): Promise<{ code: number; out: string }> {
  const lines: string[] = [];
  const original = console.log;
  console.log = (...a: unknown[]) => { lines.push(a.join(" ")); };
  try {
    const code = await fn();
    return { code, out: lines.join("\n") };
  } finally {
    console.log = original;
  }
}

test("fit-error prints the decomposition of a saved SAE on .npy activations", async () => {
  await initBackend();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fit-error-"));
  try {
    const d = 8, latents = 24, contexts = 4, positions = 60;
    const sae = new Sae({
      architecture: "relu", d_in: d, d_sae: latents, applyBDecToInput: false,
      weights: {
        W_enc: normals(d * latents, 1).map((v) => v / Math.sqrt(d)), W_dec: normals(latents * d, 2).map((v) => v / Math.sqrt(latents)),
        b_enc: new Float32Array(latents).fill(-0.2), b_dec: normals(d, 3),
      },
    });
    const saeDir = path.join(dir, "sae");
    saveSaeLens(sae, saeDir);
    // [contexts, positions, d]: rows are all leading axes.
    const acts = normals(contexts * positions * d, 4).map((v, i) => v * (i % d === 0 ? 10 : 1) + 2);
    const npy = path.join(dir, "acts.npy");
    writeNpy(npy, { dtype: "float32", shape: [contexts, positions, d], data: acts });

    const { code, out } = await captureStdout(() => run(["--activations", npy, "--sae", saeDir, "--json", "--train", "150", "--bootstrap", "20", "--seed", "3"]));
    assert.equal(code, 0);
    const { sanity, ...printed } = JSON.parse(out);
    assert.ok(Array.isArray(sanity), "the JSON lists the sanity warnings");
    const direct = decomposeSaeError({ activations: arraySource(acts, d), sae: { reconstruct: (x) => sae.forward(x, { latents: false }).reconstruction } },
      { trainRows: 150, seed: 3, bootstrap: { resamples: 20, seed: 3 } });
    assert.deepEqual(printed, JSON.parse(JSON.stringify(summarize(direct))));
    assert.equal(printed.intercept, true);
    assert.deepEqual([printed.rows.total, printed.rows.train, printed.rows.evaluated], [240, 150, 90]);
    assert.ok(printed.fvu_nonlinear.value <= printed.fvu.value + 0.05);

    const noB = await captureStdout(() => run(["--activations", npy, "--sae", saeDir, "--no-intercept", "--bootstrap", "0"]));
    assert.match(noB.out, /b\* fitted without an intercept/);
    assert.match(noB.out, /r2_mean_over_dims\s+x → SaeError\s+-?\d\.\d{4}\n/);

    // Wrong width, a non-tensor file, a folder that is not a store, contradictory flags.
    const narrow = path.join(dir, "narrow.npy");
    writeNpy(narrow, { dtype: "float32", shape: [50, 6], data: normals(300, 5) });
    await assert.rejects(run(["--activations", narrow, "--sae", saeDir]), (e: unknown) => e instanceof InputError && /d_in = 8 but the activations have d = 6/.test(e.message));
    const text = path.join(dir, "notes.txt");
    fs.writeFileSync(text, "not a tensor");
    await assert.rejects(run(["--activations", text, "--sae", saeDir]), InputError);
    await assert.rejects(run(["--activations", dir, "--sae", saeDir]), /not an activation store/);
    await assert.rejects(run(["--activations", npy, "--sae", saeDir, "--intercept", "--no-intercept"]), /contradict/);
    await assert.rejects(run(["--activations", npy, "--sae", saeDir, "--train", "1.5"]), /--train: must be an integer/);
    sae.dispose();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
