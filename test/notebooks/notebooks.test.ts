// Every notebook executes headlessly through the project kernel on the reduced "ci" configuration, exports to
// HTML, and that HTML shows all its charts and no error output in headless Chromium with the network off. Then every
// analysis notebook runs again with a user's SAEs (another format) and activations set through its parameter cell.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { openActivationStore } from "../../src/activations/index";
import { initBackend } from "../../src/backend/index";
import { ensureDefaultFamily } from "../../src/family/default-family";
import { writeNpy } from "../../src/io/index";
import { executeNotebook, exportHtml, listNotebooks, renderHtml } from "../../src/publish/index";
import { loadSae, saveSaeLens } from "../../src/sae/index";
import { executeCi } from "./executed"; // into .cache/test-notebooks, where numbers.test.ts reads the headline records
import { assertPublishable } from "../publish/published";

test("every source notebook cell has a unique id (nbformat 4.5 requires it; a missing one is a future hard error)", () => {
  for (const nb of listNotebooks()) {
    const cells = (JSON.parse(fs.readFileSync(nb, "utf8")) as { cells: { id?: string }[] }).cells;
    const ids = cells.map((c) => c.id);
    assert.ok(ids.every((id) => typeof id === "string" && /^[a-zA-Z0-9-_]{1,64}$/.test(id)), `${path.basename(nb)}: a cell without a valid id`);
    assert.equal(new Set(ids).size, ids.length, `${path.basename(nb)}: duplicate cell ids`);
  }
});

for (const nb of listNotebooks()) {
  test(`notebook ${path.basename(nb)} executes and its HTML renders offline`, { timeout: 1_800_000 }, async () => {
    const executed = await executeCi(nb);
    const html = await exportHtml(executed);
    assert.doesNotMatch(fs.readFileSync(html, "utf8"), /<script[^>]+src="https?:/, "the HTML loads a script from the network");
    const report = renderHtml(html);
    assert.ok(report.plots >= 1, `no Plotly chart rendered in ${html}`);
    assert.equal(report.unrendered, 0, `${report.unrendered} chart(s) did not render`);
    assert.equal(report.errorOutputs, 0, "the page shows error output");
    await assertPublishable(executed, html); // nbformat-valid, small, no machine path, a picture per chart, interactive with JS
  });
}

// A user's SAEs in another format (SAELens, two widths) with a tensor file of activations, set through the parameter
// cell: every analysis notebook gives results or says in its tables what is missing; none fails.
const userDir = fs.mkdtempSync(path.join(os.tmpdir(), "dm-user-params-"));
let userParams: Record<string, string> | null = null;
async function userParameters(): Promise<Record<string, string>> {
  if (userParams) return userParams;
  await initBackend();
  const family = await ensureDefaultFamily("ci");
  for (const width of ["width_128", "width_1k"]) for (const l0 of ["average_l0_8", "average_l0_32"]) {
    const sae = await loadSae(path.join(family.dir, "layer_3", width, l0));
    saveSaeLens(sae, path.join(userDir, "saes", `${width}_${l0}`));
    sae.dispose();
  }
  const store = openActivationStore(family.storeDir);
  try {
    const rows = store.readRows("blocks.3.hook_resid_post", 0, 6000);
    writeNpy(path.join(userDir, "acts.npy"), { dtype: "float32", shape: [6000, store.d], data: rows.x });
  } finally {
    store.close();
  }
  userParams = { saeDir: path.join(userDir, "saes"), activations: path.join(userDir, "acts.npy") };
  return userParams;
}

for (const nb of listNotebooks().filter((n) => !/^(00|11)-/.test(path.basename(n)))) { // 11 explores by hand: no parameter cell
  test(`notebook ${path.basename(nb)} runs on a user's SAELens folder and a .npy of activations`, { timeout: 1_800_000 }, async () => {
    const out = path.join(userDir, "out");
    const executed = await executeNotebook(nb, out, { env: { DARKMATTER_PROFILE: "ci" }, parameters: await userParameters(), cellTimeoutS: 900 });
    const cells = (JSON.parse(fs.readFileSync(executed, "utf8")) as { cells: { source: string | string[]; outputs?: unknown[] }[] }).cells;
    assert.ok(cells.some((c) => [c.source].flat().join("").includes("Injected parameters")));
    const outputs = JSON.stringify(cells.map((c) => c.outputs ?? []));
    assert.match(outputs, /acts\.npy/, "the notebook's outputs do not show the user's activations");
    const report = renderHtml(await exportHtml(executed));
    assert.equal(report.unrendered, 0, `${report.unrendered} chart(s) did not render`);
    assert.equal(report.errorOutputs, 0, "the page shows error output");
  });
}
