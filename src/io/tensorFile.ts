// One reader interface over every tensor container. Each format only says where a tensor's bytes are (a slot);
// reading whole tensors, row ranges and float conversion are implemented once here.
import { InputError } from "../errors";
import { HostTensor, TensorEntry, assertFinite, assertFiniteTensor, byteLength, isFloatDType, toFloat32, viewBytes } from "./tensor";

export type TensorFormat = "npy" | "npz" | "safetensors";

export interface TensorFile {
  path: string;
  format: TensorFormat;
  entries: TensorEntry[];
  metadata: Record<string, string>;
  /** The whole tensor with its stored dtype (checksummed where the container has checksums). */
  read(name: string): HostTensor;
  /** The whole tensor converted to float32. */
  readFloat32(name: string): Float32Array;
  /** Rows [rowStart, rowStart + rowCount) of the first axis, converted to float32, reading only those rows. */
  readRowsFloat32(name: string, rowStart: number, rowCount: number): Float32Array;
  /**
   * Columns [colStart, colStart + colCount) of rows [rowStart, rowStart + rowCount) of a 2-D tensor, as float32
   * row-major [rowCount, colCount] into `out` (one positional read per row: cheap when `randomAccess(name)`, one
   * pass of decompression otherwise).
   */
  readColumnsFloat32Into(name: string, rowStart: number, rowCount: number, colStart: number, colCount: number, out: Float32Array): void;
  /** Whether reads at arbitrary offsets of the tensor are cheap (stored bytes, not a deflated stream). */
  randomAccess(name: string): boolean;
  close(): void;
}

export interface OpenOptions {
  /** Reject NaN/±Infinity in any float tensor that is read (whole or by rows). */
  checkFinite?: boolean;
}

/** Where one tensor's bytes live, supplied by a format. */
export interface TensorSlot {
  entry: TensorEntry;
  /** All data bytes, in a fresh aligned buffer, verified against any checksum. */
  readAll(): Uint8Array;
  /** Data bytes [start, start + length) in a fresh aligned buffer (no checksum: only part is read). */
  readRange(start: number, length: number): Uint8Array;
  /** Stored bytes only: fills `target` with data bytes from `start` (no allocation). Absent for deflated data. */
  readRangeInto?(start: number, target: Uint8Array): void;
}

export class SlotTensorFile implements TensorFile {
  readonly entries: TensorEntry[];
  private readonly slots = new Map<string, TensorSlot>();
  private closed = false;

  constructor(
    readonly path: string,
    readonly format: TensorFormat,
    slots: TensorSlot[],
    readonly metadata: Record<string, string>,
    private readonly options: OpenOptions,
    private readonly onClose: () => void,
    aliases: Record<string, string> = {},
  ) {
    for (const s of slots) this.slots.set(s.entry.name, s);
    for (const [alias, name] of Object.entries(aliases)) {
      const s = this.slots.get(name);
      if (s && !this.slots.has(alias)) this.slots.set(alias, s);
    }
    this.entries = slots.map((s) => ({ name: s.entry.name, dtype: s.entry.dtype, shape: [...s.entry.shape] }));
  }

  private source(name: string): string {
    return name === "" ? this.path : `${this.path} (tensor "${name}")`;
  }

  private slot(name: string): TensorSlot {
    if (this.closed) throw new InputError(this.path, "file is closed");
    const s = this.slots.get(name);
    if (!s) {
      const names = this.entries.map((e) => JSON.stringify(e.name)).join(", ");
      throw new InputError(this.path, `no tensor named ${JSON.stringify(name)} (has ${names || "none"})`);
    }
    return s;
  }

  read(name: string): HostTensor {
    const s = this.slot(name);
    const source = this.source(s.entry.name);
    const t: HostTensor = { dtype: s.entry.dtype, shape: [...s.entry.shape], data: viewBytes(source, s.entry.dtype, s.readAll()) };
    if (this.options.checkFinite) assertFiniteTensor(source, t);
    return t;
  }

  readFloat32(name: string): Float32Array {
    const t = this.read(name);
    const out = toFloat32(t, this.source(name));
    // float64 values beyond the float32 range become ±Infinity here; with the check on, that is an error too.
    if (this.options.checkFinite && t.dtype === "float64") assertFinite(`${this.source(name)} (as float32)`, out);
    return out;
  }

  readRowsFloat32(name: string, rowStart: number, rowCount: number): Float32Array {
    const s = this.slot(name);
    const { dtype, shape } = s.entry;
    const source = this.source(s.entry.name);
    if (shape.length === 0) throw new InputError(source, "a 0-d tensor has no rows");
    if (!Number.isSafeInteger(rowStart) || !Number.isSafeInteger(rowCount) || rowStart < 0 || rowCount < 0 ||
        rowStart + rowCount > shape[0]) {
      throw new InputError(source, `rows ${rowStart}..${rowStart + rowCount} are outside 0..${shape[0]}`);
    }
    const rowBytes = byteLength(source, dtype, shape.slice(1));
    const bytes = s.readRange(rowStart * rowBytes, rowCount * rowBytes);
    const t: HostTensor = { dtype, shape: [rowCount, ...shape.slice(1)], data: viewBytes(source, dtype, bytes) };
    const out = toFloat32(t, source);
    if (this.options.checkFinite && isFloatDType(dtype)) assertFinite(`${source} rows ${rowStart}..${rowStart + rowCount}`, out);
    return out;
  }

  readColumnsFloat32Into(name: string, rowStart: number, rowCount: number, colStart: number, colCount: number, out: Float32Array): void {
    const s = this.slot(name);
    const { dtype, shape } = s.entry;
    const source = this.source(s.entry.name);
    if (shape.length !== 2) throw new InputError(source, `column reads need a 2-D tensor, this one has shape [${shape.join(", ")}]`);
    const [rows, cols] = shape;
    const ok = (v: number) => Number.isSafeInteger(v) && v >= 0;
    if (![rowStart, rowCount, colStart, colCount].every(ok) || rowStart + rowCount > rows || colStart + colCount > cols) {
      throw new InputError(source, `block rows ${rowStart}+${rowCount}, columns ${colStart}+${colCount} lies outside [${rows}, ${cols}]`);
    }
    if (out.length < rowCount * colCount) throw new InputError(source, `internal: output holds ${out.length} < ${rowCount * colCount} values`);
    const item = byteLength(source, dtype, [1]);
    if (colCount === cols && dtype === "float32" && s.readRangeInto) { // whole rows: one contiguous read
      s.readRangeInto(rowStart * cols * item, new Uint8Array(out.buffer, out.byteOffset, rowCount * cols * item));
      if (this.options.checkFinite) assertFinite(`${source} rows ${rowStart}..${rowStart + rowCount}`, out.subarray(0, rowCount * cols));
      return;
    }
    for (let r = 0; r < rowCount; r++) {
      const start = ((rowStart + r) * cols + colStart) * item;
      const dest = out.subarray(r * colCount, (r + 1) * colCount);
      if (dtype === "float32" && s.readRangeInto) {
        s.readRangeInto(start, new Uint8Array(dest.buffer, dest.byteOffset, dest.byteLength));
      } else {
        const t: HostTensor = { dtype, shape: [colCount], data: viewBytes(source, dtype, s.readRange(start, colCount * item)) };
        dest.set(toFloat32(t, source));
      }
    }
    if (this.options.checkFinite && isFloatDType(dtype)) assertFinite(`${source} block at row ${rowStart}, column ${colStart}`, out.subarray(0, rowCount * colCount));
  }

  randomAccess(name: string): boolean {
    return this.slot(name).readRangeInto !== undefined;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.onClose();
  }
}
