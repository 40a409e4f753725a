import { test } from "node:test";
import * as assert from "node:assert/strict";
import { InputError } from "../../../src/errors";
import {
  perTokenImprovementHeatmap, perTokenR2Heatmap, perTokenRows, perTokenTraceRows, perTokenTracesFigure,
} from "../../../src/viz/figures/index";
import { perToken, traceContexts, traceLabels, traces } from "./fixtures";
import { assertSnapshot, axisTitle, checkFigure, types } from "./snapshot";

test("perTokenR2Heatmap: upper triangle annotated, rows = predictor width (x), columns = target width (y)", () => {
  const fig = perTokenR2Heatmap(perToken);
  const [h] = checkFigure(fig);
  assert.deepEqual(types(fig), ["heatmap"]);
  assert.deepEqual(h.x, ["16k", "65k", "262k"]);
  assert.deepEqual(h.z, [[1, 0.81, 0.72], [null, 1, 0.86], [null, null, 1]]);
  assert.equal(h.texttemplate, "%{z:.3f}");
  assert.deepEqual((h.text as string[][])[0], ["1", "0.81", "0.72"]);
  assert.equal(axisTitle(fig, "yaxis"), "SAE width (x)");
  assert.equal(axisTitle(fig, "xaxis"), "SAE width (y)");
  assert.equal((fig.layout.yaxis as { autorange: string }).autorange, "reversed");
  assertSnapshot("per-token-r2", fig);
  const fullFig = perTokenR2Heatmap(perToken, { triangle: "full" });
  assert.deepEqual(fullFig.data[0].z, perToken.r2);
});

test("perTokenImprovementHeatmap: NaN diagonal becomes a gap; missing nonlinear norms are an InputError", () => {
  const fig = perTokenImprovementHeatmap(perToken);
  const [h] = checkFigure(fig);
  const z = h.z as (number | null)[][];
  assert.deepEqual([z[0][0], z[1][1], z[2][2], z[1][0]], [null, null, null, null]);
  assert.equal(z[0][1], 47.36842105263158);
  assert.equal(h.zmid, 0);
  assert.equal((h.text as string[][])[0][0], "n/a");
  assertSnapshot("per-token-improvement", fig);
  assert.throws(() => perTokenImprovementHeatmap({ ...perToken, percentRemainingExplained: null }), InputError);
  assert.throws(() => perTokenR2Heatmap({ ...perToken, r2: [[1]] }), InputError);
});

test("perTokenTracesFigure: a panel per component, a line per width, token and context in the hover", () => {
  const fig = perTokenTracesFigure(traces, { labels: traceLabels, contexts: traceContexts });
  const data = checkFigure(fig);
  assert.deepEqual(types(fig), Array(6).fill("scatter"));
  assert.deepEqual(data.map((t) => t.xaxis), ["x", "x", "x2", "x2", "x3", "x3"]);
  assert.deepEqual(data.map((t) => t.showlegend), [true, true, false, false, false, false]);
  assert.deepEqual(data[0].x, [40, 41, 42, 43]);
  assert.deepEqual(data[3].y, [1.5, 2.5, 3, 2.5]);
  const text = data[0].text as string[];
  assert.equal(text[1], "token 41<br><b> &lt;b&gt;upon</b><br>Once [upon] a time");
  assert.match(text[2], /a&amp;b/);
  assert.match(text[3], /↵time/);
  assert.match(data[5].hovertemplate as string, /NonlinearError/);
  assertSnapshot("per-token-traces", fig);
  assert.throws(() => perTokenTracesFigure(traces, { labels: ["a"] }), InputError);
  // Components missing at any width are left out.
  const only = perTokenTracesFigure({ ...traces, series: traces.series.map((s) => ({ ...s, linearError: null, nonlinearError: null })) });
  assert.deepEqual(only.data.map((t) => t.xaxis), ["x", "x"]);
});

test("perTokenRows and perTokenTraceRows", () => {
  const rows = perTokenRows(perToken);
  assert.equal(rows.length, 9);
  assert.deepEqual(rows[1], { width_x: 16384, width_y: 65536, r2: 0.81, r2_with_nonlinear: 0.9, percent_remaining_explained: 47.36842105263158 });
  assert.equal(rows[0].percent_remaining_explained, null);
  const tr = perTokenTraceRows(traces, traceLabels);
  assert.equal(tr.length, 8);
  assert.deepEqual(tr[3], { token_index: 41, token: " <b>upon", width: 65536, sae_error_norm: 3.5, linear_error_norm: 2.5, nonlinear_error_norm: 2.5 });
});
