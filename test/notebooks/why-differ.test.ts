// Notebook 10 on the ci profile: it runs with no error output, says which factor explains the gap in plain words,
// and records its headline numbers and the three claims (model size, architecture, dominant factor).
import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { projectRoot } from "../../src/backend/native";
import { executeNotebook, exportHtml, renderHtml } from "../../src/publish/index";

test("notebook 10 records the study's claims and states which factor explains the gap", { timeout: 1_800_000 }, async () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), "dm-why-differ-"));
  const executed = await executeNotebook(path.join(projectRoot, "notebooks", "10-why-the-numbers-differ.ipynb"), out,
    { env: { DARKMATTER_PROFILE: "ci", DARKMATTER_REPORTS: out }, cellTimeoutS: 900 });
  const outputs = JSON.stringify((JSON.parse(fs.readFileSync(executed, "utf8")) as { cells: { outputs?: unknown[] }[] }).cells.map((c) => c.outputs ?? []));
  assert.match(outputs, /explains (most of )?the gap|none explains the gap/);
  const headline = JSON.parse(fs.readFileSync(path.join(out, "headline", "10-why-the-numbers-differ.json"), "utf8")) as
    { numbers: { baseline: { vectorR2: { value: number } }; factors: { factor: string }[] }; claims: { claim: string; holds: boolean | null }[] };
  assert.equal(headline.claims.length, 3);
  assert.match(headline.claims[0].claim, /as the model grows/);
  assert.match(headline.claims[1].claim, /JumpReLU/);
  assert.ok(headline.numbers.baseline.vectorR2.value > 0 && headline.numbers.baseline.vectorR2.value < 1);
  assert.deepEqual(headline.numbers.factors.map((f) => f.factor), ["width ratio W/d", "intercept", "split rule", "position range",
    "spread of ‖x‖", "SAE training tokens", "architecture", "model size"]);
  const report = renderHtml(await exportHtml(executed));
  assert.ok(report.plots >= 2, "the W/d and gap charts did not render");
  assert.equal(report.errorOutputs, 0, "the page shows error output");
});
