// The chart-image cache: a figure drawn once is read back, only the missing ones are drawn, failures and files that
// are not PNGs are drawn again, and the key follows everything that changes the picture.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { cachedChartImages, chartImageKey } from "../../src/publish/chart-cache";
import type { StaticImage } from "../../src/viz/plotly";

/** A stand-in for a PNG (signature, then the item's name), so no Chromium is needed. */
const fakePng = (name: string) => Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(24), Buffer.from(name)]).toString("base64");

test("chart images are drawn once, read back, and drawn again when the file is not a PNG or the drawing failed", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dm-chart-cache-"));
  const calls: string[][] = [];
  const draw = (items: { n: string }[]): StaticImage[] => {
    calls.push(items.map((i) => i.n));
    return items.map((i) => (i.n === "bad" ? { missing: "Plotly could not draw it" } : { png: fakePng(i.n) }));
  };
  const a = { n: "a" }, b = { n: "b" }, bad = { n: "bad" };
  const first = cachedChartImages([a, b, bad], 1, dir, draw);
  assert.deepEqual(calls, [["a", "b", "bad"]]);
  assert.deepEqual(first[0], { png: fakePng("a") });
  assert.ok("missing" in first[2]);
  assert.equal(fs.readdirSync(dir).length, 2, "the failed drawing is not stored");

  const again = cachedChartImages([b, a, bad], 1, dir, draw);
  assert.deepEqual(calls[1], ["bad"], "only what is not cached is drawn");
  assert.deepEqual(again.slice(0, 2), [{ png: fakePng("b") }, { png: fakePng("a") }]);

  fs.writeFileSync(path.join(dir, `${chartImageKey(a, 1)}.png`), "truncated");
  assert.deepEqual(cachedChartImages([a], 1, dir, draw), [{ png: fakePng("a") }]);
  assert.deepEqual(calls[2], ["a"], "a file that is not a PNG is drawn again");
  assert.equal(cachedChartImages([a], 1, dir, draw).length, 1);
  assert.equal(calls.length, 3, "and then read back");
  fs.rmSync(dir, { recursive: true, force: true });
});

test("the key changes with the figure and the scale; equal figures share it", () => {
  const fig = { data: [{ type: "bar", x: ["a"], y: [1] }], layout: { height: 300 }, width: 900, height: 300 };
  assert.equal(chartImageKey(fig, 1), chartImageKey(JSON.parse(JSON.stringify(fig)), 1));
  assert.notEqual(chartImageKey(fig, 1), chartImageKey(fig, 2));
  assert.notEqual(chartImageKey(fig, 1), chartImageKey({ ...fig, height: 301 }, 1));
  assert.notEqual(chartImageKey(fig, 1), chartImageKey({ ...fig, data: [{ type: "bar", x: ["a"], y: [2] }] }, 1));
});
