import { test } from "node:test";
import * as assert from "node:assert/strict";
import { InputError } from "../../../src/errors";
import { probeVsLatentFigure, probeVsLatentRows } from "../../../src/viz/figures/index";
import { probe } from "./fixtures";
import { assertSnapshot, checkFigure, subtitle } from "./snapshot";

test("probeVsLatentFigure: latents as points, running mean along their order, diagonal", () => {
  const fig = probeVsLatentFigure(probe, { window: 4 });
  const [pts, mean, diag] = checkFigure(fig);
  assert.deepEqual(pts.x, Array.from(probe.meanActive));
  assert.deepEqual(pts.y, Array.from(probe.probe));
  assert.deepEqual((pts.customdata as unknown[][])[1], [2, "8.5", "9.1", 10]);
  assert.equal((mean.x as number[]).length, 7);
  assert.equal((mean.x as number[])[0], (9 + 8.5 + 7 + 6.5) / 4);
  assert.equal((mean.y as number[])[0], (8.7 + 9.1 + 6.2 + 6.9) / 4);
  assert.deepEqual(diag.x, [0, 9.1]);
  assert.match(subtitle(fig), /Pearson r = 0\.93/);
  assertSnapshot("probe-vs-latent", fig);
  const few = probeVsLatentFigure(probe, { maxLatents: 3, window: 100 });
  assert.equal((few.data[0].x as number[]).length, 3);
  assert.deepEqual(few.data[1].x, [(9 + 8.5 + 7) / 3]);
  assert.throws(() => probeVsLatentFigure(probe, { maxLatents: 0 }), InputError);
});

test("probeVsLatentRows: probe R² with interval, correlation and counts", () => {
  const rows = probeVsLatentRows(probe);
  assert.deepEqual(rows[0], { quantity: "probe test R² (r2) of z → ‖z‖²", value: 0.97, ci_lo: 0.96, ci_hi: 0.98 });
  assert.deepEqual(rows.map((r) => r.value), [0.97, 0.93, 10, 16, 80]);
});
