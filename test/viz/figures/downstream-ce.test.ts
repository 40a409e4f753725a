import { test } from "node:test";
import * as assert from "node:assert/strict";
import { ceRecoveredFigure, ceRows } from "../../../src/viz/figures/index";
import { ceSweeps } from "./fixtures";
import { assertSnapshot, checkFigure } from "./snapshot";

const close = (a: number, b: number) => Math.abs(a - b) < 1e-12;

test("ceRecoveredFigure: CE-recovered bars (%) per component, dashed reference segments over the matching bars", () => {
  const fig = ceRecoveredFigure(ceSweeps);
  const data = checkFigure(fig);
  assert.deepEqual(data.map((t) => `${t.type}:${t.xaxis}`), ["bar:x", "bar:x", "scatter:x", "scatter:x", "bar:x2", "bar:x2", "scatter:x2", "scatter:x2"]);
  (data[0].y as number[]).forEach((v, i) => assert.ok(close(v, [41.5, 38][i])));
  assert.deepEqual(data[1].x, [0.2, 1.2]);
  assert.deepEqual(data[0].text, ["41.5", "38"]);
  assert.deepEqual(data.map((t) => t.showlegend), [true, true, true, true, false, false, false, false]);
  // Shares are fractions in the result and percent on the chart: one segment over each bar.
  const norm = data[3];
  assert.equal(norm.name, "Norm / total SAE error norm");
  const ny = norm.y as (number | null)[];
  assert.ok(close(ny[0]!, 61) && ny[0] === ny[1] && ny[2] === null && close(ny[3]!, 72));
  assert.ok(close((norm.x as number[])[0], -0.2 - 0.19));
  assert.equal(data[2].name, "R² percent recovered");
  assert.ok(close((data[2].y as number[])[3], 52));
  assert.deepEqual((fig.layout.xaxis2 as { ticktext: string[] }).ticktext, ["20", "<68>"]);
  assert.equal((data[4].customdata as string[][])[1][0], "&lt;68&gt;");
  assertSnapshot("ce-recovered", fig);
});

test("ceRows: a row per SAE and component, with the spliced losses and the formats-and-metrics CE metrics", () => {
  const rows = ceRows(ceSweeps);
  assert.equal(rows.length, 8);
  const r = rows[1];
  assert.deepEqual([r.sae, r.component, r.ce_spliced, r.ce_sae, r.ce_clean, r.norm_fraction], ["16k", "Sae(x) + NonlinearError(x)", 2.279, 2.5, 2.1, 0.72]);
  assert.ok(close(r.sae_gap_recovered_percent as number, 55.25) && close(r.r2_percent_recovered as number, 52));
  assert.ok(close(r.ce_delta as number, 2.279 - 2.1) && close(r.ce_recovered as number, (6 - 2.279) / (6 - 2.1)));
});
