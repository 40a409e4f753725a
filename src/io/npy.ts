// .npy files: reading (versions 1–3, C order, little-endian) through positional reads, writing atomically, and a
// streaming writer for arrays produced row chunk by row chunk.
import * as fs from "fs";
import * as path from "path";
import { InputError } from "../errors";
import { withAtomicFile } from "./atomic";
import { RandomAccessFile } from "./file";
import { MAX_NPY_HEADER, NPY_PREAMBLE_V2, NpyHeader, encodeNpyHeader, npyDescr, parseNpyHeader } from "./npyHeader";
import { DType, HostTensor, byteLength, elementCount, float32ToFloat16Bits, tensorBytes, validateHostTensor } from "./tensor";
import { OpenOptions, SlotTensorFile, TensorFile } from "./tensorFile";

/** Reads and validates the header of a .npy that occupies `totalBytes` bytes starting at `start` of `file`. */
export function readNpyHeaderAt(
  file: { read(position: number, length: number, what?: string): Uint8Array },
  source: string, start: number, totalBytes: number,
): NpyHeader {
  // Preamble first, then exactly the header length it announces (parseNpyHeader bounds it).
  let head = file.read(start, Math.min(NPY_PREAMBLE_V2, totalBytes), ".npy preamble");
  for (let attempt = 0; attempt < 3; attempt++) {
    const r = parseNpyHeader(source, head, totalBytes);
    if (!("needed" in r)) return r;
    if (r.needed <= head.length || r.needed > NPY_PREAMBLE_V2 + MAX_NPY_HEADER) break;
    head = file.read(start, r.needed, ".npy header");
  }
  throw new InputError(source, "internal: .npy header could not be read");
}

export function openNpy(filePath: string, options: OpenOptions = {}): TensorFile {
  const file = RandomAccessFile.open(filePath);
  try {
    const h = readNpyHeaderAt(file, filePath, 0, file.size);
    const slot = {
      entry: { name: "", dtype: h.dtype, shape: h.shape },
      readAll: () => file.read(h.dataOffset, h.dataBytes, "array data"),
      readRange: (start: number, length: number) => file.read(h.dataOffset + start, length, "array rows"),
      readRangeInto: (start: number, target: Uint8Array) => { file.readInto(h.dataOffset + start, target, "array rows"); },
    };
    const base = path.basename(filePath);
    const aliases: Record<string, string> = { [base]: "", [base.replace(/\.npy$/i, "")]: "" };
    return new SlotTensorFile(filePath, "npy", [slot], {}, options, () => file.close(), aliases);
  } catch (e) {
    file.close();
    throw e;
  }
}

/** The bytes of a .npy file for `t` as header + data pieces (the data piece is a view, not a copy). */
export function npyPieces(source: string, t: HostTensor): [Uint8Array, Uint8Array] {
  validateHostTensor(source, t);
  return [encodeNpyHeader(source, t.dtype, t.shape), tensorBytes(t)];
}

/** Writes `t` as a .npy (v1 header, or v2 when the header does not fit 64 KiB), atomically. */
export function writeNpy(filePath: string, t: HostTensor): void {
  const [header, data] = npyPieces(`writeNpy(${filePath})`, t);
  withAtomicFile(filePath, (tmp) => {
    const fd = fs.openSync(tmp, "w");
    try {
      writeAll(fd, header, 0);
      writeAll(fd, data, header.length);
    } finally {
      fs.closeSync(fd);
    }
  });
}

export function writeAll(fd: number, bytes: Uint8Array, position: number): void {
  let done = 0;
  while (done < bytes.length) done += fs.writeSync(fd, bytes, done, bytes.length - done, position + done);
}

export interface NpyWriter {
  readonly path: string;
  /** Rows appended so far. */
  readonly rows: number;
  /** Appends whole rows (a multiple of the row size), converting from float32 to the file's dtype. */
  append(rows: Float32Array): void;
  /** Writes the final shape into the header and renames the file into place. */
  close(): void;
  /** Deletes the partial file; the target is left untouched. */
  abort(): void;
}

const STREAM_DTYPES: DType[] = ["float32", "float64", "float16"];

/**
 * A .npy writer for arrays that arrive in row chunks: the header reserves room for any row count, data is appended
 * to a temporary file, and close() patches the first dimension and renames the file onto `filePath`.
 */
export function createNpyWriter(filePath: string, dtype: DType, rowShape: number[]): NpyWriter {
  const source = `createNpyWriter(${filePath})`;
  if (!STREAM_DTYPES.includes(dtype)) throw new InputError(source, `dtype must be one of ${STREAM_DTYPES.join(", ")}, got ${dtype}`);
  npyDescr(source, dtype);
  const rowSize = elementCount(source, rowShape);
  // Reserve header room for the largest row count whose byte size is still exact in a double.
  const maxRows = Math.floor(Number.MAX_SAFE_INTEGER / Math.max(1, byteLength(source, dtype, rowShape)));
  const headerLength = encodeNpyHeader(source, dtype, [maxRows, ...rowShape]).length;
  fs.mkdirSync(path.dirname(filePath), { recursive: true });
  const partial = path.join(path.dirname(filePath), `.${path.basename(filePath)}.${process.pid}.${Date.now()}.partial`);
  let fd: number | null = fs.openSync(partial, "w");
  let rows = 0;
  let position = headerLength;
  const itemBytes = byteLength(source, dtype, [1]);

  const finish = (): number => {
    if (fd === null) throw new InputError(source, "writer is already closed");
    const f = fd;
    fd = null;
    return f;
  };

  return {
    path: filePath,
    get rows() { return rows; },
    append(data: Float32Array): void {
      if (fd === null) throw new InputError(source, "writer is already closed");
      if (!(data instanceof Float32Array)) throw new InputError(source, "append() takes a Float32Array");
      if (rowSize === 0 ? data.length !== 0 : data.length % rowSize !== 0) {
        throw new InputError(source, `append() got ${data.length} values, not a whole number of rows of ${rowSize}`);
      }
      const n = rowSize === 0 ? 0 : data.length / rowSize;
      if (rows + n > maxRows) throw new InputError(source, `more than ${maxRows} rows cannot be described exactly`);
      let bytes: Uint8Array;
      if (dtype === "float32") bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      else if (dtype === "float64") bytes = new Uint8Array(Float64Array.from(data).buffer);
      else {
        const bits = new Uint16Array(data.length);
        for (let i = 0; i < data.length; i++) bits[i] = float32ToFloat16Bits(data[i]);
        bytes = new Uint8Array(bits.buffer);
      }
      writeAll(fd, bytes, position);
      position += data.length * itemBytes;
      rows += n;
    },
    close(): void {
      const f = finish();
      try {
        const header = encodeNpyHeader(source, dtype, [rows, ...rowShape], headerLength);
        if (header.length !== headerLength) throw new InputError(source, "internal: header length changed");
        writeAll(f, header, 0);
        fs.fsyncSync(f);
      } catch (e) {
        fs.closeSync(f);
        fs.rmSync(partial, { force: true });
        throw e;
      }
      fs.closeSync(f);
      try {
        withAtomicFile(filePath, (tmp) => fs.renameSync(partial, tmp));
      } finally {
        fs.rmSync(partial, { force: true });
      }
    },
    abort(): void {
      if (fd === null) return;
      fs.closeSync(finish());
      fs.rmSync(partial, { force: true });
    },
  };
}
