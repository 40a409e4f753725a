import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as dm from "../../../src/index";
import {
  barTrace, errorBars, extent, hoverSafe, logGrid, logRange, panelDomains, sequentialColors, short, widthLabels, withAlpha,
} from "../../../src/viz/figures/common";

test("widthLabels uses the paper's short names and falls back to exact numbers when two would collide", () => {
  assert.deepEqual(widthLabels([16384, 32768, 65536, 131072, 262144, 524288, 1048576]), ["16k", "32k", "65k", "131k", "262k", "524k", "1m"]);
  assert.deepEqual(widthLabels([512, 36864]), ["512", "36k"]);
  assert.deepEqual(widthLabels([1000, 1500]), ["1000", "1500"]);
});

test("short prints three significant digits, exponent form for tiny or huge values, n/a for non-finite", () => {
  assert.deepEqual([0.953, 0.5, 1234.5, 0.0123456, 1e-5, 2e6, 0, -0.12345, NaN, Infinity].map(short),
    ["0.953", "0.5", "1230", "0.0123", "1.00e-5", "2.00e+6", "0", "-0.123", "n/a", "n/a"]);
});

test("hoverSafe escapes markup Plotly would parse and shows newlines and tabs", () => {
  assert.equal(hoverSafe("<b>a&b</b>\n\t"), "&lt;b&gt;a&amp;b&lt;/b&gt;↵→");
});

test("errorBars turns intervals into asymmetric distances and leaves gaps where nothing is known", () => {
  const iv = (lo: number, hi: number) => ({ lo, hi, level: 0.95, se: 0, replicates: new Float64Array(0) });
  const bars = errorBars([0.5, 0.75, null], [iv(0.4, 0.55), null, iv(0, 1)])!;
  assert.deepEqual(bars.array, [0.55 - 0.5, null, null]);
  assert.deepEqual(bars.arrayminus, [0.5 - 0.4, null, null]);
  assert.equal(errorBars([1, 2], [null, null]), undefined);
});

test("the builders are reachable as dm.viz.figures, and user text in bar hovers is escaped", () => {
  assert.equal(typeof dm.viz.figures.darkMatterFigure, "function");
  assert.equal(typeof dm.viz.figures.decompositionRows, "function");
  const t = barTrace({ name: "a<b>", x: ["q"], values: [1], color: "#000000" });
  assert.match(t.hovertemplate as string, /a&lt;b&gt;: %\{customdata\}/);
});

test("colours, domains, grids and ranges", () => {
  assert.deepEqual(sequentialColors(1), ["#440154"]);
  const c = sequentialColors(5);
  assert.equal(new Set(c).size, 5);
  for (const h of c) assert.match(h, /^#[0-9a-f]{6}$/);
  assert.equal(withAlpha("#ff8000", 0.5), "rgba(255,128,0,0.5)");
  const [a, b] = panelDomains(2, 0.1);
  assert.ok(Math.abs(a[1] - 0.45) < 1e-12 && Math.abs(b[0] - 0.55) < 1e-12 && a[0] === 0 && Math.abs(b[1] - 1) < 1e-12);
  const g = logGrid(10, 1000, 3);
  assert.equal(g[0], 10); assert.equal(g[2], 1000); assert.ok(Math.abs(g[1] - 100) < 1e-9);
  assert.deepEqual(extent([3, NaN, -1, Infinity, 2]), [-1, 3]);
  assert.equal(extent([NaN]), null);
  const r = logRange([10, 1000], 10)!;
  assert.ok(Math.abs(r[0] - 0) < 1e-12 && Math.abs(r[1] - 4) < 1e-12);
  assert.equal(logRange([0, -1]), undefined);
});
