import { test } from "node:test";
import * as assert from "node:assert/strict";
import { darkMatterBands } from "../../../src/darkmatter/powerlaw";
import { InputError } from "../../../src/errors";
import { darkMatterBandRows, darkMatterFigure, powerLawFitFigure, powerLawRows } from "../../../src/viz/figures/index";
import { bandInput, powerLawFit, WIDTHS } from "./fixtures";
import { assertSnapshot, axisTitle, checkFigure } from "./snapshot";

const close = (a: number, b: number, tol = 1e-12) => Math.abs(a - b) <= tol * Math.max(1, Math.abs(b));

test("darkMatterFigure: four stacked bands under the fitted curve, points, mean line, extrapolated dotted", () => {
  const fig = darkMatterFigure(bandInput, { samples: 12 });
  const data = checkFigure(fig);
  const bands = data.slice(0, 4);
  assert.deepEqual(bands.map((t) => t.name), ["Nonlinear error", "Encoder error", "Linear error", "Absent features"]);
  assert.deepEqual(bands.map((t) => t.fill), ["tozeroy", "tonexty", "tonexty", "tonexty"]);
  // The legend lists the bands top to bottom.
  assert.deepEqual(bands.map((t) => t.legendrank), [104, 103, 102, 101]);
  const x = bands[0].x as number[];
  assert.equal(x[0], WIDTHS[0]);
  assert.ok(close(x[x.length - 1], 10 * WIDTHS[6]));
  for (const w of WIDTHS) assert.ok(x.includes(w), `grid includes ${w}`);
  const { c, a, m } = bandInput.fit;
  const top = bands[3].y as number[];
  x.forEach((w, i) => assert.ok(close(top[i], c + a * Math.pow(w, -m)), `stack top = fit at ${w}`));
  // The encoder band's top is the mean FVU_nonlinear; the nonlinear band follows pursuit at measured widths.
  const mean = (bandInput.fvuNonlinear as number[]).reduce((s, v) => s + v, 0) / 7;
  for (const v of bands[1].y as number[]) assert.ok(close(v, mean));
  WIDTHS.forEach((w, k) => assert.ok(close((bands[0].y as number[])[x.indexOf(w)], (bandInput.pursuitFvuNonlinear as number[])[k])));
  // Fit and mean line: solid up to the largest width, dotted beyond.
  const lines = data.filter((t) => t.mode === "lines" && !t.fill);
  assert.deepEqual(lines.map((t) => (t.line as { dash: string }).dash), ["solid", "dot", "dash", "dot"]);
  assert.equal(lines[0].name, "fvu ≈ 0.12 + 10·W^(−0.45)");
  assert.equal(Math.max(...(lines[0].x as number[])), WIDTHS[6]);
  assert.equal(Math.min(...(lines[1].x as number[])), WIDTHS[6]);
  const points = data.filter((t) => t.mode === "markers");
  assert.deepEqual(points.map((t) => t.y), [bandInput.fvu, bandInput.fvuNonlinear, bandInput.pursuitFvuNonlinear]);
  assert.equal((fig.layout.xaxis as { type: string }).type, "log");
  assert.equal(axisTitle(fig, "yaxis"), "fraction of variance unexplained (fvu)");
  assertSnapshot("dark-matter", fig);
});

test("darkMatterFigure without pursuit has no encoder band; bad options are InputErrors", () => {
  const { pursuitFvuNonlinear: _drop, ...noPursuit } = bandInput;
  const fig = darkMatterFigure(noPursuit, { samples: 5, extrapolate: 1, yRange: [0, 0.37] });
  checkFigure(fig);
  assert.deepEqual(fig.data.filter((t) => t.fill).map((t) => t.name), ["Nonlinear error", "Linear error", "Absent features"]);
  assert.deepEqual((fig.layout.yaxis as { range: number[] }).range, [0, 0.37]);
  assert.throws(() => darkMatterFigure(bandInput, { extrapolate: 0.5 }), InputError);
  assert.throws(() => darkMatterFigure({ ...bandInput, fvu: [1, 2] }), InputError);
});

test("powerLawFitFigure: log-log axes, fitted curve, asymptote and points", () => {
  const fig = powerLawFitFigure({ widths: WIDTHS, fvu: bandInput.fvu, fit: bandInput.fit }, { samples: 8 });
  const data = checkFigure(fig);
  assert.deepEqual(data.map((t) => t.mode), ["lines", "lines", "lines", "markers"]);
  assert.deepEqual(data[2].y, [0.12, 0.12]);
  assert.deepEqual([(fig.layout.xaxis as { type: string }).type, (fig.layout.yaxis as { type: string }).type], ["log", "log"]);
  assertSnapshot("power-law-fit", fig);
});

test("powerLawRows: c, a, m with intervals, then the fit's r2 and rss", () => {
  const rows = powerLawRows(powerLawFit);
  assert.deepEqual(rows.map((r) => r.parameter), ["c", "a", "m", "r2", "rss"]);
  assert.deepEqual([rows[0].value, rows[0].ci_lo, rows[0].ci_hi], [0.12, 0.11, 0.13]);
  assert.deepEqual([rows[3].value, rows[3].ci_lo], [0.9991, null]);
  assert.deepEqual(powerLawRows({ ...powerLawFit, intervals: null })[1], { parameter: "a", value: 40, ci_lo: null, ci_hi: null, meaning: "scale in FVU = c + a·W^(−m)" });
});

test("darkMatterBandRows: per-width observed bands add up to the measured FVU", () => {
  const rows = darkMatterBandRows(darkMatterBands(bandInput));
  assert.equal(rows.length, 7);
  rows.forEach((r, k) => {
    const sum = (r.absent_features as number) + (r.linear_error as number) + (r.encoder_error as number) + (r.nonlinear_error as number);
    assert.ok(close(sum, (bandInput.fvu as number[])[k], 1e-12));
    assert.ok(close(r.total as number, sum));
  });
});
