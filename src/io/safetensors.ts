// safetensors: u64 little-endian header length N, N bytes of JSON, then one byte buffer that the tensors' data
// offsets must tile exactly. Reading validates all of that before any tensor is allocated; writing follows the
// reference serializer (tensors ordered by descending dtype then name, header padded with spaces to 8 bytes).
import * as fs from "fs";
import { InputError } from "../errors";
import { withAtomicFile } from "./atomic";
import { RandomAccessFile } from "./file";
import { writeAll } from "./npy";
import { DType, HostTensor, TensorEntry, byteLength, tensorBytes, validateHostTensor } from "./tensor";
import { OpenOptions, SlotTensorFile, TensorFile, TensorSlot } from "./tensorFile";

/** The reference implementation's limit; a larger header is treated as corrupt. */
export const MAX_SAFETENSORS_HEADER = 100_000_000;

// Ordered as the reference's Dtype enum (increasing alignment), which decides the write order.
const ST_DTYPES: [string, DType][] = [
  ["BOOL", "bool"], ["U8", "uint8"], ["I8", "int8"], ["I16", "int16"], ["F16", "float16"], ["BF16", "bfloat16"],
  ["I32", "int32"], ["F32", "float32"], ["F64", "float64"], ["I64", "int64"],
];
const FROM_ST = new Map(ST_DTYPES);
const TO_ST = new Map(ST_DTYPES.map(([s, d]) => [d, s]));
const RANK = new Map(ST_DTYPES.map(([s], i) => [s, i]));
const KNOWN_UNSUPPORTED = ["U16", "U32", "U64", "F8_E5M2", "F8_E4M3", "F8_E8M0", "F4", "F6_E2M3", "F6_E3M2", "C64"];

interface StTensor extends TensorEntry {
  begin: number;
  end: number;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Validates the parsed header against the buffer length; returns tensors in header order and the metadata. */
function validateHeader(source: string, header: unknown, bufferBytes: number): { tensors: StTensor[]; metadata: Record<string, string> } {
  if (!isPlainObject(header)) throw new InputError(source, "safetensors header is not a JSON object");
  const metaEntries: [string, string][] = [];
  const tensors: StTensor[] = [];
  for (const [name, info] of Object.entries(header)) {
    const where = `tensor ${JSON.stringify(name)}`;
    if (name === "__metadata__") {
      if (!isPlainObject(info)) throw new InputError(source, "__metadata__ is not an object");
      for (const [k, v] of Object.entries(info)) {
        if (typeof v !== "string") throw new InputError(source, `__metadata__ value for ${JSON.stringify(k)} is not a string`);
        metaEntries.push([k, v]);
      }
      continue;
    }
    if (!isPlainObject(info)) throw new InputError(source, `${where}: entry is not an object`);
    const keys = Object.keys(info).sort().join(",");
    if (keys !== "data_offsets,dtype,shape") throw new InputError(source, `${where}: needs exactly dtype, shape, data_offsets (got ${keys})`);
    const st = info.dtype;
    if (typeof st !== "string") throw new InputError(source, `${where}: dtype is not a string`);
    const dtype = FROM_ST.get(st);
    if (!dtype) {
      const why = KNOWN_UNSUPPORTED.includes(st) ? "is not supported" : "is not a safetensors dtype";
      throw new InputError(source, `${where}: dtype ${JSON.stringify(st)} ${why}`);
    }
    const shape = info.shape;
    if (!Array.isArray(shape) || !shape.every((d) => typeof d === "number")) throw new InputError(source, `${where}: shape is not an array of integers`);
    const offsets = info.data_offsets;
    if (!Array.isArray(offsets) || offsets.length !== 2 ||
        !offsets.every((o) => typeof o === "number" && Number.isSafeInteger(o) && o >= 0)) {
      throw new InputError(source, `${where}: data_offsets is not a pair of non-negative integers`);
    }
    const [begin, end] = offsets as number[];
    const nbytes = byteLength(`${source} (${where})`, dtype, shape as number[]);
    if (end < begin) throw new InputError(source, `${where}: data_offsets [${begin}, ${end}] end before they begin`);
    if (end > bufferBytes) throw new InputError(source, `${where}: data_offsets [${begin}, ${end}] run past the ${bufferBytes}-byte buffer`);
    if (end - begin !== nbytes) {
      throw new InputError(source, `${where}: ${dtype} [${shape.join(", ")}] needs ${nbytes} bytes but data_offsets span ${end - begin}`);
    }
    tensors.push({ name, dtype, shape: shape as number[], begin, end });
  }
  const byOffset = [...tensors].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  for (const t of byOffset) {
    if (t.begin < cursor) throw new InputError(source, `tensor ${JSON.stringify(t.name)} overlaps the previous tensor (starts at ${t.begin} < ${cursor})`);
    if (t.begin > cursor) throw new InputError(source, `gap of ${t.begin - cursor} unused bytes before tensor ${JSON.stringify(t.name)}`);
    cursor = t.end;
  }
  if (cursor !== bufferBytes) throw new InputError(source, `tensors cover ${cursor} bytes but the buffer has ${bufferBytes} (trailing bytes)`);
  // fromEntries defines own properties, so a key such as "__proto__" cannot alter the object.
  return { tensors, metadata: Object.fromEntries(metaEntries) };
}

export function openSafetensors(filePath: string, options: OpenOptions = {}): TensorFile {
  const file = RandomAccessFile.open(filePath);
  try {
    if (file.size < 8) throw new InputError(filePath, `only ${file.size} bytes, too short for safetensors`);
    const lenBytes = file.read(0, 8, "header length");
    const n = new DataView(lenBytes.buffer).getBigUint64(0, true);
    if (n > BigInt(MAX_SAFETENSORS_HEADER)) throw new InputError(filePath, `safetensors header length ${n} exceeds ${MAX_SAFETENSORS_HEADER}`);
    const headerLen = Number(n);
    if (8 + headerLen > file.size) throw new InputError(filePath, `safetensors header length ${headerLen} runs past the end (${file.size} bytes)`);
    const raw = file.read(8, headerLen, "header");
    let text: string;
    try {
      text = new TextDecoder("utf-8", { fatal: true }).decode(raw);
    } catch {
      throw new InputError(filePath, "safetensors header is not valid UTF-8");
    }
    if (!text.startsWith("{")) throw new InputError(filePath, "safetensors header does not start with '{'");
    let header: unknown;
    try {
      header = JSON.parse(text);
    } catch (e) {
      throw new InputError(filePath, `safetensors header is not valid JSON: ${(e as Error).message}`);
    }
    const dataStart = 8 + headerLen;
    const { tensors, metadata } = validateHeader(filePath, header, file.size - dataStart);
    const slots: TensorSlot[] = tensors.map((t) => ({
      entry: { name: t.name, dtype: t.dtype, shape: t.shape },
      readAll: () => file.read(dataStart + t.begin, t.end - t.begin, `tensor "${t.name}"`),
      readRange: (start: number, length: number) => file.read(dataStart + t.begin + start, length, `tensor "${t.name}" rows`),
      readRangeInto: (start: number, target: Uint8Array) => { file.readInto(dataStart + t.begin + start, target, `tensor "${t.name}" rows`); },
    }));
    return new SlotTensorFile(filePath, "safetensors", slots, metadata, options, () => file.close());
  } catch (e) {
    file.close();
    throw e;
  }
}

/** Writes tensors in the reference layout (descending dtype, then name), atomically. */
export function writeSafetensors(filePath: string, record: Record<string, HostTensor>, metadata?: Record<string, string>): void {
  const source = `writeSafetensors(${filePath})`;
  const names = Object.keys(record);
  for (const name of names) {
    if (name === "__metadata__") throw new InputError(source, "a tensor cannot be named __metadata__");
    validateHostTensor(`${source} (tensor "${name}")`, record[name]);
  }
  if (metadata !== undefined) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== "string") throw new InputError(source, `metadata value for ${JSON.stringify(k)} is not a string`);
    }
  }
  const st = (name: string): string => TO_ST.get(record[name].dtype)!;
  names.sort((a, b) => (RANK.get(st(b))! - RANK.get(st(a))!) || (a < b ? -1 : a > b ? 1 : 0));
  // Built by hand to fix the key order: __metadata__ first, then tensors in data order, each dtype/shape/data_offsets.
  const parts: string[] = [];
  if (metadata !== undefined) parts.push(`"__metadata__":${JSON.stringify(metadata)}`);
  let offset = 0;
  for (const name of names) {
    const t = record[name];
    const n = byteLength(source, t.dtype, t.shape);
    parts.push(`${JSON.stringify(name)}:{"dtype":"${st(name)}","shape":[${t.shape.join(",")}],"data_offsets":[${offset},${offset + n}]}`);
    offset += n;
  }
  const json = Buffer.from(`{${parts.join(",")}}`, "utf8");
  const padded = Math.ceil(json.length / 8) * 8;
  const head = Buffer.alloc(8 + padded, 0x20);
  head.writeBigUInt64LE(BigInt(padded), 0);
  json.copy(head, 8);
  withAtomicFile(filePath, (tmp) => {
    const fd = fs.openSync(tmp, "w");
    try {
      writeAll(fd, head, 0);
      let pos = head.length;
      for (const name of names) {
        const bytes = tensorBytes(record[name]);
        writeAll(fd, bytes, pos);
        pos += bytes.length;
      }
    } finally {
      fs.closeSync(fd);
    }
  });
}
