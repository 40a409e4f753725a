import { test } from "node:test";
import * as assert from "node:assert/strict";
import { InputError } from "../../../src/errors";
import { crossComponentFigure, crossComponentRows } from "../../../src/viz/figures/index";
import { crossComponent } from "./fixtures";
import { assertSnapshot, axisTitle, checkFigure, types } from "./snapshot";

test("crossComponentFigure: a bar group per target in the paper's order, a bar per source, values and intervals", () => {
  const fig = crossComponentFigure(crossComponent, { yRange: [0, 0.62] });
  const data = checkFigure(fig);
  assert.deepEqual(types(fig), ["bar", "bar", "bar", "bar"]);
  assert.deepEqual(data.map((t) => t.name), ["residual L20", "residual L19", "MLP L20", "attention L20"]);
  assert.deepEqual(data[0].x, ["NonlinearError(x)", "SaeError(x)", "LinearError(x)"]);
  assert.deepEqual(data[0].y, [0.52, 0.45, 0.38]);
  assert.deepEqual(data[2].y, [0.12, 0.1, 0.09]);
  assert.deepEqual(data[0].text, ["0.52", "0.45", "0.38"]);
  assert.ok(data[0].error_y);
  assert.equal(axisTitle(fig, "yaxis"), "test vector R² (r2_mean_over_dims)");
  assert.deepEqual((fig.layout.yaxis as { range: number[] }).range, [0, 0.62]);
  assertSnapshot("cross-component", fig);
  assert.throws(() => crossComponentFigure({ ...crossComponent, cells: crossComponent.cells.slice(1) }), InputError);
});

test("crossComponentRows: a row per target and source with interval and fvu", () => {
  const rows = crossComponentRows(crossComponent);
  assert.equal(rows.length, 12);
  assert.deepEqual(rows[5], { target: "SaeError(x)", source: "residual L19", r2_mean_over_dims: 0.29, ci_lo: 0.29 - 0.02, ci_hi: 0.29 + 0.02, fvu: 1 - 0.29 + 0.01 });
});
