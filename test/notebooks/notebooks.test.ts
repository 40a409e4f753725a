// Every notebook executes headlessly through the project kernel on the reduced "ci" configuration, exports to
// HTML, and that HTML shows all its charts and no error output in headless Chromium with the network off.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { executeNotebook, exportHtml, listNotebooks, renderHtml } from "../../src/publish/index";

const outDir = fs.mkdtempSync(path.join(os.tmpdir(), "dm-notebooks-"));

for (const nb of listNotebooks()) {
  test(`notebook ${path.basename(nb)} executes and its HTML renders offline`, { timeout: 1_800_000 }, async () => {
    const executed = await executeNotebook(nb, outDir, { env: { DARKMATTER_PROFILE: "ci", DARKMATTER_REPORTS: outDir }, cellTimeoutS: 900 });
    const html = await exportHtml(executed);
    assert.doesNotMatch(fs.readFileSync(html, "utf8"), /<script[^>]+src="https?:/, "the HTML loads a script from the network");
    const report = renderHtml(html);
    assert.ok(report.plots >= 1, `no Plotly chart rendered in ${html}`);
    assert.equal(report.unrendered, 0, `${report.unrendered} chart(s) did not render`);
    assert.equal(report.errorOutputs, 0, "the page shows error output");
  });
}
