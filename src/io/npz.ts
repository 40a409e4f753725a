// .npz: a zip of .npy members, stored (np.savez) or deflated (np.savez_compressed). Stored members are read in place
// with positional reads, so a multi-gigabyte params.npz can be read row-chunked. Deflated members are decompressed
// whole with zlib for full reads; row reads stream through RawInflater, keeping only the requested rows — the cost is
// decompressing everything before them (sequential chunked reads resume where the last read stopped, so reading a
// member front to back in chunks decompresses it once).
import * as fs from "fs";
import * as zlib from "zlib";
import { InputError } from "../errors";
import { withAtomicFile } from "./atomic";
import { MAX_READ_BYTES, RandomAccessFile } from "./file";
import { RawInflater } from "./inflate";
import { NpyHeader } from "./npyHeader";
import { npyPieces, readNpyHeaderAt, writeAll } from "./npy";
import { HostTensor } from "./tensor";
import { OpenOptions, SlotTensorFile, TensorFile, TensorSlot } from "./tensorFile";
import { ZipMember, crc32, readZipDirectory, writeZip } from "./zip";

const INPUT_CHUNK = 1 << 16;

/** A streaming decompressor over one deflated member, positioned at `pos` bytes of its uncompressed content. */
class MemberStream {
  private readonly inflater: RawInflater;
  pos = 0;

  constructor(file: RandomAccessFile, m: ZipMember, private readonly source: string) {
    let next = m.dataStart;
    const end = m.dataStart + m.compressedSize;
    this.inflater = new RawInflater(() => {
      if (next >= end) return null;
      const n = Math.min(INPUT_CHUNK, end - next);
      const chunk = file.read(next, n, "deflated member data");
      next += n;
      return chunk;
    }, source);
  }

  /** Reads exactly `length` bytes (into `out`, or discards them when `out` is null). */
  read(out: Uint8Array | null, length: number): void {
    const got = this.inflater.read(out, 0, length);
    this.pos += got;
    if (got !== length) throw new InputError(this.source, "deflated member ends before its declared size");
  }
}

function memberSlot(file: RandomAccessFile, m: ZipMember, source: string, entryName: string): TensorSlot {
  let header: NpyHeader;
  if (m.method === 0) {
    header = readNpyHeaderAt(file, source, m.dataStart, m.uncompressedSize);
  } else {
    // Decompress just the member's prefix to parse its header (readNpyHeaderAt only asks for prefixes).
    const prefix = new MemberStream(file, m, source);
    let have = new Uint8Array(0);
    header = readNpyHeaderAt({
      read: (_position: number, length: number) => {
        if (length > have.length) {
          const more = new Uint8Array(length);
          more.set(have);
          prefix.read(more.subarray(have.length), length - have.length);
          have = more;
        }
        return have.slice(0, length);
      },
    }, source, 0, m.uncompressedSize);
  }
  const { dataOffset, dataBytes } = header;

  const readAll = (): Uint8Array => {
    if (m.uncompressedSize > MAX_READ_BYTES) {
      throw new InputError(source, `member is ${m.uncompressedSize} bytes, too large to read at once; read it in row chunks`);
    }
    let content: Uint8Array;
    let crc: number;
    if (m.method === 0) {
      const head = file.read(m.dataStart, dataOffset, "npy header");
      content = file.read(m.dataStart + dataOffset, dataBytes, "member data");
      crc = crc32(content, crc32(head));
    } else {
      const compressed = file.read(m.dataStart, m.compressedSize, "deflated member");
      let whole: Buffer;
      try {
        whole = zlib.inflateRawSync(compressed, { maxOutputLength: Math.max(1, m.uncompressedSize + 1) });
      } catch (e) {
        throw new InputError(source, `corrupt deflate data: ${(e as Error).message}`);
      }
      if (whole.length !== m.uncompressedSize) {
        throw new InputError(source, `deflated member holds ${whole.length} bytes, not the declared ${m.uncompressedSize}`);
      }
      crc = crc32(whole);
      // Copy into a fresh buffer so the typed-array view is aligned regardless of where the header ends.
      content = new Uint8Array(dataBytes);
      content.set(whole.subarray(dataOffset));
    }
    if (crc !== m.crc32) throw new InputError(source, `CRC-32 mismatch (stored ${m.crc32}, computed ${crc}): the member is corrupt`);
    return content;
  };

  let stream: MemberStream | null = null;
  const readRange = (start: number, length: number): Uint8Array => {
    if (start < 0 || start + length > dataBytes) throw new InputError(source, `internal: byte range ${start}..${start + length} outside the data`);
    if (m.method === 0) return file.read(m.dataStart + dataOffset + start, length, "member rows");
    const target = dataOffset + start;
    if (!stream || stream.pos > target) stream = new MemberStream(file, m, source);
    if (length > MAX_READ_BYTES) throw new InputError(source, `${length} bytes are too many rows to read at once`);
    const out = new Uint8Array(length);
    try {
      stream.read(null, target - stream.pos);
      stream.read(out, length);
    } catch (e) {
      stream = null;
      throw e;
    }
    return out;
  };

  const readRangeInto = m.method === 0 ? (start: number, target: Uint8Array): void => {
    if (start < 0 || start + target.length > dataBytes) throw new InputError(source, `internal: byte range ${start}..${start + target.length} outside the data`);
    file.readInto(m.dataStart + dataOffset + start, target, "member rows");
  } : undefined;
  return { entry: { name: entryName, dtype: header.dtype, shape: header.shape }, readAll, readRange, readRangeInto };
}

export function openNpz(filePath: string, options: OpenOptions = {}): TensorFile {
  const file = RandomAccessFile.open(filePath);
  try {
    const members = readZipDirectory(file);
    const slots = members.map((m) => {
      if (!m.name.endsWith(".npy")) throw new InputError(filePath, `zip member ${JSON.stringify(m.name)} is not a .npy array`);
      const name = m.name.slice(0, -4);
      return memberSlot(file, m, `${filePath} (member "${m.name}")`, name);
    });
    return new SlotTensorFile(filePath, "npz", slots, {}, options, () => file.close());
  } catch (e) {
    file.close();
    throw e;
  }
}

/** Writes arrays as an .npz (member `<key>.npy` per key, as np.savez does), stored or deflated, atomically. */
export function writeNpz(filePath: string, record: Record<string, HostTensor>, options: { compress?: boolean } = {}): void {
  writeNpzWith(filePath, record, options);
}

/** writeNpz with the zip writer's test-only switch to force ZIP64 records. */
export function writeNpzWith(filePath: string, record: Record<string, HostTensor>, options: { compress?: boolean; forceZip64?: boolean }): void {
  const source = `writeNpz(${filePath})`;
  const members = Object.keys(record).map((key) => {
    if (key === "") throw new InputError(source, "array names must not be empty");
    return { name: `${key}.npy`, pieces: npyPieces(`${source} (array "${key}")`, record[key]) };
  });
  withAtomicFile(filePath, (tmp) => {
    const fd = fs.openSync(tmp, "w");
    try {
      writeZip((bytes, position) => writeAll(fd, bytes, position), members, options);
    } finally {
      fs.closeSync(fd);
    }
  });
}
