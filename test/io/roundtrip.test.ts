// Writers and readers agree for every dtype in every format; the safetensors writer matches the reference's bytes.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { InputError } from "../../src/errors";
import {
  DType, HostTensor, createNpyWriter, float32ToBfloat16Bits, float32ToFloat16Bits, hostTensor, openTensorFile,
  readRawFloat32, readRawRowsFloat32, toFloat32, writeNpy, writeNpz, writeRawFloat32, writeSafetensors,
} from "../../src/io/index";
import { writeNpzWith } from "../../src/io/npz";
import { normals, rng } from "../helpers/random";

const TMP = fs.mkdtempSync(path.join(os.tmpdir(), "io-roundtrip-"));
process.on("exit", () => fs.rmSync(TMP, { recursive: true, force: true }));

function sample(dtype: DType, shape: number[], seed: number): HostTensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const x = normals(n, seed);
  const u = rng(seed);
  const ints = (lo: number, hi: number) => Array.from({ length: n }, () => lo + Math.floor(u() * (hi - lo + 1)));
  switch (dtype) {
    case "float64": return hostTensor(dtype, shape, Float64Array.from(x, (v) => v * 1e-3 + Math.PI));
    case "float32": return hostTensor(dtype, shape, x);
    case "float16": return hostTensor(dtype, shape, Uint16Array.from(x, float32ToFloat16Bits));
    case "bfloat16": return hostTensor(dtype, shape, Uint16Array.from(x, float32ToBfloat16Bits));
    case "int64": return hostTensor(dtype, shape, BigInt64Array.from(ints(-1e6, 1e6), (v) => BigInt(v) * 1_000_000_007n));
    case "int32": return hostTensor(dtype, shape, Int32Array.from(ints(-(2 ** 31), 2 ** 31 - 1)));
    case "int16": return hostTensor(dtype, shape, Int16Array.from(ints(-32768, 32767)));
    case "int8": return hostTensor(dtype, shape, Int8Array.from(ints(-128, 127)));
    case "uint8": return hostTensor(dtype, shape, Uint8Array.from(ints(0, 255)));
    case "bool": return hostTensor(dtype, shape, Uint8Array.from(ints(0, 1)));
  }
}

const ALL: DType[] = ["float64", "float32", "float16", "bfloat16", "int64", "int32", "int16", "int8", "uint8", "bool"];
const NPY_DTYPES = ALL.filter((d) => d !== "bfloat16");
const SHAPES = [[5, 3], [7], [], [0, 4], [2, 3, 4]];

function bytes(t: HostTensor): Buffer {
  return Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
}

function assertSame(actual: HostTensor, expected: HostTensor, what: string): void {
  assert.equal(actual.dtype, expected.dtype, `${what} dtype`);
  assert.deepEqual(actual.shape, expected.shape, `${what} shape`);
  assert.ok(bytes(actual).equals(bytes(expected)), `${what} bytes`);
}

function checkRows(file: string, name: string, t: HostTensor): void {
  if (t.shape.length === 0 || t.dtype === "int64") return;
  const tf = openTensorFile(file);
  const full = toFloat32(t);
  const row = t.shape.slice(1).reduce((a, b) => a * b, 1);
  for (let r = 0; r <= t.shape[0]; r++) {
    for (const n of [0, 1, 2]) {
      if (r + n > t.shape[0]) continue;
      assert.deepEqual(tf.readRowsFloat32(name, r, n), full.slice(r * row, (r + n) * row), `${file}:${name} rows ${r}+${n}`);
    }
  }
  tf.close();
}

test("npy round trip for every npy dtype and shape; data starts on a 64-byte boundary", () => {
  for (const dtype of NPY_DTYPES) {
    for (const shape of SHAPES) {
      const t = sample(dtype, shape, 3);
      const file = path.join(TMP, `${dtype}_${shape.join("x")}.npy`);
      writeNpy(file, t);
      const raw = fs.readFileSync(file);
      const headerLen = raw.readUInt16LE(8);
      assert.equal((10 + headerLen) % 64, 0);
      assert.equal(raw[10 + headerLen - 1], 0x0a, "header ends with a newline");
      const tf = openTensorFile(file);
      assert.equal(tf.format, "npy");
      assertSame(tf.read(""), t, file);
      tf.close();
      checkRows(file, "", t);
    }
  }
  assert.throws(() => writeNpy(path.join(TMP, "bf.npy"), sample("bfloat16", [2], 1)), /no standard bfloat16/);
});

test("npy headers too long for v1 switch to version 2", () => {
  const shape = [1, ...Array.from({ length: 25000 }, () => 1), 3];
  const t = hostTensor("float32", shape, Float32Array.of(1, 2, 3));
  const file = path.join(TMP, "long_header.npy");
  writeNpy(file, t);
  const raw = fs.readFileSync(file);
  assert.equal(raw[6], 2);
  assert.equal((12 + raw.readUInt32LE(8)) % 64, 0);
  const tf = openTensorFile(file);
  assertSame(tf.read(""), t, "v2");
  tf.close();
});

for (const compress of [false, true]) {
  test(`npz (${compress ? "deflated" : "stored"}) round trip for every npy dtype`, () => {
    const record: Record<string, HostTensor> = {};
    NPY_DTYPES.forEach((d, i) => SHAPES.forEach((s, j) => { record[`${d}_${j}`] = sample(d, s, i * 10 + j); }));
    for (const forceZip64 of [false, true]) {
      const file = path.join(TMP, `all_${compress}_${forceZip64}.npz`);
      if (forceZip64) writeNpzWith(file, record, { compress, forceZip64 });
      else writeNpz(file, record, { compress });
      const tf = openTensorFile(file);
      assert.equal(tf.format, "npz");
      assert.deepEqual(tf.entries.map((e) => e.name), Object.keys(record));
      for (const [k, t] of Object.entries(record)) assertSame(tf.read(k), t, `${file}:${k}`);
      tf.close();
      for (const [k, t] of Object.entries(record)) checkRows(file, k, t);
    }
  });
}

test("safetensors round trip for every dtype, with metadata", () => {
  const record: Record<string, HostTensor> = {};
  ALL.forEach((d, i) => SHAPES.forEach((s, j) => { record[`t.${d}.${j}`] = sample(d, s, 100 + i * 10 + j); }));
  const file = path.join(TMP, "all.safetensors");
  writeSafetensors(file, record, { format: "pt", "ü": "ñ" });
  const raw = fs.readFileSync(file);
  const n = Number(raw.readBigUInt64LE(0));
  assert.equal(n % 8, 0);
  const tf = openTensorFile(file);
  assert.equal(tf.format, "safetensors");
  assert.deepEqual(tf.metadata, { format: "pt", "ü": "ñ" });
  for (const [k, t] of Object.entries(record)) assertSame(tf.read(k), t, k);
  // Data offsets follow the reference order: larger alignment first, so every tensor is aligned to its item size.
  const header = JSON.parse(raw.subarray(8, 8 + n).toString("utf8"));
  for (const [k, t] of Object.entries(record)) {
    const size = bytes(t).length / Math.max(1, t.data.length);
    assert.equal(header[k].data_offsets[0] % (t.data.length ? size : 1), 0, `${k} aligned`);
  }
  tf.close();
  for (const [k, t] of Object.entries(record)) checkRows(file, k, t);
});

test("writeSafetensors produces the reference implementation's bytes", () => {
  // Vectors from the reference safetensors test suite (test_serialization, test_empty, forced alignment).
  const data = hostTensor("float32", [1, 2, 3], Float32Array.of(0, 1, 2, 3, 4, 5));
  const f1 = path.join(TMP, "ref1.safetensors");
  writeSafetensors(f1, { "attn.0": data });
  assert.deepEqual([...fs.readFileSync(f1)], [
    64, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 46, 48, 34, 58, 123, 34, 100, 116, 121, 112, 101, 34, 58, 34, 70,
    51, 50, 34, 44, 34, 115, 104, 97, 112, 101, 34, 58, 91, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97, 116, 97, 95, 111,
    102, 102, 115, 101, 116, 115, 34, 58, 91, 48, 44, 50, 52, 93, 125, 125, 0, 0, 0, 0, 0, 0, 128, 63, 0, 0, 0, 64, 0,
    0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64]);
  const f2 = path.join(TMP, "ref2.safetensors");
  writeSafetensors(f2, {});
  assert.deepEqual([...fs.readFileSync(f2)], [8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32]);
  writeSafetensors(f2, {}, { framework: "pt" });
  assert.deepEqual([...fs.readFileSync(f2)], [40, 0, 0, 0, 0, 0, 0, 0, 123, 34, 95, 95, 109, 101, 116, 97, 100, 97,
    116, 97, 95, 95, 34, 58, 123, 34, 102, 114, 97, 109, 101, 119, 111, 114, 107, 34, 58, 34, 112, 116, 34, 125, 125,
    32, 32, 32, 32, 32]);
  const f3 = path.join(TMP, "ref3.safetensors");
  writeSafetensors(f3, { attn0: hostTensor("float32", [1, 1, 2, 3], Float32Array.of(0, 1, 2, 3, 4, 5)) });
  const b3 = fs.readFileSync(f3);
  assert.equal(b3.readBigUInt64LE(0), 72n);
  assert.deepEqual([...b3.subarray(8 + 65, 8 + 72)], [32, 32, 32, 32, 32, 32, 32]);
  // Order: descending dtype rank (I64 > F64 > F32 > BF16 > F16 > I16 > U8 > BOOL), then name.
  const f4 = path.join(TMP, "order.safetensors");
  writeSafetensors(f4, {
    b: sample("bool", [1], 1), a: sample("float32", [1], 1), z: sample("int64", [1], 1), c: sample("float32", [1], 2),
    h: sample("bfloat16", [1], 1), g: sample("float16", [1], 1), f: sample("float64", [1], 1),
  });
  const b4 = fs.readFileSync(f4);
  const keys = Object.keys(JSON.parse(b4.subarray(8, 8 + Number(b4.readBigUInt64LE(0))).toString()));
  assert.deepEqual(keys, ["z", "f", "a", "c", "h", "g", "b"]);
});

test("raw float32 round trip, whole and by rows", () => {
  const x = normals(6 * 5, 9);
  const file = path.join(TMP, "acts.npy");
  writeRawFloat32(file, x);
  assert.deepEqual(readRawFloat32(file, [6, 5]), x);
  assert.deepEqual(readRawRowsFloat32(file, [6, 5], 1, 3), x.slice(5, 20));
  assert.deepEqual(readRawRowsFloat32(file, [6, 5], 6, 0), new Float32Array(0));
});

test("streaming npy writer patches the row count and renames only on close", () => {
  for (const dtype of ["float32", "float64", "float16"] as DType[]) {
    const file = path.join(TMP, `stream_${dtype}.npy`);
    fs.rmSync(file, { force: true });
    const w = createNpyWriter(file, dtype, [3, 2]);
    const chunks = [normals(6 * 4, 1), normals(0, 2), normals(6 * 7, 3)];
    for (const c of chunks) w.append(c);
    assert.equal(w.rows, 11);
    assert.equal(fs.existsSync(file), false, "target appears only on close");
    assert.throws(() => w.append(new Float32Array(5)), /whole number of rows/);
    w.close();
    assert.throws(() => w.append(new Float32Array(6)), /closed/);
    const all = new Float32Array(66);
    all.set(chunks[0]);
    all.set(chunks[2], 24);
    const tf = openTensorFile(file);
    assert.deepEqual(tf.entries, [{ name: "", dtype, shape: [11, 3, 2] }]);
    const expected = dtype === "float16" ? Float32Array.from(all, (v) => toFloat32(hostTensor("float16", [1], Uint16Array.of(float32ToFloat16Bits(v))))[0])
      : dtype === "float32" ? all : Float32Array.from(all);
    assert.deepEqual(tf.readFloat32(""), expected);
    assert.deepEqual(tf.readRowsFloat32("", 4, 2), expected.slice(24, 36));
    tf.close();
  }
  const empty = path.join(TMP, "stream_empty.npy");
  const w = createNpyWriter(empty, "float32", [4]);
  w.close();
  const tf = openTensorFile(empty);
  assert.deepEqual(tf.entries[0].shape, [0, 4]);
  tf.close();
  const aborted = path.join(TMP, "stream_aborted.npy");
  const a = createNpyWriter(aborted, "float32", [2]);
  a.append(Float32Array.of(1, 2));
  a.abort();
  assert.equal(fs.existsSync(aborted), false);
  assert.deepEqual(fs.readdirSync(TMP).filter((f) => f.includes("stream_aborted")), []);
  assert.throws(() => createNpyWriter(path.join(TMP, "x.npy"), "int32", [2]), InputError);
});

test("writers refuse inconsistent tensors with InputError", () => {
  const bad = { dtype: "float32", shape: [3], data: new Float32Array(2) } as HostTensor;
  assert.throws(() => writeNpy(path.join(TMP, "bad.npy"), bad), InputError);
  assert.throws(() => writeNpz(path.join(TMP, "bad.npz"), { a: bad }), InputError);
  assert.throws(() => writeSafetensors(path.join(TMP, "bad.safetensors"), { a: bad }), InputError);
  assert.throws(() => writeSafetensors(path.join(TMP, "bad.safetensors"), { __metadata__: sample("int8", [1], 1) }), InputError);
  assert.equal(fs.existsSync(path.join(TMP, "bad.npy")), false);
});

test("checkFinite rejects NaN/Inf in float tensors, whole and by rows", () => {
  const x = normals(12, 4);
  x[7] = NaN;
  const file = path.join(TMP, "nan.safetensors");
  writeSafetensors(file, { w: hostTensor("float32", [4, 3], x), h: hostTensor("float16", [2], Uint16Array.of(0x3c00, 0x7c00)) });
  const lax = openTensorFile(file);
  assert.ok(Number.isNaN(lax.readFloat32("w")[7]));
  lax.close();
  const strict = openTensorFile(file, { checkFinite: true });
  assert.throws(() => strict.read("w"), (e: unknown) => e instanceof InputError && /tensor "w".*element 7 is NaN/.test(e.message));
  assert.throws(() => strict.readRowsFloat32("w", 2, 1), /element 1 is NaN/);
  assert.deepEqual(strict.readRowsFloat32("w", 0, 2), x.slice(0, 6));
  assert.throws(() => strict.readFloat32("h"), /element 1 is Infinity/);
  strict.close();
});
