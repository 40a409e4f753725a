// Every snapshot figure through real plotly.js in headless Chromium: Plotly.validate must report no unknown
// attributes or invalid values, and every chart must render without script errors. Skips without Chromium.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { findChromium, renderHtml } from "../../../src/publish/browser";
import { scriptJson } from "../../../src/viz/html";
import { plotHtml, plotlyBundleHtml } from "../../../src/viz/plotly";
import type { Figure } from "../../../src/viz/plotly";

const DIR = path.join(__dirname, "__snapshots__");

test("every snapshot figure passes Plotly.validate and renders in Chromium", { skip: findChromium() ? false : "Chromium is not installed" }, () => {
  const names = fs.readdirSync(DIR).filter((f) => f.endsWith(".json") && !f.endsWith(".actual.json")).sort();
  assert.ok(names.length >= 20, `found ${names.length} snapshots`);
  const figures = names.map((f) => ({ name: f.replace(/\.json$/, ""), fig: JSON.parse(fs.readFileSync(path.join(DIR, f), "utf8")) as Figure }));
  const capture = `<script>(function () {
    function report(kind, msg) { var pre = document.createElement("pre"); pre.className = "dm-js-" + kind; pre.textContent = String(msg); document.body.appendChild(pre); }
    window.addEventListener("error", function (e) { report("error", e.message); });
    var warn = console.warn, error = console.error;
    console.warn = function () { report("warn", Array.prototype.join.call(arguments, " ")); warn.apply(console, arguments); };
    console.error = function () { report("error", Array.prototype.join.call(arguments, " ")); error.apply(console, arguments); };
  })();</script>`;
  const validate = `<script>(function () {
    var figs = ${scriptJson(figures.map((f) => ({ name: f.name, data: f.fig.data, layout: f.fig.layout })))};
    figs.forEach(function (f) {
      var issues = window.Plotly.validate(f.data, f.layout) || [];
      var pre = document.createElement("pre");
      pre.className = "dm-validate";
      pre.setAttribute("data-name", f.name);
      pre.textContent = JSON.stringify(issues.map(function (i) { return i.msg; }));
      document.body.appendChild(pre);
    });
  })();</script>`;
  const html = `<!doctype html><html><head><meta charset="utf-8"></head><body>${capture}\n${plotlyBundleHtml()}\n` +
    figures.map((f) => plotHtml(f.fig, { id: `fig-${f.name}` })).join("\n") + `\n${validate}</body></html>`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dm-figures-"));
  try {
    const file = path.join(dir, "figures.html");
    fs.writeFileSync(file, html);
    const report = renderHtml(file, { budgetMs: 30_000 });
    const decode = (s: string) => s.replace(/&quot;/g, '"').replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
    const issues = [...report.dom.matchAll(/<pre class="dm-validate" data-name="([^"]+)">([^<]*)<\/pre>/g)].map((m) => ({ name: m[1], msgs: JSON.parse(decode(m[2])) as string[] }));
    assert.equal(issues.length, figures.length, "validation ran for every figure");
    const bad = issues.filter((i) => i.msgs.length > 0);
    assert.deepEqual(bad, [], `Plotly.validate: ${JSON.stringify(bad, null, 1)}`);
    const jsErrors = [...report.dom.matchAll(/<pre class="dm-js-(error|warn)">([^<]*)<\/pre>/g)].map((m) => `${m[1]}: ${decode(m[2])}`);
    assert.deepEqual(jsErrors, []);
    assert.equal(report.plots, figures.length);
    assert.equal(report.unrendered, 0);
    if (process.env.FIGURE_SCREENSHOT) renderHtml(file, { budgetMs: 30_000, screenshot: process.env.FIGURE_SCREENSHOT, width: 1200, height: 480 * figures.length });
  } finally {
    if (!process.env.KEEP_FIGURE_HTML) fs.rmSync(dir, { recursive: true, force: true }); else console.log(dir);
  }
});
