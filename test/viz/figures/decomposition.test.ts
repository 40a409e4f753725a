import { test } from "node:test";
import * as assert from "node:assert/strict";
import { decompositionFigure, decompositionRows } from "../../../src/viz/figures/index";
import { decomposition } from "./fixtures";
import { assertSnapshot, axisTitle, checkFigure, subtitle, types } from "./snapshot";

test("decompositionFigure: metric bars with intervals and printed values, energy bars in a second panel", () => {
  const fig = decompositionFigure(decomposition);
  const [metrics, energy] = checkFigure(fig);
  assert.deepEqual(types(fig), ["bar", "bar"]);
  assert.deepEqual(metrics.y, [0.512345678901, 0.93125, 0.2, 0.125]);
  assert.ok((metrics.x as string[]).some((t) => t.includes("r2_mean_over_dims")) && (metrics.x as string[]).some((t) => t.includes("fvu_nonlinear")));
  assert.deepEqual(metrics.text, ["0.512", "0.931", "0.2", "0.125"]);
  assert.match((metrics.customdata as string[])[0], /^0\.512345678901 \[0\.5, 0\.525\] \(95 %\)$/);
  const err = metrics.error_y as { array: number[]; arrayminus: number[] };
  assert.ok(Math.abs(err.array[1] - (0.94 - 0.93125)) < 1e-15 && Math.abs(err.arrayminus[2] - (0.2 - 0.195)) < 1e-15);
  assert.deepEqual(energy.y, [4.5, 2.25, 2, 0.25]);
  assert.deepEqual([energy.xaxis, energy.yaxis], ["x2", "y2"]);
  assert.equal(axisTitle(fig, "yaxis2"), "mean squared norm per token");
  assert.match(subtitle(fig), /1000 test tokens/);
  assertSnapshot("decomposition", fig);
});

test("decompositionRows: the paper's metric names with interval bounds, one block per labelled SAE", () => {
  const rows = decompositionRows(decomposition);
  assert.deepEqual(rows.map((r) => r.metric), ["r2_mean_over_dims", "r2", "fvu", "fvu_nonlinear", "energy", "energy", "energy", "energy"]);
  assert.deepEqual([rows[0].value, rows[0].ci_lo, rows[0].ci_hi], [0.512345678901, 0.5, 0.525]);
  assert.deepEqual([rows[5].value, rows[5].ci_lo], [2.25, null]);
  const two = decompositionRows([{ label: "a", result: decomposition }, { label: "b", result: decomposition }]);
  assert.equal(two.length, 16);
  assert.deepEqual([Object.keys(two[0])[0], two[0].sae, two[8].sae], ["sae", "a", "b"]);
});
