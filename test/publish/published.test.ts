// The publishability checks themselves: each can say yes and no.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { findChromium, renderChartImages } from "../../src/publish/browser";
import { plotHtml, plotlyBundleHtml } from "../../src/viz/plotly";
import type { Figure } from "../../src/viz/plotly";
import { chartViews, machinePaths } from "./published";

const fig: Figure = { data: [{ x: [1, 2, 3], y: [2, 3, 1], type: "bar" }], layout: { title: { text: "bars" }, height: 300 } };

test("machinePaths finds the project root and the home folder, and nothing else", () => {
  assert.deepEqual(machinePaths("data/model.bin ~/x /usr/share/x"), []);
  assert.equal(machinePaths(`read ${os.homedir()}/x`).length, 1);
});

test("chartViews sees the picture with JavaScript off and the chart with it on", { skip: findChromium() ? false : "Chromium is not installed", timeout: 600_000 }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dm-views-"));
  const [image] = renderChartImages([fig]);
  assert.ok("png" in image);
  const page = (name: string, body: string) => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, `<!DOCTYPE html><html><head><meta charset="utf-8">${name.startsWith("js") ? plotlyBundleHtml() : ""}</head><body>${body}</body></html>`);
    return file;
  };
  const withImage = plotHtml(fig, { id: "a", image }) + plotHtml(fig, { id: "b", image: { missing: "no Chromium" } });
  assert.deepEqual(await chartViews(page("static.html", withImage), false), [{ picture: true, interactive: false }, { picture: false, interactive: false }]);
  assert.deepEqual(await chartViews(page("static.html", withImage), true), [{ picture: true, interactive: false }, { picture: false, interactive: false }]);
  assert.deepEqual(await chartViews(page("js.html", withImage), true), [{ picture: false, interactive: true }, { picture: false, interactive: true }]);
});
