import { test } from "node:test";
import * as assert from "node:assert/strict";
import { InputError } from "../../../src/errors";
import { COMPONENT_COLORS, normPredictionFigure, normPredictionRows, normR2VsDepthFigure } from "../../../src/viz/figures/index";
import { normPrediction, normPredictionList } from "./fixtures";
import { assertSnapshot, axisTitle, checkFigure, subtitle, types } from "./snapshot";

test("normPredictionFigure for one SAE: a bar per component in the palette, values printed, intervals drawn", () => {
  const fig = normPredictionFigure(normPrediction);
  const [bar] = checkFigure(fig);
  assert.deepEqual(types(fig), ["bar"]);
  assert.deepEqual(bar.x, ["x", "Sae(x)", "SaeError(x)", "LinearError(x)", "NonlinearError(x)", "Sae(x) + NonlinearError(x)"]);
  assert.deepEqual(bar.y, [0.99, 0.97, 0.93, 0.95, 0.72, 0.96]);
  assert.deepEqual((bar.marker as { color: string[] }).color[4], COMPONENT_COLORS.nonlinearError);
  assert.equal((bar.text as string[])[4], "0.72");
  assert.ok(bar.error_y);
  assert.match(axisTitle(fig, "yaxis"), /test R² \(r2\)/);
  assertSnapshot("norm-prediction-bars", fig);
});

test("normPredictionFigure for several SAEs: violins (or boxes) with every SAE as a point; dropped values counted", () => {
  const fig = normPredictionFigure(normPredictionList, { components: ["saeError", "nonlinearError"], dropAtOrBelow: 0.5 });
  const data = checkFigure(fig);
  assert.deepEqual(types(fig), ["violin", "violin"]);
  assert.deepEqual(data[0].y, [0.93, 0.91, 0.9]);
  assert.deepEqual(data[1].y, [0.72, 0.68]);
  assert.deepEqual(data[1].text, ["16k/L0 58", "65k/L0 61"]);
  assert.equal(data[0].points, "all");
  assert.match(subtitle(fig), /^3 SAEs · 1 value ≤ 0\.5 dropped$/);
  assertSnapshot("norm-prediction-violins", fig);
  const box = normPredictionFigure(normPredictionList, { style: "box" });
  assert.deepEqual(types(box), Array(6).fill("box"));
  assert.equal((box.data[2].text as string[])[2], "1m &lt;L0 60&gt;");
  assertSnapshot("norm-prediction-boxes", box);
  assert.throws(() => normPredictionFigure([]), InputError);
  assert.throws(() => normPredictionFigure(normPrediction, { components: ["nope" as "x"] }), InputError);
});

test("normR2VsDepthFigure clips negatives to 0 and keeps the raw value in the hover", () => {
  const fig = normR2VsDepthFigure([{ label: "9B 16k", depth: [0.1, 0.5, 0.9], r2: [-0.2, 0.8, 0.95] }, { label: "2B 65k", depth: [0.2, 0.6], r2: [0.7, 0.9] }]);
  const data = checkFigure(fig);
  assert.deepEqual(data[0].y, [0, 0.8, 0.95]);
  assert.deepEqual(data[0].customdata, ["-0.2", "0.8", "0.95"]);
  assert.deepEqual((fig.layout.yaxis as { range: number[] }).range, [0.4, 1.01]);
  assertSnapshot("norm-r2-depth", fig);
  assert.throws(() => normR2VsDepthFigure([{ label: "a", depth: [1, 2], r2: [1] }]), InputError);
});

test("normPredictionRows: a row per component (and SAE)", () => {
  const rows = normPredictionRows(normPrediction);
  assert.equal(rows.length, 6);
  assert.deepEqual(rows[4], { component: "NonlinearError(x)", r2: 0.72, ci_lo: 0.71, ci_hi: 0.73, tokens: 800 });
  const many = normPredictionRows(normPredictionList);
  assert.equal(many.length, 18);
  assert.equal(many[17].sae, "1m <L0 60>");
});
