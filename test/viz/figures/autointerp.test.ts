import { test } from "node:test";
import * as assert from "node:assert/strict";
import { InputError } from "../../../src/errors";
import { COMPONENT_COLORS, detectionFigure, detectionRows, detectionSummaryRows } from "../../../src/viz/figures/index";
import { detectionEntries } from "./fixtures";
import { assertSnapshot, checkFigure, types } from "./snapshot";

test("detectionFigure: grouped bars per decile for both SAEs, Not at the left, top decile at the right", () => {
  const fig = detectionFigure(detectionEntries);
  const data = checkFigure(fig);
  assert.deepEqual(types(fig), ["bar", "bar"]);
  assert.equal(fig.layout.barmode, "group");
  assert.deepEqual(data[0].x, ["Not", "Q1", "Q2", "Q3"]);
  assert.deepEqual(data[0].y, [450 / 500, 30 / 70, 45 / 70, 63 / 70]);
  assert.deepEqual([(data[0].marker as { color: string }).color, (data[1].marker as { color: string }).color], [COMPONENT_COLORS.linearError, COMPONENT_COLORS.nonlinearError]);
  const s = detectionEntries[0].result.summary.deciles[2];
  const err = data[0].error_y as { array: number[]; arrayminus: number[] };
  assert.equal(err.array[3], s.normal.hi - s.accuracy);
  assert.equal(err.arrayminus[3], s.accuracy - s.normal.lo);
  assert.deepEqual((data[1].customdata as unknown[][])[0].slice(1, 3), [430, 500]);
  assertSnapshot("detection", fig);
  assert.throws(() => detectionFigure([]), InputError);
  const short = { ...detectionEntries[1], result: { ...detectionEntries[1].result, summary: { ...detectionEntries[1].result.summary, deciles: [] } } };
  assert.throws(() => detectionFigure([detectionEntries[0], short]), InputError);
});

test("detectionRows and detectionSummaryRows", () => {
  const rows = detectionRows(detectionEntries);
  assert.equal(rows.length, 8);
  assert.deepEqual([rows[0].sae, rows[0].group, rows[0].correct, rows[0].total], ["trained on LinearError", "Not", 450, 500]);
  assert.equal(rows[7].group, "Q3");
  const sum = detectionSummaryRows(detectionEntries);
  assert.deepEqual(sum[0], { sae: "trained on LinearError", latents: 10, skipped: 1, quantity: "mean accuracy", value: 0.71, ci_lo: 0.66, ci_hi: 0.75 });
  assert.equal(sum.length, 4);
});
