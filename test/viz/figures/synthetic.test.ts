import { test } from "node:test";
import * as assert from "node:assert/strict";
import { syntheticCorrelationRows, syntheticGridFigure, syntheticLinesFigure, syntheticRows } from "../../../src/viz/figures/index";
import { synthetic } from "./fixtures";
import { assertSnapshot, axisTitle, checkFigure, types } from "./snapshot";

test("syntheticLinesFigure: a panel per (σ_a, σ_r), FVU_recon and FVU_lin against % ablated, x reversed", () => {
  const fig = syntheticLinesFigure(synthetic);
  const data = checkFigure(fig);
  assert.deepEqual(data.map((t) => t.xaxis), ["x", "x", "x2", "x2"]);
  assert.deepEqual(data[0].x, [0, 25, 50]);
  assert.deepEqual(data[0].y, [0.08, 0.2, 0.35]);
  assert.deepEqual(data[3].y, [0.05, 0.051, 0.052]);
  assert.equal((fig.layout.xaxis as { autorange: string }).autorange, "reversed");
  assert.equal((fig.layout.xaxis2 as { autorange: string }).autorange, "reversed");
  assertSnapshot("synthetic-lines", fig);
});

test("syntheticGridFigure: nonlinear estimate left, linear right, rows σ_a and columns σ_r", () => {
  const fig = syntheticGridFigure(synthetic);
  const [left, right] = checkFigure(fig);
  assert.deepEqual(types(fig), ["heatmap", "heatmap"]);
  assert.deepEqual(left.z, synthetic.grid.estimatedNonlinearError);
  assert.deepEqual(right.z, synthetic.grid.estimatedLinearError);
  assert.deepEqual(left.x, ["0", "1", "2"]);
  assert.match(axisTitle(fig, "yaxis"), /σ_a/);
  assert.match(axisTitle(fig, "xaxis2"), /σ_r/);
  assertSnapshot("synthetic-grid", fig);
});

test("syntheticCorrelationRows is Table 1; syntheticRows lists every configuration", () => {
  const t = syntheticCorrelationRows(synthetic.correlation);
  assert.equal(t.length, 2);
  assert.deepEqual([t[0].estimated_linear_error, t[0].estimated_nonlinear_error, t[1].estimated_nonlinear_error], [0.98, 0.02, 0.99]);
  const rows = syntheticRows(synthetic);
  assert.equal(rows.length, 6 + 9);
  assert.deepEqual([rows[0].part, rows[6].part], ["lines", "grid"]);
});
