import { describe, it, mock } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { codeFingerprint } from "../../src/code-version";
import { cached, contentFingerprint, decodeResult, encodeResult } from "../../src/pipeline/cache";
import { DmWarning, onWarning } from "../../src/warnings";

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

  it("warns naming the entry and recomputes when any file of an entry is truncated, corrupted or missing", () => withCacheRoot(async (root) => {
    const damages: Record<string, (f: string) => void> = {
      truncated: (f) => fs.truncateSync(f, Math.floor(fs.statSync(f).size / 2)),
      "one byte flipped": (f) => { const b = fs.readFileSync(f); b[b.length >> 1] ^= 1; fs.writeFileSync(f, b); },
      deleted: (f) => fs.rmSync(f),
    };
    for (const file of ["result.json", "result.bin", "entry.json"]) {
      for (const [damage, apply] of Object.entries(damages)) {
        let calls = 0;
        const compute = () => ({ n: ++calls, v: new Float64Array([1.5, 2.5, 3.5]) });
        const key = { file, damage };
        await cached("k", key, compute, __filename);
        const [entry] = fs.readdirSync(path.join(root, "k")).filter((n) => !n.startsWith(".") && !n.endsWith(".lock"))
          .filter((n) => fs.existsSync(path.join(root, "k", n, "entry.json")) && fs.readFileSync(path.join(root, "k", n, "result.json"), "utf8").includes(JSON.stringify(key)));
        apply(path.join(root, "k", entry, file));
        const warnings: DmWarning[] = [];
        const stop = onWarning((w) => warnings.push(w));
        let again;
        try { again = await cached("k", key, compute, __filename); } finally { stop(); }
        assert.equal(calls, 2, `${file} ${damage}: not recomputed`);
        assert.equal(again.n, 2);
        assert.deepEqual(Array.from(again.v), [1.5, 2.5, 3.5]);
        assert.equal(warnings.length, 1, `${file} ${damage}: ${warnings.length} warnings`);
        assert.ok(warnings[0].subject.includes(entry) && warnings[0].code === "cache-corrupt", warnings[0].subject);
        // The recomputed entry is intact again: a third call reads it without a warning.
        const stop2 = onWarning((w) => warnings.push(w));
        try { assert.equal((await cached("k", key, compute, __filename)).n, 2); } finally { stop2(); }
        assert.equal(warnings.length, 1);
      }
    }
  }));

  it("keys entries by the code of the module that computes them", () => withCacheRoot(async () => {
    let calls = 0;
    const compute = () => ++calls;
    // This test file's import closure differs from that of cache.ts itself, so the same kind and key are two entries.
    const cacheModule = require.resolve("../../src/pipeline/cache");
    assert.notEqual(codeFingerprint(__filename), codeFingerprint(cacheModule));
    assert.equal(await cached("k", 1, compute, __filename), 1);
    assert.equal(await cached("k", 1, compute, __filename), 1);
    assert.equal(await cached("k", 1, compute, cacheModule), 2);
    assert.equal(await cached("k", 1, compute, cacheModule), 2);
  }));

  it("a full disk during the write ends with a clear error and leaves no entry behind", () => withCacheRoot(async (root) => {
    const real = fs.writeFileSync;
    const full = mock.method(require("fs") as typeof fs, "writeFileSync", (file: fs.PathOrFileDescriptor, ...rest: unknown[]) => {
      if (String(file).endsWith("result.json")) throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
      return (real as (...a: unknown[]) => void)(file, ...rest);
    });
    let calls = 0;
    try {
      await assert.rejects(cached("k", 1, () => ({ v: new Float32Array(1000).fill(++calls) }), __filename),
        (e: Error) => /disk is full \(ENOSPC\)/.test(e.message) && e.message.includes(path.join(root, "k")));
    } finally {
      full.mock.restore();
    }
    assert.deepEqual(fs.readdirSync(path.join(root, "k")), [], "a temp folder, a lock or an entry was left behind");
    const again = await cached("k", 1, () => ({ v: new Float32Array(1000).fill(++calls) }), __filename);
    assert.equal(calls, 2);
    assert.equal(again.v[999], 2);
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
