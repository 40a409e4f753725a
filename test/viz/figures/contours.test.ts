import { test } from "node:test";
import * as assert from "node:assert/strict";
import { InputError } from "../../../src/errors";
import { contourFigure, contourRows } from "../../../src/viz/figures/index";
import { contourGrids } from "./fixtures";
import { assertSnapshot, axisTitle, checkFigure, types } from "./snapshot";

test("contourFigure: a filled contour per grid on log width × log L0 with the grid's padded ranges, SAEs as points", () => {
  const fig = contourFigure(contourGrids);
  const data = checkFigure(fig);
  assert.deepEqual(types(fig), ["contour", "scatter", "contour", "scatter"]);
  assert.deepEqual(data[0].z, contourGrids[0].z);
  assert.deepEqual(data[0].x, [16384, 46341, 131072]);
  assert.equal(data[0].ncontours, 15);
  assert.deepEqual(data[1].text, ["16k/20", "16k/90", "131k/30", "131k/90"]);
  assert.deepEqual(data[3].text, ["", ""]);
  assert.equal(((data[2].colorbar as { title: { text: string } }).title).text, "r2");
  for (const k of ["xaxis", "yaxis", "xaxis2", "yaxis2"]) assert.equal((fig.layout[k] as { type: string }).type, "log");
  const range = (fig.layout.xaxis as { range: number[] }).range;
  assert.ok(Math.abs(range[0] - Math.log10(16384 / 1.15)) < 1e-12 && Math.abs(range[1] - Math.log10(131072 * 1.15)) < 1e-12);
  assert.equal(axisTitle(fig, "yaxis"), "L0 (nominal)");
  const titles = (fig.layout.annotations as { text: string }[]).map((a) => a.text);
  assert.deepEqual(titles, ["<b>FVU_nonlinear</b>", "<b>R² predicting error norm</b>"]);
  assertSnapshot("contours", fig);
  assert.throws(() => contourFigure([]), InputError);
  assert.throws(() => contourFigure([{ ...contourGrids[0], z: [[1]] }]), InputError);
  assert.throws(() => contourFigure(contourGrids, { titles: ["one"] }), InputError);
});

test("contourFigure grids panels given as points the paper's way (contourGrid), keeping their titles", () => {
  const pts = [[16384, 20, 0.9], [16384, 80, 0.95], [131072, 30, 0.91], [131072, 90, 0.94], [46341, 50, 0.93]].map(([width, l0, value]) => ({ width, l0, value, label: `${width}/${l0}` }));
  const fig = contourFigure([{ title: "squared-norm R² (x → ‖SaeError‖²)", metric: "r2", points: pts }], { resolution: 7 });
  const [contour, scatter] = checkFigure(fig);
  const z = contour.z as (number | null)[][];
  assert.equal(z.length, 7);
  assert.equal(z[0].length, 7);
  // Linear interpolation reproduces the data at grid nodes that coincide with points (the corners of the log box).
  assert.ok(Math.abs((z[0][0] as number) - 0.9) < 1e-12);
  assert.ok(z.flat().every((v) => v === null || (v >= 0.9 - 1e-12 && v <= 0.95 + 1e-12)));
  assert.equal(z.flat().filter((v) => v === null).length > 0, true, "nodes outside the hull are gaps");
  assert.deepEqual(scatter.text, pts.map((p) => p.label));
  assert.equal((fig.layout.annotations as { text: string }[])[0].text, "<b>squared-norm R² (x → ‖SaeError‖²)</b>");
  assert.equal(contourRows([{ metric: "r2", points: pts }])[4].sae, "46341/50");
});

test("contourRows: a row per grid and SAE", () => {
  const rows = contourRows(contourGrids);
  assert.equal(rows.length, 6);
  assert.deepEqual(rows[0], { metric: "fvu_nonlinear", sae: "16k/20", width: 16384, l0_nominal: 20, value: 0.12 });
  assert.equal("sae" in rows[4], false);
});
