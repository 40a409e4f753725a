import { test } from "node:test";
import * as assert from "node:assert/strict";
import { InputError } from "../../../src/errors";
import { pursuitConvergenceFigure, pursuitFigure, pursuitResultRows, pursuitRows } from "../../../src/viz/figures/index";
import { pursuitPoints, pursuitRun } from "./fixtures";
import { assertSnapshot, checkFigure } from "./snapshot";

test("pursuitFigure: fvu and fvu_nonlinear of encoder and pursuit against width, sorted, error bars where known", () => {
  const fig = pursuitFigure(pursuitPoints);
  const data = checkFigure(fig);
  assert.deepEqual(data.map((t) => t.name), ["fvu, SAE encoder", "fvu, gradient pursuit", "fvu_nonlinear, SAE encoder", "fvu_nonlinear, gradient pursuit"]);
  assert.deepEqual(data[0].x, [16384, 65536, 262144]);
  assert.deepEqual(data[0].y, [0.24, 0.19, 0.16]);
  assert.deepEqual(data[3].y, [0.08, 0.079, 0.0785]);
  const err = data[1].error_y as { array: (number | null)[] };
  assert.deepEqual([err.array[0], err.array[2]], [null, null]);
  assert.ok(Math.abs((err.array[1] as number) - 0.005) < 1e-15);
  assert.equal((fig.layout.xaxis as { type: string }).type, "log");
  assertSnapshot("pursuit", fig);
  assert.throws(() => pursuitFigure([]), InputError);
});

test("pursuitRows: both metrics and pursuit's relative change per width", () => {
  const rows = pursuitRows(pursuitPoints);
  assert.deepEqual(rows.map((r) => r.width), [16384, 65536, 262144]);
  assert.ok(Math.abs((rows[0].fvu_change_percent as number) - (100 * (0.23 - 0.24)) / 0.24) < 1e-12);
  assert.equal(rows[1].fvu_nonlinear_pursuit, 0.079);
});

test("pursuitConvergenceFigure and pursuitResultRows", () => {
  const fig = pursuitConvergenceFigure(pursuitRun);
  const [t] = checkFigure(fig);
  assert.deepEqual(t.y, [1, 0.6, 0.4, 0.35]);
  assert.deepEqual(t.customdata, ["10", "6", "4", "3.5"]);
  assert.equal((fig.layout.yaxis as { type: string }).type, "log");
  assertSnapshot("pursuit-convergence", fig);
  assert.deepEqual(pursuitResultRows(pursuitRun).map((r) => r.value), [4, 32, 2.25, 2.25, 0.35, 1]);
});
