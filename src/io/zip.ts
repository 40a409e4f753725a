// The subset of ZIP that .npz uses: a central directory (with ZIP64 extensions), stored or deflated members, CRC-32.
// Reading trusts nothing: every offset and size is checked against the file and against the local headers before
// any member is read.
import * as zlib from "zlib";
import { InputError } from "../errors";
import { RandomAccessFile } from "./file";

// ---- CRC-32 (IEEE, as zip uses) ----

let crcTable: Int32Array | null = null;

function crc32Js(data: Uint8Array, crc: number): number {
  if (!crcTable) {
    crcTable = new Int32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c;
    }
  }
  let c = ~crc;
  for (let i = 0; i < data.length; i++) c = crcTable[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

// zlib.crc32 (Node ≥ 20.15) is native and far faster on gigabyte members; the table version covers older Node 20.
const nativeCrc32 = (zlib as unknown as { crc32?: (d: Uint8Array, v?: number) => number }).crc32;

/** CRC-32 of `data`, continuing from `crc` (0 to start). */
export function crc32(data: Uint8Array, crc = 0): number {
  // Node's zlib.crc32 returns 0 for a view of a zero-length ArrayBuffer instead of the running value.
  if (data.length === 0) return crc >>> 0;
  return nativeCrc32 ? nativeCrc32(data, crc) >>> 0 : crc32Js(data, crc);
}

// ---- reading ----

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;
const SIG_ZIP64_EOCD = 0x06064b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;
const EOCD_SIZE = 22;
const CENTRAL_SIZE = 46;
const LOCAL_SIZE = 30;
const ZIP64_LOCATOR_SIZE = 20;
const ZIP64_EOCD_SIZE = 56;
const MAX_COMMENT = 0xffff;
/** Deflate cannot expand data by more than ~1032:1; a declared size beyond that is a lie (or a bomb). */
export const MAX_DEFLATE_RATIO = 1032;

export interface ZipMember {
  name: string;
  method: 0 | 8;
  crc32: number;
  compressedSize: number;
  uncompressedSize: number;
  /** Absolute file offset of the member's (compressed) data. */
  dataStart: number;
}

function u64(source: string, view: DataView, at: number, what: string): number {
  const v = view.getBigUint64(at, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new InputError(source, `zip ${what} ${v} is absurdly large`);
  return Number(v);
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Parses extra fields, requiring them to tile the extra area exactly; returns the ZIP64 field's data if any. */
function zip64Extra(source: string, extra: Uint8Array, where: string): DataView | null {
  const v = view(extra);
  let found: DataView | null = null;
  let i = 0;
  while (i < extra.length) {
    if (i + 4 > extra.length) throw new InputError(source, `${where}: truncated extra field`);
    const id = v.getUint16(i, true);
    const size = v.getUint16(i + 2, true);
    if (i + 4 + size > extra.length) throw new InputError(source, `${where}: extra field runs past its area`);
    if (id === 0x0001) {
      if (found) throw new InputError(source, `${where}: two ZIP64 extra fields`);
      found = new DataView(extra.buffer, extra.byteOffset + i + 4, size);
    }
    i += 4 + size;
  }
  return found;
}

/**
 * Replaces 0xFFFFFFFF placeholders with the ZIP64 extra's values, in the order the spec fixes. With `exact`, the
 * extra must hold exactly the placeholders' values (as the central directory's must), so no value goes unexplained.
 */
function resolveZip64(source: string, where: string, extra: DataView | null, fields: { value: number; what: string }[], exact: boolean): number[] {
  let at = 0;
  const values = fields.map(({ value, what }) => {
    if (value !== 0xffffffff) return value;
    if (!extra || at + 8 > extra.byteLength) throw new InputError(source, `${where}: ${what} needs a ZIP64 extra field that is missing or short`);
    const v = u64(source, extra, at, `${where} ${what}`);
    at += 8;
    return v;
  });
  if (exact && extra && extra.byteLength !== at) {
    throw new InputError(source, `${where}: ZIP64 extra field has ${extra.byteLength} bytes but ${at} are used`);
  }
  return values;
}

function decodeName(source: string, raw: Uint8Array, utf8: boolean): string {
  if (utf8) {
    try {
      return new TextDecoder("utf-8", { fatal: true }).decode(raw);
    } catch {
      throw new InputError(source, "zip member name is not valid UTF-8");
    }
  }
  return Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString("latin1");
}

interface Directory { count: number; cdOffset: number; cdSize: number; cdEnd: number }

function findDirectory(file: RandomAccessFile): Directory {
  const source = file.path;
  if (file.size < EOCD_SIZE) throw new InputError(source, `only ${file.size} bytes, too short for a zip file`);
  const tailLen = Math.min(file.size, EOCD_SIZE + MAX_COMMENT);
  const tailStart = file.size - tailLen;
  const tail = file.read(tailStart, tailLen, "zip end of central directory");
  const tv = view(tail);
  // The end record is the last signature whose comment length reaches exactly to the end of the file.
  let at = -1;
  for (let i = tailLen - EOCD_SIZE; i >= 0; i--) {
    if (tv.getUint32(i, true) === SIG_EOCD && i + EOCD_SIZE + tv.getUint16(i + 20, true) === tailLen) { at = i; break; }
  }
  if (at < 0) throw new InputError(source, "no zip end-of-central-directory record (truncated or not a zip)");
  const eocdPos = tailStart + at;
  const disk = tv.getUint16(at + 4, true);
  const cdDisk = tv.getUint16(at + 6, true);
  let countDisk = tv.getUint16(at + 8, true);
  let count = tv.getUint16(at + 10, true);
  let cdSize = tv.getUint32(at + 12, true);
  let cdOffset = tv.getUint32(at + 16, true);
  let cdEnd = eocdPos;
  const locPos = eocdPos - ZIP64_LOCATOR_SIZE;
  const placeholders = count === 0xffff || countDisk === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff;
  // Python's zipfile (numpy.savez of arrays over 2 GiB) writes the ZIP64 records whenever a member needs ZIP64, even
  // when the classic fields still fit: the central directory then ends at the ZIP64 end record, not at this one.
  const loc = locPos >= 0 ? view(file.read(locPos, ZIP64_LOCATOR_SIZE, "ZIP64 locator")) : null;
  const hasLocator = loc !== null && loc.getUint32(0, true) === SIG_ZIP64_LOCATOR;
  if (placeholders || hasLocator) {
    if (!loc || !hasLocator) throw new InputError(source, "zip needs a ZIP64 locator that is missing");
    if (loc.getUint32(4, true) !== 0 || loc.getUint32(16, true) !== 1) throw new InputError(source, "multi-disk zip files are not supported");
    const recPos = u64(source, loc, 8, "ZIP64 record offset");
    if (recPos + ZIP64_EOCD_SIZE > locPos) throw new InputError(source, `ZIP64 record offset ${recPos} is outside the file`);
    const rec = view(file.read(recPos, ZIP64_EOCD_SIZE, "ZIP64 end record"));
    if (rec.getUint32(0, true) !== SIG_ZIP64_EOCD) throw new InputError(source, "ZIP64 end record signature is wrong");
    const recSize = u64(source, rec, 4, "ZIP64 record size");
    if (recPos + 12 + recSize !== locPos) throw new InputError(source, "ZIP64 end record size does not reach the locator");
    if (rec.getUint32(16, true) !== 0 || rec.getUint32(20, true) !== 0) throw new InputError(source, "multi-disk zip files are not supported");
    const z = {
      countDisk: u64(source, rec, 24, "entry count"), count: u64(source, rec, 32, "entry count"),
      cdSize: u64(source, rec, 40, "central directory size"), cdOffset: u64(source, rec, 48, "central directory offset"),
    };
    // Each classic field must be its placeholder or agree with the ZIP64 record (writers store values that fit);
    // disk numbers always fit, so they must be 0.
    const agree = (classic: number, placeholder: number, value: number) => classic === placeholder || classic === value;
    if (disk !== 0 || cdDisk !== 0 || !agree(countDisk, 0xffff, z.countDisk) ||
        !agree(count, 0xffff, z.count) || !agree(cdSize, 0xffffffff, z.cdSize) || !agree(cdOffset, 0xffffffff, z.cdOffset)) {
      throw new InputError(source, "zip end record disagrees with its ZIP64 end record");
    }
    ({ countDisk, count, cdSize, cdOffset } = z);
    cdEnd = recPos;
  } else if (disk !== 0 || cdDisk !== 0) {
    throw new InputError(source, "multi-disk zip files are not supported");
  }
  if (countDisk !== count) throw new InputError(source, "multi-disk zip files are not supported");
  if (cdOffset + cdSize !== cdEnd) {
    throw new InputError(source, `zip central directory (offset ${cdOffset}, ${cdSize} bytes) does not end where the end record starts (${cdEnd})`);
  }
  if (count * CENTRAL_SIZE > cdSize) throw new InputError(source, `zip claims ${count} entries but its central directory is only ${cdSize} bytes`);
  return { count, cdOffset, cdSize, cdEnd };
}

/** Reads and cross-checks the central directory and every local header; returns members in directory order. */
export function readZipDirectory(file: RandomAccessFile): ZipMember[] {
  const source = file.path;
  const dir = findDirectory(file);
  const cd = file.read(dir.cdOffset, dir.cdSize, "zip central directory");
  const cv = view(cd);
  const members: (ZipMember & { localOffset: number })[] = [];
  const names = new Set<string>();
  let p = 0;
  for (let k = 0; k < dir.count; k++) {
    const where = `zip central directory entry ${k}`;
    if (p + CENTRAL_SIZE > cd.length || cv.getUint32(p, true) !== SIG_CENTRAL) throw new InputError(source, `${where}: bad signature or truncated`);
    const flags = cv.getUint16(p + 8, true);
    const method = cv.getUint16(p + 10, true);
    const crc = cv.getUint32(p + 16, true);
    const nameLen = cv.getUint16(p + 28, true);
    const extraLen = cv.getUint16(p + 30, true);
    const commentLen = cv.getUint16(p + 32, true);
    const diskStart = cv.getUint16(p + 34, true);
    if (p + CENTRAL_SIZE + nameLen + extraLen + commentLen > cd.length) throw new InputError(source, `${where}: runs past the central directory`);
    const nameRaw = cd.subarray(p + CENTRAL_SIZE, p + CENTRAL_SIZE + nameLen);
    const name = decodeName(source, nameRaw, (flags & 0x800) !== 0);
    const memberWhere = `zip member ${JSON.stringify(name)}`;
    const extra = zip64Extra(source, cd.subarray(p + CENTRAL_SIZE + nameLen, p + CENTRAL_SIZE + nameLen + extraLen), memberWhere);
    const [uncompressedSize, compressedSize, localOffset] = resolveZip64(source, memberWhere, extra, [
      { value: cv.getUint32(p + 24, true), what: "uncompressed size" },
      { value: cv.getUint32(p + 20, true), what: "compressed size" },
      { value: cv.getUint32(p + 42, true), what: "local header offset" },
    ], true);
    if (diskStart !== 0) throw new InputError(source, `${memberWhere}: multi-disk zip files are not supported`);
    if (flags & 0x41) throw new InputError(source, `${memberWhere}: encrypted members are not supported`);
    if (method !== 0 && method !== 8) throw new InputError(source, `${memberWhere}: compression method ${method} is not supported (only stored or deflate)`);
    if (names.has(name)) throw new InputError(source, `${memberWhere}: appears twice`);
    names.add(name);
    if (method === 0 && compressedSize !== uncompressedSize) {
      throw new InputError(source, `${memberWhere}: stored member has compressed size ${compressedSize} ≠ uncompressed size ${uncompressedSize}`);
    }
    if (method === 8 && uncompressedSize > compressedSize * MAX_DEFLATE_RATIO + 1024) {
      throw new InputError(source, `${memberWhere}: uncompressed size ${uncompressedSize} is impossible for ${compressedSize} deflated bytes`);
    }
    members.push({ name, method: method as 0 | 8, crc32: crc, compressedSize, uncompressedSize, dataStart: -1, localOffset });
    p += CENTRAL_SIZE + nameLen + extraLen + commentLen;
  }
  if (p !== cd.length) throw new InputError(source, `zip central directory has ${cd.length - p} unexplained trailing bytes`);

  for (const m of members) {
    const where = `zip member ${JSON.stringify(m.name)}`;
    if (m.localOffset + LOCAL_SIZE > dir.cdOffset) throw new InputError(source, `${where}: local header offset ${m.localOffset} is outside the member area`);
    const lv = view(file.read(m.localOffset, LOCAL_SIZE, `${where} local header`));
    if (lv.getUint32(0, true) !== SIG_LOCAL) throw new InputError(source, `${where}: local header signature is wrong`);
    const flags = lv.getUint16(6, true);
    const method = lv.getUint16(8, true);
    const nameLen = lv.getUint16(26, true);
    const extraLen = lv.getUint16(28, true);
    const varEnd = m.localOffset + LOCAL_SIZE + nameLen + extraLen;
    if (varEnd > dir.cdOffset) throw new InputError(source, `${where}: local header runs into the central directory`);
    const vars = file.read(m.localOffset + LOCAL_SIZE, nameLen + extraLen, `${where} local header`);
    const localName = decodeName(source, vars.subarray(0, nameLen), (flags & 0x800) !== 0);
    if (localName !== m.name) throw new InputError(source, `${where}: local header names ${JSON.stringify(localName)}`);
    if (method !== m.method) throw new InputError(source, `${where}: local header method ${method} ≠ central directory method ${m.method}`);
    if (flags & 0x41) throw new InputError(source, `${where}: encrypted members are not supported`);
    if ((flags & 0x08) === 0) {
      // Without a data descriptor the local header repeats CRC and sizes; they must agree with the directory.
      const extra = zip64Extra(source, vars.subarray(nameLen), `${where} local header`);
      const [u, c] = resolveZip64(source, `${where} local header`, extra, [
        { value: lv.getUint32(22, true), what: "uncompressed size" },
        { value: lv.getUint32(18, true), what: "compressed size" },
      ], false);
      const crc = lv.getUint32(14, true);
      if (u !== m.uncompressedSize || c !== m.compressedSize || crc !== m.crc32) {
        throw new InputError(source, `${where}: local header (crc ${crc}, sizes ${c}/${u}) disagrees with the central directory (crc ${m.crc32}, sizes ${m.compressedSize}/${m.uncompressedSize})`);
      }
    }
    m.dataStart = varEnd;
    if (m.dataStart + m.compressedSize > dir.cdOffset) {
      throw new InputError(source, `${where}: ${m.compressedSize} data bytes at ${m.dataStart} run past the member area (${dir.cdOffset})`);
    }
  }
  const byOffset = [...members].sort((a, b) => a.localOffset - b.localOffset);
  for (let i = 1; i < byOffset.length; i++) {
    const prev = byOffset[i - 1];
    if (byOffset[i].localOffset < prev.dataStart + prev.compressedSize) {
      throw new InputError(source, `zip members ${JSON.stringify(prev.name)} and ${JSON.stringify(byOffset[i].name)} overlap`);
    }
  }
  return members.map(({ localOffset: _unused, ...m }) => m);
}

// ---- writing ----

export interface ZipWriteMember {
  name: string;
  /** The member's content as consecutive pieces (not copied when stored). */
  pieces: Uint8Array[];
}

const DOS_DATE_1980 = 0x21; // 1980-01-01: a fixed timestamp keeps written files byte-for-byte reproducible.

/**
 * Writes a zip through `write(bytes, position)`, storing or deflating each member. ZIP64 records are used whenever a
 * size, offset or count needs them (`forceZip64` uses them always, which tests use to exercise that path).
 */
export function writeZip(
  write: (bytes: Uint8Array, position: number) => void,
  members: ZipWriteMember[],
  options: { compress?: boolean; forceZip64?: boolean } = {},
): number {
  const LIMIT = 0xffffffff;
  const central: Buffer[] = [];
  let pos = 0;
  for (const m of members) {
    const total = m.pieces.reduce((s, b) => s + b.length, 0);
    let crc = 0;
    for (const b of m.pieces) crc = crc32(b, crc);
    let body: Uint8Array[] = m.pieces;
    let method = 0;
    if (options.compress) {
      body = [zlib.deflateRawSync(m.pieces.length === 1 ? m.pieces[0] : Buffer.concat(m.pieces))];
      method = 8;
    }
    const compressed = body.reduce((s, b) => s + b.length, 0);
    const nameBytes = Buffer.from(m.name, "utf8");
    const utf8Flag = /^[\x20-\x7e]*$/.test(m.name) ? 0 : 0x800;
    const zip64 = !!options.forceZip64 || total >= LIMIT || compressed >= LIMIT || pos >= LIMIT;
    const version = zip64 ? 45 : 20;

    const local = Buffer.alloc(LOCAL_SIZE + nameBytes.length + (zip64 ? 20 : 0));
    local.writeUInt32LE(SIG_LOCAL, 0);
    local.writeUInt16LE(version, 4);
    local.writeUInt16LE(utf8Flag, 6);
    local.writeUInt16LE(method, 8);
    local.writeUInt16LE(0, 10);
    local.writeUInt16LE(DOS_DATE_1980, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(zip64 ? LIMIT : compressed, 18);
    local.writeUInt32LE(zip64 ? LIMIT : total, 22);
    local.writeUInt16LE(nameBytes.length, 26);
    local.writeUInt16LE(zip64 ? 20 : 0, 28);
    nameBytes.copy(local, LOCAL_SIZE);
    if (zip64) {
      const x = LOCAL_SIZE + nameBytes.length;
      local.writeUInt16LE(0x0001, x);
      local.writeUInt16LE(16, x + 2);
      local.writeBigUInt64LE(BigInt(total), x + 4);
      local.writeBigUInt64LE(BigInt(compressed), x + 12);
    }

    const cen = Buffer.alloc(CENTRAL_SIZE + nameBytes.length + (zip64 ? 28 : 0));
    cen.writeUInt32LE(SIG_CENTRAL, 0);
    cen.writeUInt16LE(version, 4);
    cen.writeUInt16LE(version, 6);
    cen.writeUInt16LE(utf8Flag, 8);
    cen.writeUInt16LE(method, 10);
    cen.writeUInt16LE(0, 12);
    cen.writeUInt16LE(DOS_DATE_1980, 14);
    cen.writeUInt32LE(crc, 16);
    cen.writeUInt32LE(zip64 ? LIMIT : compressed, 20);
    cen.writeUInt32LE(zip64 ? LIMIT : total, 24);
    cen.writeUInt16LE(nameBytes.length, 28);
    cen.writeUInt16LE(zip64 ? 28 : 0, 30);
    cen.writeUInt32LE(0o100644 * 0x10000, 38); // unix regular file, rw-r--r--
    cen.writeUInt32LE(zip64 ? LIMIT : pos, 42);
    nameBytes.copy(cen, CENTRAL_SIZE);
    if (zip64) {
      const x = CENTRAL_SIZE + nameBytes.length;
      cen.writeUInt16LE(0x0001, x);
      cen.writeUInt16LE(24, x + 2);
      cen.writeBigUInt64LE(BigInt(total), x + 4);
      cen.writeBigUInt64LE(BigInt(compressed), x + 12);
      cen.writeBigUInt64LE(BigInt(pos), x + 20);
    }
    central.push(cen);

    write(local, pos);
    pos += local.length;
    for (const b of body) {
      write(b, pos);
      pos += b.length;
    }
  }
  const cdOffset = pos;
  for (const c of central) {
    write(c, pos);
    pos += c.length;
  }
  const cdSize = pos - cdOffset;
  const zip64End = !!options.forceZip64 || members.length >= 0xffff || cdOffset >= LIMIT || cdSize >= LIMIT;
  if (zip64End) {
    const rec = Buffer.alloc(ZIP64_EOCD_SIZE + ZIP64_LOCATOR_SIZE);
    rec.writeUInt32LE(SIG_ZIP64_EOCD, 0);
    rec.writeBigUInt64LE(BigInt(ZIP64_EOCD_SIZE - 12), 4);
    rec.writeUInt16LE(45, 12);
    rec.writeUInt16LE(45, 14);
    rec.writeBigUInt64LE(BigInt(members.length), 24);
    rec.writeBigUInt64LE(BigInt(members.length), 32);
    rec.writeBigUInt64LE(BigInt(cdSize), 40);
    rec.writeBigUInt64LE(BigInt(cdOffset), 48);
    rec.writeUInt32LE(SIG_ZIP64_LOCATOR, ZIP64_EOCD_SIZE);
    rec.writeBigUInt64LE(BigInt(pos), ZIP64_EOCD_SIZE + 8);
    rec.writeUInt32LE(1, ZIP64_EOCD_SIZE + 16);
    write(rec, pos);
    pos += rec.length;
  }
  const end = Buffer.alloc(EOCD_SIZE);
  end.writeUInt32LE(SIG_EOCD, 0);
  end.writeUInt16LE(zip64End ? 0xffff : members.length, 8);
  end.writeUInt16LE(zip64End ? 0xffff : members.length, 10);
  end.writeUInt32LE(zip64End ? LIMIT : cdSize, 12);
  end.writeUInt32LE(zip64End ? LIMIT : cdOffset, 16);
  write(end, pos);
  return pos + EOCD_SIZE;
}
