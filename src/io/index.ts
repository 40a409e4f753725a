// Tensor files: .npy, .npz, safetensors and raw float32 — readers that validate untrusted input and read large
// arrays row-chunked, and atomic writers.
export type { DType, TensorEntry, HostTensor, HostData } from "./tensor";
export {
  DTYPES, itemSize, isFloatDType, elementCount, byteLength, validateHostTensor, hostTensor, toFloat32, toFloat64,
  assertFinite, assertFiniteTensor, float16BitsToFloat32, bfloat16BitsToFloat32, float32ToFloat16Bits, float32ToBfloat16Bits,
} from "./tensor";
export type { TensorFile, TensorFormat, OpenOptions } from "./tensorFile";
export { openTensorFile, detectTensorFormat } from "./open";
export { openNpy, writeNpy, createNpyWriter } from "./npy";
export type { NpyWriter } from "./npy";
export { openNpz, writeNpz } from "./npz";
export { openSafetensors, writeSafetensors } from "./safetensors";
export { readRawFloat32, readRawRowsFloat32, writeRawFloat32 } from "./raw";
export { writeFileAtomic, withAtomicFile } from "./atomic";
export { sampledFingerprint } from "./fingerprint";
