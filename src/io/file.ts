// Positional reads from an open file descriptor. Tensor files can be many gigabytes, so readers never load a
// whole file: they read the bytes they need at known offsets, after checking those offsets lie inside the file.
import * as fs from "fs";
import { InputError } from "../errors";

// A single typed array cannot exceed this many bytes in V8; larger tensors must be read row-chunked.
export const MAX_READ_BYTES = 2 ** 32;

export class RandomAccessFile {
  readonly size: number;
  private fd: number | null;

  private constructor(readonly path: string, fd: number) {
    this.fd = fd;
    try {
      const st = fs.fstatSync(fd);
      if (!st.isFile()) throw new InputError(path, "is not a regular file");
      this.size = st.size;
    } catch (e) {
      fs.closeSync(fd);
      throw e;
    }
  }

  static open(path: string): RandomAccessFile {
    let fd: number;
    try {
      fd = fs.openSync(path, "r");
    } catch (e) {
      throw new InputError(path, `cannot open: ${(e as Error).message}`);
    }
    return new RandomAccessFile(path, fd);
  }

  /** Fills `target` with the bytes at [position, position + target.length), which must lie inside the file. */
  readInto(position: number, target: Uint8Array, what = "data"): Uint8Array {
    if (this.fd === null) throw new InputError(this.path, "file is closed");
    const end = position + target.length;
    if (!Number.isSafeInteger(position) || position < 0 || end > this.size) {
      throw new InputError(this.path, `${what} at bytes ${position}..${end} lies outside the file (${this.size} bytes)`);
    }
    let done = 0;
    while (done < target.length) {
      const n = fs.readSync(this.fd, target, done, target.length - done, position + done);
      if (n === 0) throw new InputError(this.path, `file ended early while reading ${what} (was it truncated while open?)`);
      done += n;
    }
    return target;
  }

  /** Reads `length` bytes at `position` into a new, aligned buffer. */
  read(position: number, length: number, what = "data"): Uint8Array {
    if (!Number.isSafeInteger(length) || length < 0) throw new InputError(this.path, `${what} has invalid length ${length}`);
    if (position + length > this.size) {
      throw new InputError(this.path, `${what} at bytes ${position}..${position + length} lies outside the file (${this.size} bytes)`);
    }
    if (length > MAX_READ_BYTES) {
      throw new InputError(this.path, `${what} is ${length} bytes, too large to read at once; read it in row chunks`);
    }
    return this.readInto(position, new Uint8Array(length), what);
  }

  close(): void {
    if (this.fd !== null) {
      fs.closeSync(this.fd);
      this.fd = null;
    }
  }
}
