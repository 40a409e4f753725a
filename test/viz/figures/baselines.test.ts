import { test } from "node:test";
import * as assert from "node:assert/strict";
import { baselineRows, baselinesByLayerFigure, baselinesFigure } from "../../../src/viz/figures/index";
import { baselines } from "./fixtures";
import { assertSnapshot, checkFigure, types } from "./snapshot";

test("baselinesFigure: a bar per given predictor with values printed; in-sample token identity has no error bar", () => {
  const fig = baselinesFigure(baselines);
  const [bar] = checkFigure(fig);
  assert.deepEqual(types(fig), ["bar"]);
  assert.deepEqual(bar.x, ["x (linear probe)", "token identity (in-sample)", "SAE L0 per token", "‖x‖"]);
  assert.deepEqual(bar.y, [0.91, 0.42, 0.11, 0.25]);
  assert.deepEqual(bar.text, ["0.91", "0.42", "0.11", "0.25"]);
  const err = bar.error_y as { array: (number | null)[] };
  assert.equal(err.array[1], null);
  assert.ok(typeof err.array[0] === "number");
  assertSnapshot("baselines", fig);
});

test("baselinesByLayerFigure: a line per predictor across layers", () => {
  const fig = baselinesByLayerFigure([{ layer: 0, result: baselines }, { layer: 1, result: { ...baselines, baselines: { ...baselines.baselines, x: { value: 0.8, interval: null } } } }]);
  const data = checkFigure(fig);
  assert.deepEqual(data.map((t) => t.name), ["x (linear probe)", "token identity (in-sample)", "SAE L0 per token", "‖x‖"]);
  assert.deepEqual(data[0].y, [0.91, 0.8]);
  assert.deepEqual(data[0].x, [0, 1]);
  assertSnapshot("baselines-by-layer", fig);
});

test("baselineRows: every predictor, with how it was scored", () => {
  const rows = baselineRows(baselines);
  assert.deepEqual(rows.map((r) => r.scored_on), ["test", "all tokens (in-sample)", "not given", "test", "test"]);
  assert.deepEqual([rows[2].r2, rows[0].ci_lo], [null, 0.9]);
  assert.equal(baselineRows([{ layer: 3, result: baselines }])[0].layer, 3);
});
