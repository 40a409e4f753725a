// Files written by numpy itself (see test/fixtures/io/make_fixtures.py) must load bit-exactly.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { InputError } from "../../src/errors";
import { HostTensor, openTensorFile, readRawFloat32, readRawRowsFloat32 } from "../../src/io/index";

const DIR = path.resolve(__dirname, "..", "fixtures", "io");
interface Expected { dtype: string; shape: number[]; hex?: string; sha256?: string; float32_hex?: string }
const EXPECTED = JSON.parse(fs.readFileSync(path.join(DIR, "expected.json"), "utf8")) as Record<string, Record<string, Expected>>;

function bytesOf(a: ArrayBufferView): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

function assertBytes(actual: ArrayBufferView, exp: { hex?: string; sha256?: string }, what: string): void {
  const b = bytesOf(actual);
  if (exp.hex !== undefined) assert.equal(b.toString("hex"), exp.hex, what);
  else assert.equal(crypto.createHash("sha256").update(b).digest("hex"), exp.sha256, what);
}

/** Float32 rows [r0, r0+n) taken from a full float32 conversion, to compare with readRowsFloat32. */
function sliceRows(full: Float32Array, shape: number[], r0: number, n: number): Float32Array {
  const row = shape.slice(1).reduce((a, b) => a * b, 1);
  return full.slice(r0 * row, (r0 + n) * row);
}

const containers = Object.keys(EXPECTED).filter((f) => f !== "raw_acts.npy");

for (const file of containers) {
  test(`numpy fixture ${file} loads bit-exactly`, () => {
    const tf = openTensorFile(path.join(DIR, file));
    try {
      const exp = EXPECTED[file];
      assert.equal(tf.format, file.endsWith(".npz") ? "npz" : file.endsWith(".npy") ? "npy" : "safetensors");
      assert.deepEqual(tf.entries.map((e) => e.name).sort(), Object.keys(exp).sort());
      for (const e of tf.entries) {
        const x = exp[e.name];
        assert.equal(e.dtype, x.dtype, `${file}:${e.name} dtype`);
        assert.deepEqual(e.shape, x.shape, `${file}:${e.name} shape`);
        const t: HostTensor = tf.read(e.name);
        assert.equal(t.dtype, x.dtype);
        assertBytes(t.data, x, `${file}:${e.name} bytes`);
        if (x.float32_hex !== undefined) assertBytes(tf.readFloat32(e.name), { hex: x.float32_hex }, `${file}:${e.name} float32`);
        if (e.dtype === "int64" && file === "i8_big.npy") continue;
        const full = tf.readFloat32(e.name);
        if (e.shape.length === 0) {
          assert.throws(() => tf.readRowsFloat32(e.name, 0, 1), InputError);
          continue;
        }
        const rows = e.shape[0];
        for (const [r0, n] of [[0, rows], [0, Math.min(1, rows)], [Math.floor(rows / 2), Math.ceil(rows / 3)], [rows, 0]]) {
          assert.deepEqual(bytesOf(tf.readRowsFloat32(e.name, r0, n)), bytesOf(sliceRows(full, e.shape, r0, n)),
            `${file}:${e.name} rows ${r0}+${n}`);
        }
        assert.throws(() => tf.readRowsFloat32(e.name, rows, 1), InputError);
        assert.throws(() => tf.readRowsFloat32(e.name, -1, 1), InputError);
      }
    } finally {
      tf.close();
    }
  });
}

test("a .npy is reachable as entry \"\" and by its basename", () => {
  const tf = openTensorFile(path.join(DIR, "f4.npy"));
  assert.deepEqual(bytesOf(tf.read("f4.npy").data), bytesOf(tf.read("").data));
  assert.deepEqual(bytesOf(tf.read("f4").data), bytesOf(tf.read("").data));
  assert.throws(() => tf.read("other"), /no tensor named "other"/);
  tf.close();
  assert.throws(() => tf.read(""), /closed/);
});

test("int64 beyond 2^53 reads as int64 but refuses float conversion", () => {
  const tf = openTensorFile(path.join(DIR, "i8_big.npy"));
  assert.equal((tf.read("").data as BigInt64Array)[0], 2n ** 53n + 1n);
  assert.throws(() => tf.readFloat32(""), (e: unknown) => e instanceof InputError && /i8_big\.npy.*2\^53/.test(e.message));
  tf.close();
});

test("deflated members stream row ranges in any order and sequential chunks", () => {
  const tf = openTensorFile(path.join(DIR, "big_deflated.npz"));
  for (const name of ["rows", "ramp", "noise"]) {
    const shape = tf.entries.find((e) => e.name === name)!.shape;
    const full = tf.readFloat32(name);
    // Sequential chunks resume the stream; backwards jumps restart it.
    for (const chunk of [1, 7, 64]) {
      for (let r = 0; r < shape[0]; r += chunk) {
        const n = Math.min(chunk, shape[0] - r);
        assert.deepEqual(tf.readRowsFloat32(name, r, n), sliceRows(full, shape, r, n), `${name} chunk ${chunk} at ${r}`);
      }
    }
    for (const r of [shape[0] - 3, 5, 100, 0]) assert.deepEqual(tf.readRowsFloat32(name, r, 3), sliceRows(full, shape, r, 3));
  }
  tf.close();
});

test("numpy files the readers must refuse give a clear InputError", () => {
  const cases: [string, RegExp][] = [
    ["reject_fortran.npy", /fortran_order True/], ["reject_bigendian.npy", /big-endian dtype '>f4'/],
    ["reject_object.npy", /object arrays/], ["reject_uint32.npy", /unsupported dtype '<u4'/],
    ["reject_complex.npy", /unsupported dtype '<c8'/], ["reject_structured.npy", /structured/],
    ["raw_acts.npy", /readRawFloat32/],
  ];
  for (const [file, re] of cases) {
    assert.throws(() => openTensorFile(path.join(DIR, file)),
      (e: unknown) => e instanceof InputError && e.message.includes(file) && re.test(e.message), file);
  }
});

test("safetensors metadata is exposed; npy/npz metadata is empty", () => {
  const st = openTensorFile(path.join(DIR, "model.safetensors"));
  assert.deepEqual(st.metadata, { format: "pt", note: "fixture" });
  st.close();
  const npz = openTensorFile(path.join(DIR, "params_stored.npz"));
  assert.deepEqual(npz.metadata, {});
  npz.close();
});

test("raw headerless float32 (the paper's activation cache) reads whole and by rows with an explicit shape", () => {
  const file = path.join(DIR, "raw_acts.npy");
  const exp = EXPECTED["raw_acts.npy"][""];
  const full = readRawFloat32(file, exp.shape);
  assertBytes(full, exp, "raw bytes");
  assert.deepEqual(readRawRowsFloat32(file, exp.shape, 2, 2), sliceRows(full, exp.shape, 2, 2));
  assert.throws(() => readRawFloat32(file, [5, 7]), (e: unknown) => e instanceof InputError && /needs 140 bytes but the file has 160/.test(e.message));
  assert.throws(() => readRawRowsFloat32(file, exp.shape, 4, 2), InputError);
});
