import { test } from "node:test";
import * as assert from "node:assert/strict";
import { arrayData } from "../../src/train/data";
import { evaluateSae } from "../../src/train/evaluate";
import { toSae } from "../../src/train/to-sae";
import { trainSae } from "../../src/train/trainer";
import { sparseDirections } from "./synthetic";

test("a trained TopK or BatchTopK SAE runs as an Sae with the same reconstructions as the trainer's evaluation", async () => {
  const d = 16;
  const { x } = sparseDirections({ d, nTrue: 30, rows: 2048, minActive: 2, maxActive: 3, noise: 0.02, seed: 4 });
  const data = arrayData(x, d);
  for (const architecture of ["topk", "batchtopk"] as const) {
    const trained = await trainSae(data, { nLatents: 48, k: 3, batchSize: 128, epochs: 2, warmupSteps: 5, architecture });
    const sae = toSae(trained);
    try {
      assert.equal(sae.architecture, architecture === "topk" ? "topk" : "jumprelu");
      assert.equal(sae.d_sae, 48);
      assert.equal(sae.metadata.format, "memory");
      assert.equal((sae.metadata.provenance as { steps: number }).steps, trained.trainingLog.steps);
      const out = sae.forward(x);
      const ours = await evaluateSae(trained, data);
      assert.ok(Math.abs(out.fvu - ours.fvu) < 1e-4 * ours.fvu, `${architecture}: Sae fvu ${out.fvu}, trainer ${ours.fvu}`);
      assert.ok(Math.abs(out.meanL0 - ours.l0) < 0.01 * ours.l0 + 1e-9, `${architecture}: L0 ${out.meanL0} vs ${ours.l0}`);
    } finally {
      sae.dispose();
    }
  }
});
