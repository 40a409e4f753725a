// The finishing pass on an executed notebook: static images in, plotly.js out, paths scrubbed.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { findChromium } from "../../src/publish/browser";
import { finishNotebook } from "../../src/publish/finish";
import { pathRules } from "../../src/publish/paths";
import { chartBundle, plotlyBundleHtml, PLOTLY_MIME } from "../../src/viz/plotly";
import type { Figure } from "../../src/viz/plotly";

const fig: Figure = { data: [{ x: [1, 2, 3], y: [3, 1, 2], type: "scatter" }], layout: { title: { text: "t <1>" }, height: 300 } };

function executed(dir: string): string {
  const nb = {
    nbformat: 4, nbformat_minor: 5, metadata: {},
    cells: [
      { cell_type: "code", id: "a", metadata: {}, execution_count: 1, source: "setup",
        outputs: [{ output_type: "display_data", metadata: {}, data: { "text/html": `${plotlyBundleHtml()}\n<p>Backend: wasm</p>` } }] },
      { cell_type: "code", id: "b", metadata: {}, execution_count: 2, source: "plot",
        outputs: [{ output_type: "display_data", metadata: {}, data: chartBundle(fig) },
          { output_type: "stream", name: "stdout", text: `read ${dir}/saes/a and ${os.homedir()}/x` }] },
    ],
  };
  const file = path.join(dir, "nb.ipynb");
  fs.writeFileSync(file, JSON.stringify(nb));
  return file;
}

test("without Chromium, charts say why they have no image; plotly.js and paths are gone", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dm-finish-"));
  const file = executed(dir);
  const before = fs.statSync(file).size;
  const report = finishNotebook(file, { chromium: null, imageCache: null, rules: pathRules([path.join(dir, "saes")]) });
  assert.deepEqual({ charts: report.charts, images: report.images }, { charts: 1, images: 0 });
  const text = fs.readFileSync(file, "utf8");
  assert.ok(fs.statSync(file).size < before / 100, "plotly.js is still stored");
  assert.match(text, /<p>Backend: wasm<\/p>/);
  const out = JSON.parse(text).cells[1].outputs;
  assert.deepEqual(out[0].data[PLOTLY_MIME].data, fig.data);
  assert.equal(out[0].data["image/png"], undefined);
  assert.match(out[0].data["text/html"], /Chromium was not found/);
  assert.match(out[0].data["text/plain"], /Chromium was not found/);
  assert.equal(out[1].text, "read saes/a and ~/x");
});

test("with Chromium, every chart gets a PNG, in its bundle and its HTML", { skip: findChromium() ? false : "Chromium is not installed", timeout: 300_000 }, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dm-finish-"));
  const file = executed(dir);
  const cache = path.join(dir, "images");
  const report = finishNotebook(file, { imageCache: cache });
  assert.deepEqual({ charts: report.charts, images: report.images }, { charts: 1, images: 1 });
  assert.equal(fs.readdirSync(cache).length, 1, "the drawn image is cached");
  const data = JSON.parse(fs.readFileSync(file, "utf8")).cells[1].outputs[0].data;
  const png = Buffer.from(data["image/png"], "base64");
  assert.equal(png.readUInt32BE(0), 0x89504e47);
  assert.deepEqual([png.readUInt32BE(16), png.readUInt32BE(20)], [900, 300]);
  assert.ok(data["text/html"].includes(`src="data:image/png;base64,${data["image/png"]}"`));
  assert.match(data["text/html"], /alt="t &lt;1&gt;"/);
  // The same figure again, with no Chromium at all: its picture comes from the cache.
  const again = finishNotebook(executed(dir), { chromium: null, imageCache: cache });
  assert.equal(again.images, 1);
  assert.equal(JSON.parse(fs.readFileSync(file, "utf8")).cells[1].outputs[0].data["image/png"], data["image/png"]);
  fs.rmSync(dir, { recursive: true, force: true });
});
