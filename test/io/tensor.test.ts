import { test } from "node:test";
import * as assert from "node:assert/strict";
import { InputError } from "../../src/errors";
import {
  assertFinite, assertFiniteTensor, bfloat16BitsToFloat32, elementCount, float16BitsToFloat32, float32ToBfloat16Bits,
  float32ToFloat16Bits, hostTensor, toFloat32, toFloat64, validateHostTensor,
} from "../../src/io/tensor";

test("float16 decoding matches the IEEE definition on hand-checked values", () => {
  const cases: [number, number][] = [
    [0x0000, 0], [0x8000, -0], [0x3c00, 1], [0xc000, -2], [0x3555, 0.333251953125], [0x7bff, 65504],
    [0x0400, 2 ** -14], [0x0001, 2 ** -24], [0x03ff, 1023 * 2 ** -24], [0x7c00, Infinity], [0xfc00, -Infinity],
  ];
  const out = float16BitsToFloat32(Uint16Array.from(cases.map((c) => c[0])));
  cases.forEach(([, v], i) => assert.ok(Object.is(out[i], v), `0x${cases[i][0].toString(16)} → ${out[i]}, expected ${v}`));
  assert.ok(Number.isNaN(float16BitsToFloat32(Uint16Array.of(0x7e00))[0]));
});

test("float16 encoding inverts decoding for all 63488 non-NaN bit patterns and rounds ties to even", () => {
  const all = new Uint16Array(65536).map((_, i) => i);
  const decoded = float16BitsToFloat32(all);
  let checked = 0;
  for (let h = 0; h < 65536; h++) {
    if (Number.isNaN(decoded[h])) continue;
    assert.equal(float32ToFloat16Bits(decoded[h]), h, `bits 0x${h.toString(16)}`);
    checked++;
  }
  assert.equal(checked, 65536 - 2046);
  // 1 + 2^-11 lies exactly between 1 and the next float16 (1 + 2^-10): ties go to the even mantissa (1).
  assert.equal(float32ToFloat16Bits(1 + 2 ** -11), 0x3c00);
  assert.equal(float32ToFloat16Bits(1 + 3 * 2 ** -11), 0x3c02);
  assert.equal(float32ToFloat16Bits(65520), 0x7c00); // rounds up past the largest finite value
  assert.equal(float32ToFloat16Bits(2 ** -25), 0x0000); // half the smallest subnormal: tie to even zero
  assert.equal(float32ToFloat16Bits(3 * 2 ** -25), 0x0002);
  assert.equal(float32ToFloat16Bits(NaN) & 0x7c00, 0x7c00);
});

test("bfloat16 decodes as the top half of a float32 and encodes with round-to-nearest-even", () => {
  assert.deepEqual([...bfloat16BitsToFloat32(Uint16Array.of(0x3f80, 0xc040, 0x7f80, 0x0001))], [1, -3, Infinity, 2 ** -133]);
  assert.equal(float32ToBfloat16Bits(1), 0x3f80);
  assert.equal(float32ToBfloat16Bits(1 + 2 ** -8), 0x3f80); // tie → even
  assert.equal(float32ToBfloat16Bits(1 + 3 * 2 ** -8), 0x3f82); // tie → even (up)
  assert.equal(float32ToBfloat16Bits(1 + 2 ** -8 + 2 ** -20), 0x3f81);
  assert.ok(Number.isNaN(bfloat16BitsToFloat32(Uint16Array.of(float32ToBfloat16Bits(NaN)))[0]));
});

test("int64 converts exactly within ±2^53 and refuses beyond", () => {
  const ok = hostTensor("int64", [3], BigInt64Array.of(2n ** 53n, -(2n ** 53n), 7n));
  assert.deepEqual([...toFloat64(ok)], [2 ** 53, -(2 ** 53), 7]);
  assert.deepEqual([...toFloat32(ok)], [2 ** 53, -(2 ** 53), 7]);
  const bad = hostTensor("int64", [1], BigInt64Array.of(2n ** 53n + 1n));
  assert.throws(() => toFloat64(bad, "w"), (e: unknown) => e instanceof InputError && /beyond ±2\^53/.test(e.message));
});

test("toFloat32/toFloat64 convert every dtype", () => {
  const vals = [-3, 0, 5];
  const tensors = [
    hostTensor("float64", [3], Float64Array.from(vals)), hostTensor("int32", [3], Int32Array.from(vals)),
    hostTensor("int16", [3], Int16Array.from(vals)), hostTensor("int8", [3], Int8Array.from(vals)),
    hostTensor("float16", [3], Uint16Array.from(vals.map(float32ToFloat16Bits))),
    hostTensor("bfloat16", [3], Uint16Array.from(vals.map(float32ToBfloat16Bits))),
  ];
  for (const t of tensors) {
    assert.deepEqual([...toFloat32(t)], vals, t.dtype);
    assert.deepEqual([...toFloat64(t)], vals, t.dtype);
  }
  assert.deepEqual([...toFloat32(hostTensor("uint8", [2], Uint8Array.of(0, 255)))], [0, 255]);
  assert.deepEqual([...toFloat64(hostTensor("bool", [2], Uint8Array.of(1, 0)))], [1, 0]);
});

test("host tensors are validated: array type, length, shape entries, overflow", () => {
  const isInput = (e: unknown) => e instanceof InputError;
  assert.throws(() => validateHostTensor("t", { dtype: "float32", shape: [2], data: new Float64Array(2) }), isInput);
  assert.throws(() => validateHostTensor("t", { dtype: "float32", shape: [3], data: new Float32Array(2) }), isInput);
  assert.throws(() => validateHostTensor("t", { dtype: "float32", shape: [-1], data: new Float32Array(0) }), isInput);
  assert.throws(() => validateHostTensor("t", { dtype: "float32", shape: [1.5], data: new Float32Array(0) }), isInput);
  assert.throws(() => elementCount("t", [2 ** 30, 2 ** 30, 2 ** 30]), isInput);
  assert.equal(elementCount("t", []), 1);
  assert.equal(elementCount("t", [0, 2 ** 52]), 0);
});

test("assertFinite names the first NaN or infinity", () => {
  assertFinite("w", Float32Array.of(1, 2, -0));
  assert.throws(() => assertFinite("W_enc", Float32Array.of(1, NaN)), /W_enc: element 1 is NaN/);
  assert.throws(() => assertFinite("w", Float64Array.of(-Infinity)), InputError);
  assert.throws(() => assertFiniteTensor("h", hostTensor("float16", [2], Uint16Array.of(0x3c00, 0x7c00))), /element 1 is Infinity/);
  assert.throws(() => assertFiniteTensor("b", hostTensor("bfloat16", [1], Uint16Array.of(0x7fc0))), /element 0 is NaN/);
  assertFiniteTensor("i", hostTensor("int32", [1], Int32Array.of(1)));
});
