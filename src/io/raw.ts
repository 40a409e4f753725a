// Raw headerless float32 files (the paper's activation cache uses these with a .npy extension). Without a header the
// caller states the shape, and the file size must match it exactly — the only check such a file allows.
import * as fs from "fs";
import { InputError } from "../errors";
import { withAtomicFile } from "./atomic";
import { RandomAccessFile } from "./file";
import { writeAll } from "./npy";
import { assertFinite, byteLength, viewBytes } from "./tensor";

function openChecked(filePath: string, shape: number[]): { file: RandomAccessFile; rowBytes: number } {
  const file = RandomAccessFile.open(filePath);
  try {
    const total = byteLength(`${filePath} (shape)`, "float32", shape);
    if (file.size !== total) {
      const hint = file.size >= 6 ? " (if it starts with \\x93NUMPY it is a real .npy: use openTensorFile)" : "";
      throw new InputError(filePath, `raw float32 [${shape.join(", ")}] needs ${total} bytes but the file has ${file.size}${hint}`);
    }
    return { file, rowBytes: shape.length === 0 ? 4 : byteLength(filePath, "float32", shape.slice(1)) };
  } catch (e) {
    file.close();
    throw e;
  }
}

/** Reads a whole raw little-endian float32 file of the given shape. */
export function readRawFloat32(filePath: string, shape: number[], options: { checkFinite?: boolean } = {}): Float32Array {
  const { file } = openChecked(filePath, shape);
  try {
    const out = viewBytes(filePath, "float32", file.read(0, file.size, "raw float32 data")) as Float32Array;
    if (options.checkFinite) assertFinite(filePath, out);
    return out;
  } finally {
    file.close();
  }
}

/** Reads rows [rowStart, rowStart + rowCount) of the first axis of a raw float32 file, touching only those bytes. */
export function readRawRowsFloat32(filePath: string, shape: number[], rowStart: number, rowCount: number,
  options: { checkFinite?: boolean } = {}): Float32Array {
  if (shape.length === 0) throw new InputError(filePath, "a 0-d array has no rows");
  const { file, rowBytes } = openChecked(filePath, shape);
  try {
    if (!Number.isSafeInteger(rowStart) || !Number.isSafeInteger(rowCount) || rowStart < 0 || rowCount < 0 ||
        rowStart + rowCount > shape[0]) {
      throw new InputError(filePath, `rows ${rowStart}..${rowStart + rowCount} are outside 0..${shape[0]}`);
    }
    const bytes = file.read(rowStart * rowBytes, rowCount * rowBytes, "raw float32 rows");
    const out = viewBytes(filePath, "float32", bytes) as Float32Array;
    if (options.checkFinite) assertFinite(`${filePath} rows ${rowStart}..${rowStart + rowCount}`, out);
    return out;
  } finally {
    file.close();
  }
}

/** Writes float32 values as a raw headerless file, atomically (the shape lives with the caller). */
export function writeRawFloat32(filePath: string, data: Float32Array): void {
  if (!(data instanceof Float32Array)) throw new InputError(`writeRawFloat32(${filePath})`, "data must be a Float32Array");
  withAtomicFile(filePath, (tmp) => {
    const fd = fs.openSync(tmp, "w");
    try {
      writeAll(fd, new Uint8Array(data.buffer, data.byteOffset, data.byteLength), 0);
    } finally {
      fs.closeSync(fd);
    }
  });
}
