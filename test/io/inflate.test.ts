// The streaming inflater must agree byte-for-byte with zlib on every kind of deflate block zlib produces, and
// turn every malformed stream into an InputError.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as zlib from "zlib";
import { InputError } from "../../src/errors";
import { RawInflater } from "../../src/io/inflate";
import { normals, rng } from "../helpers/random";

function sources(): [string, Buffer][] {
  const u = rng(7);
  const random = Buffer.from(Uint8Array.from({ length: 100_000 }, () => Math.floor(u() * 256)));
  const floats = Buffer.from(normals(30_000, 3).buffer);
  const text = Buffer.from("the quick brown fox jumps over the lazy dog ".repeat(3000));
  const runs = Buffer.alloc(70_000, 0);
  runs.fill(7, 20_000, 50_000);
  return [["random", random], ["floats", floats], ["text", text], ["runs", runs], ["empty", Buffer.alloc(0)], ["one", Buffer.from([42])]];
}

const SETTINGS: [string, zlib.ZlibOptions][] = [
  ["level0 (stored blocks)", { level: 0 }], ["level1", { level: 1 }], ["level9", { level: 9 }],
  ["fixed Huffman", { strategy: zlib.constants.Z_FIXED }], ["Huffman only", { strategy: zlib.constants.Z_HUFFMAN_ONLY }],
  ["RLE", { strategy: zlib.constants.Z_RLE }], ["small window", { windowBits: 9, memLevel: 1 }],
];

function inflateAll(compressed: Uint8Array, pullSize: number, readSize: number): Buffer {
  let at = 0;
  const inf = new RawInflater(() => {
    if (at >= compressed.length) return null;
    const c = compressed.subarray(at, at + pullSize);
    at += c.length;
    return c;
  }, "test");
  const parts: Buffer[] = [];
  for (;;) {
    const out = new Uint8Array(readSize);
    const n = inf.read(out, 0, readSize);
    parts.push(Buffer.from(out.subarray(0, n)));
    if (n < readSize) break;
  }
  assert.ok(inf.finished);
  assert.equal(inf.hasTrailingInput(), false);
  return Buffer.concat(parts);
}

test("RawInflater reproduces zlib output for every block type and chunking", () => {
  for (const [name, data] of sources()) {
    for (const [setting, opts] of SETTINGS) {
      const compressed = zlib.deflateRawSync(data, opts);
      for (const [pull, read] of [[1, 1000], [4096, 1], [65536, 65536], [333, 12345]]) {
        if (data.length > 20_000 && (pull === 1 || read === 1)) continue; // byte-at-a-time is slow; small inputs cover it
        const got = inflateAll(compressed, pull, read);
        assert.ok(got.equals(data), `${name} / ${setting} / pull ${pull} read ${read}`);
      }
    }
  }
});

test("RawInflater can skip output without keeping it", () => {
  const data = Buffer.from(normals(50_000, 11).buffer);
  const compressed = zlib.deflateRawSync(data);
  let given = false;
  const inf = new RawInflater(() => (given ? null : ((given = true), compressed)), "t");
  assert.equal(inf.read(null, 0, 150_001), 150_001);
  const out = new Uint8Array(1000);
  assert.equal(inf.read(out, 0, 1000), 1000);
  assert.ok(Buffer.from(out).equals(data.subarray(150_001, 151_001)));
});

function expectCorrupt(bytes: Uint8Array, re?: RegExp): void {
  let given = false;
  const inf = new RawInflater(() => (given ? null : ((given = true), bytes)), "bad.npz");
  assert.throws(() => {
    const out = new Uint8Array(1 << 16);
    while (inf.read(out, 0, out.length) === out.length) { /* keep going */ }
    if (inf.hasTrailingInput()) throw new InputError("bad.npz", "trailing");
  }, (e: unknown) => e instanceof InputError && (!re || re.test(e.message)));
}

test("malformed deflate streams raise InputError", () => {
  expectCorrupt(Uint8Array.of(0x07), /reserved block type/); // final block, type 3
  expectCorrupt(Uint8Array.of(0x01, 0x05, 0x00, 0x00, 0x00), /length check/); // stored LEN/NLEN mismatch
  expectCorrupt(Uint8Array.of(0x01, 0x05, 0x00, 0xfa, 0xff, 1, 2), /ends early/); // stored block cut short
  const good = zlib.deflateRawSync(Buffer.from("hello hello hello hello"), { strategy: zlib.constants.Z_FIXED });
  expectCorrupt(good.subarray(0, good.length - 2), /ends early/);
  // A back-reference before the start: fixed block, length symbol 257 (len 3), distance code 0 (dist 1) as first symbol.
  expectCorrupt(Uint8Array.of(0x03, 0x02, 0x00), /before the start/);
  expectCorrupt(Buffer.concat([zlib.deflateRawSync(Buffer.from("abc")), Buffer.from([1, 2, 3])]), /trailing/);
  // Random garbage never hangs and never escapes as another error type.
  const u = rng(99);
  for (let k = 0; k < 300; k++) {
    const junk = Uint8Array.from({ length: 1 + Math.floor(u() * 200) }, () => Math.floor(u() * 256));
    let given = false;
    const inf = new RawInflater(() => (given ? null : ((given = true), junk)), "junk");
    try {
      const out = new Uint8Array(4096);
      for (let i = 0; i < 1000 && inf.read(out, 0, out.length) === out.length; i++) { /* bounded */ }
    } catch (e) {
      assert.ok(e instanceof InputError, `junk ${k}: ${(e as Error).message}`);
    }
  }
});
