// Snapshot checks for figure builders (in the manner of Observable Plot's tests): the figure's JSON is compared with
// __snapshots__/<name>.json (numbers to 1e-12 relative, so last-ulp differences in Math.pow between Node versions do
// not fail); on a mismatch the actual JSON is written next to it as <name>.actual.json for a diff. A missing snapshot
// fails too (with the actual written) unless UPDATE_SNAPSHOTS=1, which (re)writes the expected files.
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import { writeFileAtomic } from "../../../src/io/atomic";
import type { Figure } from "../../../src/viz/plotly";

const DIR = path.join(__dirname, "__snapshots__");
const UPDATE = process.env.UPDATE_SNAPSHOTS === "1";

function sameJson(a: unknown, b: unknown, where: string, diffs: string[]): void {
  if (diffs.length > 5) return;
  if (typeof a === "number" && typeof b === "number") {
    if (Math.abs(a - b) > 1e-12 * Math.max(Math.abs(a), Math.abs(b), 1e-300)) diffs.push(`${where}: ${b} (expected ${a})`);
    return;
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) { diffs.push(`${where}: length ${b.length} (expected ${a.length})`); return; }
    a.forEach((v, i) => sameJson(v, b[i], `${where}[${i}]`, diffs));
    return;
  }
  if (a && b && typeof a === "object" && typeof b === "object" && !Array.isArray(a) && !Array.isArray(b)) {
    const ka = Object.keys(a), kb = Object.keys(b);
    if (ka.join("\u0000") !== kb.join("\u0000")) { diffs.push(`${where}: keys ${JSON.stringify(kb)} (expected ${JSON.stringify(ka)})`); return; }
    for (const k of ka) sameJson((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${where}.${k}`, diffs);
    return;
  }
  if (a !== b) diffs.push(`${where}: ${JSON.stringify(b)} (expected ${JSON.stringify(a)})`);
}

/** Compares `value`'s JSON with the stored snapshot `name`. */
export function assertSnapshot(name: string, value: unknown): void {
  const text = JSON.stringify(value, null, 2) + "\n";
  const expectedPath = path.join(DIR, `${name}.json`), actualPath = path.join(DIR, `${name}.actual.json`);
  if (UPDATE) {
    writeFileAtomic(expectedPath, text);
    fs.rmSync(actualPath, { force: true });
    return;
  }
  if (!fs.existsSync(expectedPath)) {
    writeFileAtomic(actualPath, text);
    assert.fail(`no snapshot ${expectedPath}: wrote ${actualPath}; check it and rerun with UPDATE_SNAPSHOTS=1`);
  }
  const diffs: string[] = [];
  sameJson(JSON.parse(fs.readFileSync(expectedPath, "utf8")), JSON.parse(text), name, diffs);
  if (diffs.length === 0) { fs.rmSync(actualPath, { force: true }); return; }
  writeFileAtomic(actualPath, text);
  assert.fail(`${name} differs from its snapshot (actual written to ${actualPath}):\n  ${diffs.join("\n  ")}`);
}

/** Walks a value and fails on anything that would not survive JSON as written: NaN/±Inf, typed arrays, undefined in arrays, functions. */
export function assertCleanJson(value: unknown, where = "figure"): void {
  if (typeof value === "number") { assert.ok(Number.isFinite(value), `${where} is ${value}`); return; }
  if (typeof value === "function") assert.fail(`${where} is a function`);
  if (ArrayBuffer.isView(value)) assert.fail(`${where} is a typed array (serialises as an object)`);
  if (Array.isArray(value)) {
    value.forEach((v, i) => { assert.notEqual(v, undefined, `${where}[${i}] is undefined`); assertCleanJson(v, `${where}[${i}]`); });
    return;
  }
  if (value && typeof value === "object") for (const [k, v] of Object.entries(value)) assertCleanJson(v, `${where}.${k}`);
}

/** The checks every figure must pass: clean JSON, a title, a height, typed traces. Returns the traces. */
export function checkFigure(fig: Figure): Record<string, unknown>[] {
  assertCleanJson(fig);
  assert.equal(typeof fig.layout.height, "number");
  assert.equal(typeof (fig.layout.title as { text?: unknown }).text, "string");
  assert.ok(fig.data.length > 0, "no traces");
  for (const t of fig.data) assert.equal(typeof t.type, "string");
  return fig.data;
}

/** The layout's subtitle text ("" when there is none). */
export function subtitle(fig: Figure): string {
  return (fig.layout.title as { subtitle?: { text: string } }).subtitle?.text ?? "";
}

/** Trace types in order. */
export function types(fig: Figure): string[] {
  return fig.data.map((t) => t.type as string);
}

/** An axis' title text. */
export function axisTitle(fig: Figure, key: string): string {
  return ((fig.layout[key] as Record<string, unknown>).title as { text: string }).text;
}
