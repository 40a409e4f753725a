import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { cached, contentFingerprint, decodeResult, encodeResult } from "../../src/pipeline/cache";

function withCacheRoot<T>(f: (root: string) => Promise<T>): Promise<T> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "dm-cache-"));
  const before = process.env.DARKMATTER_ANALYSIS_CACHE;
  process.env.DARKMATTER_ANALYSIS_CACHE = root;
  return f(root).finally(() => {
    if (before === undefined) delete process.env.DARKMATTER_ANALYSIS_CACHE;
    else process.env.DARKMATTER_ANALYSIS_CACHE = before;
    fs.rmSync(root, { recursive: true, force: true });
  });
}

describe("analysis cache", () => {
  it("round-trips typed arrays, nested objects and non-finite numbers exactly", () => {
    const value = {
      a: new Float64Array([1 / 3, -0, 1e-300]), b: { c: new Float32Array([0.1, 2.5]), d: [new Int32Array([-7, 9]), new Uint8Array([255])] },
      nan: NaN, inf: -Infinity, s: "text", n: null,
    };
    const { json, blob } = encodeResult(value);
    const back = decodeResult<typeof value>(json, blob);
    assert.ok(back.a instanceof Float64Array && back.b.c instanceof Float32Array && back.b.d[0] instanceof Int32Array);
    assert.deepEqual(Array.from(back.a), Array.from(value.a));
    assert.ok(Object.is(back.a[1], -0));
    assert.deepEqual(Array.from(back.b.c), Array.from(value.b.c));
    assert.deepEqual(Array.from(back.b.d[0]), [-7, 9]);
    assert.deepEqual(Array.from(back.b.d[1] as Uint8Array), [255]);
    assert.ok(Number.isNaN(back.nan) && back.inf === -Infinity && back.s === "text" && back.n === null);
  });

  it("computes once per key and recomputes when the key changes", () => withCacheRoot(async () => {
    let calls = 0;
    const compute = () => { calls++; return { v: new Float64Array([calls]) }; };
    const first = await cached("k", { x: 1 }, compute);
    const again = await cached("k", { x: 1 }, compute);
    assert.equal(calls, 1);
    assert.equal(again.v[0], first.v[0]);
    await cached("k", { x: 2 }, compute);
    await cached("other", { x: 1 }, compute);
    assert.equal(calls, 3);
  }));

  it("treats a corrupt entry as missing", () => withCacheRoot(async (root) => {
    let calls = 0;
    await cached("k", 1, () => ++calls);
    for (const f of fs.readdirSync(path.join(root, "k"))) if (f.endsWith(".json")) fs.writeFileSync(path.join(root, "k", f), "{broken");
    assert.equal(await cached("k", 1, () => ++calls), 2);
  }));

  it("is disabled by DARKMATTER_ANALYSIS_CACHE=off", async () => {
    const before = process.env.DARKMATTER_ANALYSIS_CACHE;
    process.env.DARKMATTER_ANALYSIS_CACHE = "off";
    try {
      let calls = 0;
      await cached("k", 1, () => ++calls);
      await cached("k", 1, () => ++calls);
      assert.equal(calls, 2);
    } finally {
      if (before === undefined) delete process.env.DARKMATTER_ANALYSIS_CACHE;
      else process.env.DARKMATTER_ANALYSIS_CACHE = before;
    }
  });

  it("fingerprints a folder by its files' contents", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dm-fp-"));
    try {
      fs.writeFileSync(path.join(dir, "a.bin"), "one");
      fs.mkdirSync(path.join(dir, "sub"));
      fs.writeFileSync(path.join(dir, "sub", "b.bin"), "two");
      const f1 = contentFingerprint(dir);
      assert.equal(contentFingerprint(dir), f1);
      fs.writeFileSync(path.join(dir, "sub", "b.bin"), "TWO");
      assert.notEqual(contentFingerprint(dir), f1);
      assert.notEqual(contentFingerprint(path.join(dir, "a.bin")), contentFingerprint(path.join(dir, "sub", "b.bin")));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
