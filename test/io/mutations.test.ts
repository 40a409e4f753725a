// Mutation suite: systematically corrupted variants of valid files of every format. Each variant must end in an
// InputError — never another error type, never a silently accepted file, never a hang (a case over 1 s fails; that is
// a correctness bound against hangs, not a performance target).
import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { performance } from "perf_hooks";
import { InputError } from "../../src/errors";
import {
  OpenOptions, float32ToFloat16Bits, hostTensor, openTensorFile, readRawFloat32, readRawRowsFloat32, writeNpy,
  writeNpz, writeSafetensors,
} from "../../src/io/index";
import { writeNpzWith } from "../../src/io/npz";
import { normals } from "../helpers/random";

const FIXTURES = path.resolve(__dirname, "..", "fixtures", "io");
const TMP = fs.mkdtempSync(path.join(os.tmpdir(), "io-mutations-"));
process.on("exit", () => fs.rmSync(TMP, { recursive: true, force: true }));

interface Case {
  label: string;
  bytes: Uint8Array;
  options?: OpenOptions;
  /** Raw float32 files are read with an explicit shape instead of openTensorFile. */
  rawShape?: number[];
}

/** Opens a file and reads everything in it: whole tensors, then all rows in chunks. */
function exercise(file: string, options: OpenOptions = {}, rawShape?: number[]): void {
  if (rawShape) {
    readRawFloat32(file, rawShape, options);
    for (let r = 0; r < rawShape[0]; r += 2) readRawRowsFloat32(file, rawShape, r, Math.min(2, rawShape[0] - r), options);
    return;
  }
  const tf = openTensorFile(file, options);
  try {
    for (const e of tf.entries) tf.read(e.name);
    for (const e of tf.entries) {
      if (e.shape.length === 0) continue;
      for (let r = 0; r < e.shape[0]; r += 3) tf.readRowsFloat32(e.name, r, Math.min(3, e.shape[0] - r));
    }
  } finally {
    tf.close();
  }
}

let caseFile = 0;
/** Runs one case; returns a failure description, or null when it ended in InputError within a second. */
function runCase(c: Case): string | null {
  const file = path.join(TMP, `case${caseFile++ % 8}`);
  fs.writeFileSync(file, c.bytes);
  const t0 = performance.now();
  let outcome: string | null = "was accepted as valid";
  try {
    exercise(file, c.options, c.rawShape);
  } catch (e) {
    if (!(e instanceof InputError)) outcome = `threw ${(e as Error)?.name}: ${(e as Error)?.message}`;
    else if (!e.message.includes(file)) outcome = `InputError does not name the file: ${e.message}`;
    else outcome = null;
  }
  const ms = performance.now() - t0;
  if (ms > 1000) return `${c.label}: took ${ms.toFixed(0)} ms (hang guard)`;
  return outcome === null ? null : `${c.label}: ${outcome}`;
}

// ---- byte helpers ----

function flip(b: Uint8Array, at: number): Uint8Array {
  const c = Uint8Array.from(b);
  c[at] ^= 0xff;
  return c;
}

function setUint(b: Uint8Array, at: number, size: 2 | 4 | 8, value: bigint): Uint8Array {
  const c = Uint8Array.from(b);
  const v = new DataView(c.buffer);
  if (size === 2) v.setUint16(at, Number(value & 0xffffn), true);
  else if (size === 4) v.setUint32(at, Number(value & 0xffffffffn), true);
  else v.setBigUint64(at, value & 0xffffffffffffffffn, true);
  return c;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  return Uint8Array.from(Buffer.concat(parts.map((p) => Buffer.from(p))));
}

function truncations(label: string, b: Uint8Array, stride: number): Case[] {
  const out: Case[] = [];
  for (let n = 0; n < b.length; n += n < 64 ? 1 : stride) out.push({ label: `${label} truncated to ${n}`, bytes: b.subarray(0, n) });
  out.push({ label: `${label} truncated by 1`, bytes: b.subarray(0, b.length - 1) });
  for (const extra of [1, 7, 64]) out.push({ label: `${label} + ${extra} junk bytes`, bytes: concat(b, new Uint8Array(extra).fill(0xab)) });
  return out;
}

// ---- base files ----

function baseFiles(): Record<string, Uint8Array> {
  const w = hostTensor("float32", [7, 5], normals(35, 1));
  const write = (name: string, fn: (p: string) => void): Uint8Array => {
    const p = path.join(TMP, name);
    fn(p);
    return fs.readFileSync(p);
  };
  const fixture = (name: string) => Uint8Array.from(fs.readFileSync(path.join(FIXTURES, name)));
  return {
    "f4.npy": fixture("f4.npy"), "i8.npy": fixture("i8.npy"), "v2.npy": fixture("v2.npy"), "v3.npy": fixture("v3.npy"),
    "scalar.npy": fixture("scalar.npy"), "ours.npy": write("ours.npy", (p) => writeNpy(p, w)),
    "params_stored.npz": fixture("params_stored.npz"), "params_deflated.npz": fixture("params_deflated.npz"),
    "zip64_stored.npz": write("z64s.npz", (p) => writeNpzWith(p, { w, b: hostTensor("int32", [3], Int32Array.of(1, 2, 3)) }, { forceZip64: true })),
    "zip64_deflated.npz": write("z64d.npz", (p) => writeNpzWith(p, { w }, { compress: true, forceZip64: true })),
    "model.safetensors": fixture("model.safetensors"),
    "ours.safetensors": write("ours.st", (p) => writeSafetensors(p, { w, h: hostTensor("float16", [2], Uint16Array.of(1, 2)) }, { a: "ü" })),
  };
}

// ---- npy ----

function npyCases(name: string, b: Uint8Array): Case[] {
  const major = b[6];
  const pre = major === 1 ? 10 : 12;
  const headerLen = major === 1 ? b[8] | (b[9] << 8) : new DataView(b.buffer, b.byteOffset).getUint32(8, true);
  const dataOffset = pre + headerLen;
  const dict = Buffer.from(b.subarray(pre, dataOffset)).toString("latin1");
  const cases: Case[] = truncations(name, b, 5);
  for (let i = 0; i < dataOffset; i++) cases.push({ label: `${name} header byte ${i} flipped`, bytes: flip(b, i) });
  // Header length field lies.
  const lenSize = major === 1 ? 2 : 4;
  for (const v of [0n, 1n, BigInt(headerLen - 1), BigInt(headerLen + 1), BigInt(headerLen + 64), 0xffffn, 0xffffffffn]) {
    cases.push({ label: `${name} header length ${v}`, bytes: setUint(b, 8, lenSize, v) });
  }
  for (const v of [0, 4, 0x93]) cases.push({ label: `${name} version ${v}`, bytes: Uint8Array.from(b).fill(v, 6, 7) });
  // Same-length rewrites of the dict: wrong dtypes, shapes, syntax.
  const rewrite = (label: string, from: RegExp | string, to: string) => {
    const text = dict.replace(from, to);
    if (text === dict) throw new Error(`mutation "${label}" did not apply to ${name}`);
    const body = text.length <= dict.length ? text.slice(0, -1).padEnd(dict.length - 1, " ") + "\n" : null;
    if (body === null) return; // longer than the original header: covered by the re-encoded cases below
    cases.push({ label: `${name} ${label}`, bytes: concat(b.subarray(0, pre), Buffer.from(body, "latin1"), b.subarray(dataOffset)) });
  };
  const descr = /'descr': '([^']*)'/.exec(dict)![1];
  for (const d of ["<f3", ">f4", "|O", "<u2", "<c8", "<f16", "", "f4", "<F4", "=f4", "<M8", "<U3", "|V4"]) {
    if (d !== descr) rewrite(`descr ${d}`, `'${descr}'`, `'${d}'`);
  }
  const shapeText = /'shape': (\([^)]*\))/.exec(dict)![1];
  const shapeNums = shapeText.slice(1, -1).split(",").map((s) => s.trim()).filter(Boolean).map(Number);
  const badShapes = [
    "(1152921504606846976,)", "(-1,)", "(0,)", "(3.0,)", "(1e3,)", "(2, 2, 2, 2, 2, 2, 2)", "(99999999999999999999,)",
    "(4, 3", "4, 3)", "(4 3)", "(, )", "(,)", "(0x10,)", "(True,)", "('4',)", "[4, 3]", "(4)",
    shapeNums.length ? `(${shapeNums[0] + 1}${shapeNums.length > 1 ? ", " + shapeNums.slice(1).join(", ") : ","})` : "(2,)",
  ];
  for (const s of badShapes) rewrite(`shape ${s}`, shapeText, s);
  rewrite("fortran_order True", "'fortran_order': False", "'fortran_order': True ");
  rewrite("fortran_order 1", "'fortran_order': False", "'fortran_order': 1    ");
  rewrite("fortran_order missing", "'fortran_order': False, ", "");
  rewrite("unknown key", "'fortran_order'", "'fortran_ordex'");
  rewrite("duplicate key", "'fortran_order': False", "'descr': '<f4', a'x'");
  rewrite("no closing brace", /}\s*$/, " \n");
  rewrite("text after dict", /}\s*$/, "} x\n");
  rewrite("double quotes mismatched", `'${descr}'`, `"${descr}'`);
  rewrite("escape in string", `'${descr}'`, `'\\x3cf4'`);
  rewrite("python call", `'${descr}'`, `eval('1')`);
  return cases;
}

// ---- safetensors ----

function stCases(name: string, b: Uint8Array): Case[] {
  const dv = new DataView(b.buffer, b.byteOffset);
  const n = Number(dv.getBigUint64(0, true));
  const headerText = Buffer.from(b.subarray(8, 8 + n)).toString("utf8");
  const header = JSON.parse(headerText) as Record<string, any>;
  const buffer = b.subarray(8 + n);
  const cases: Case[] = truncations(name, b, 3);
  for (let i = 0; i < 8 + n; i++) cases.push({ label: `${name} header byte ${i} flipped`, bytes: flip(b, i) });
  for (const v of [0n, 1n, 2n, BigInt(n - 1), BigInt(n + 1), BigInt(n + 8), BigInt(b.length), 2n ** 60n, 2n ** 64n - 1n, 100_000_001n]) {
    cases.push({ label: `${name} header length ${v}`, bytes: setUint(b, 0, 8, v) });
  }
  const withHeader = (label: string, h: unknown, buf: Uint8Array = buffer) => {
    const text = Buffer.from(typeof h === "string" ? h : JSON.stringify(h), "utf8");
    const padded = Buffer.alloc(Math.ceil(text.length / 8) * 8, 0x20);
    text.copy(padded);
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(padded.length));
    cases.push({ label: `${name} ${label}`, bytes: concat(len, padded, buf) });
  };
  const clone = () => JSON.parse(headerText) as Record<string, any>;
  const tensors = Object.keys(header).filter((k) => k !== "__metadata__");
  const byOffset = [...tensors].sort((x, y) => header[x].data_offsets[0] - header[y].data_offsets[0]);
  for (const t of tensors) {
    const info = header[t];
    const [begin, end] = info.data_offsets as number[];
    const mutate = (label: string, fn: (e: any, h: Record<string, any>) => void) => {
      const h = clone();
      fn(h[t], h);
      withHeader(`tensor ${t}: ${label}`, h);
    };
    const sizes: Record<string, number> = { F64: 8, I64: 8, F32: 4, I32: 4, F16: 2, BF16: 2, I16: 2, I8: 1, U8: 1, BOOL: 1 };
    for (const d of ["F31", "f32", "U16", "U32", "U64", "F8_E4M3", "C64", "", 3, null, "STRING"]) {
      mutate(`dtype ${JSON.stringify(d)}`, (e) => { e.dtype = d; });
    }
    // A known dtype of a different size cannot match the data offsets (unless the tensor is empty).
    if (end > begin) for (const d of Object.keys(sizes)) if (sizes[d] !== sizes[info.dtype]) mutate(`dtype ${d}`, (e) => { e.dtype = d; });
    const shapes: unknown[] = [[2 ** 60], [-1], [1.5], ["3"], null, 7, [2 ** 31, 2 ** 31, 2 ** 31], [...info.shape, 2], [...info.shape, 0],
      info.shape.length ? [info.shape[0] + 1, ...info.shape.slice(1)] : [2]];
    for (const s of shapes) {
      const elems = Array.isArray(s) && s.every((x) => typeof x === "number") ? (s as number[]).reduce((a, c) => a * c, 1) : -1;
      const same = elems >= 0 && elems * sizes[info.dtype] === end - begin;
      if (!same) mutate(`shape ${JSON.stringify(s)}`, (e) => { e.shape = s; });
    }
    const offsetSets: unknown[] = [[begin, end + 1], [begin + 1, end], [begin - 1, end], [end, begin], [begin, 2 ** 60],
      [2 ** 60, 2 ** 60 + end - begin], [-1, end], [begin, end, 0], [begin], "0,4", [begin + 0.5, end + 0.5], [String(begin), end]];
    for (const o of offsetSets) {
      if (Array.isArray(o) && o[0] === begin && o[1] === end && o.length === 2) continue;
      mutate(`data_offsets ${JSON.stringify(o)}`, (e) => { e.data_offsets = o; });
    }
    mutate("missing dtype", (e) => { delete e.dtype; });
    mutate("missing shape", (e) => { delete e.shape; });
    mutate("missing data_offsets", (e) => { delete e.data_offsets; });
    mutate("extra key", (e) => { e.extra = 1; });
    mutate("entry not an object", (e, h) => { h[t] = [e.dtype, e.shape]; });
    // Same tensor described twice under two names: overlapping offsets.
    if (end > begin) mutate("duplicated under another name", (e, h) => { h[`${t}.copy`] = { ...e }; });
  }
  // Overlaps and gaps between neighbours: move a boundary so two tensors share bytes or leave a hole.
  for (let i = 1; i < byOffset.length; i++) {
    const [a, c] = [byOffset[i - 1], byOffset[i]];
    const h1 = clone();
    if (h1[a].data_offsets[1] > h1[a].data_offsets[0]) {
      h1[c].data_offsets = [h1[c].data_offsets[0] - 1, h1[c].data_offsets[1] - 1];
      withHeader(`overlap ${a}/${c}`, h1);
    }
    const h2 = clone();
    h2[c].data_offsets = [h2[c].data_offsets[0] + 1, h2[c].data_offsets[1] + 1];
    withHeader(`gap before ${c}`, h2, concat(buffer, Uint8Array.of(0)));
  }
  const h3 = clone();
  delete h3[byOffset[0]];
  if (header[byOffset[0]].data_offsets[1] > 0) withHeader(`first tensor missing (gap at start)`, h3);
  withHeader("trailing buffer bytes", clone(), concat(buffer, new Uint8Array(8)));
  withHeader("buffer short by one", clone(), buffer.subarray(0, buffer.length - 1));
  withHeader("metadata not an object", { ...clone(), __metadata__: ["a"] });
  withHeader("metadata value not a string", { ...clone(), __metadata__: { a: 1 } });
  withHeader("header is an array", "[1,2]");
  withHeader("header is a number", "42");
  withHeader("header is not JSON", "{'a': 1}");
  withHeader("header has trailing comma", headerText.trimEnd().replace(/}$/, ",}"));
  withHeader("header with a NUL", `${headerText.trimEnd()}\u0000`);
  withHeader("header not starting with {", ` ${headerText.trimEnd()}`);
  return cases;
}

// ---- npz ----

interface ZipField { label: string; at: number; size: 2 | 4 | 8 }

/** Locates the meaningful fields of a (valid) zip so they can be corrupted one by one. */
function zipFields(b: Uint8Array): { fields: ZipField[]; members: { name: string; dataStart: number; size: number; method: number; localAt: number; centralAt: number; localZip64At: number | null; centralZip64At: number | null }[] } {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const eocd = b.length - 22;
  assert.equal(v.getUint32(eocd, true), 0x06054b50);
  const fields: ZipField[] = [
    { label: "EOCD signature", at: eocd, size: 4 }, { label: "EOCD disk", at: eocd + 4, size: 2 },
    { label: "EOCD cd disk", at: eocd + 6, size: 2 }, { label: "EOCD entries on disk", at: eocd + 8, size: 2 },
    { label: "EOCD entries", at: eocd + 10, size: 2 }, { label: "EOCD cd size", at: eocd + 12, size: 4 },
    { label: "EOCD cd offset", at: eocd + 16, size: 4 }, { label: "EOCD comment length", at: eocd + 20, size: 2 },
  ];
  let count = v.getUint16(eocd + 10, true);
  let cdOffset = v.getUint32(eocd + 16, true);
  if (count === 0xffff) {
    const loc = eocd - 20;
    const rec = Number(v.getBigUint64(loc + 8, true));
    fields.push({ label: "ZIP64 locator signature", at: loc, size: 4 }, { label: "ZIP64 locator record offset", at: loc + 8, size: 8 },
      { label: "ZIP64 locator disks", at: loc + 16, size: 4 }, { label: "ZIP64 record signature", at: rec, size: 4 },
      { label: "ZIP64 record size", at: rec + 4, size: 8 }, { label: "ZIP64 record entries on disk", at: rec + 24, size: 8 },
      { label: "ZIP64 record entries", at: rec + 32, size: 8 }, { label: "ZIP64 record cd size", at: rec + 40, size: 8 },
      { label: "ZIP64 record cd offset", at: rec + 48, size: 8 });
    count = Number(v.getBigUint64(rec + 32, true));
    cdOffset = Number(v.getBigUint64(rec + 48, true));
  }
  const members = [];
  let p = cdOffset;
  for (let k = 0; k < count; k++) {
    const nameLen = v.getUint16(p + 28, true);
    const extraLen = v.getUint16(p + 30, true);
    const commentLen = v.getUint16(p + 32, true);
    const name = Buffer.from(b.subarray(p + 46, p + 46 + nameLen)).toString();
    let localAt = v.getUint32(p + 42, true);
    const centralZip64At = extraLen >= 4 && v.getUint16(p + 46 + nameLen, true) === 1 ? p + 46 + nameLen + 4 : null;
    if (localAt === 0xffffffff && centralZip64At !== null) localAt = Number(v.getBigUint64(centralZip64At + 16, true));
    const c = `central[${name}]`;
    fields.push({ label: `${c} signature`, at: p, size: 4 }, { label: `${c} method`, at: p + 10, size: 2 },
      { label: `${c} crc`, at: p + 16, size: 4 }, { label: `${c} compressed size`, at: p + 20, size: 4 },
      { label: `${c} uncompressed size`, at: p + 24, size: 4 }, { label: `${c} name length`, at: p + 28, size: 2 },
      { label: `${c} extra length`, at: p + 30, size: 2 }, { label: `${c} comment length`, at: p + 32, size: 2 },
      { label: `${c} disk start`, at: p + 34, size: 2 }, { label: `${c} local offset`, at: p + 42, size: 4 });
    for (let i = 0; i < nameLen; i++) fields.push({ label: `${c} name byte ${i}`, at: p + 46 + i, size: 2 });
    if (centralZip64At !== null) {
      fields.push({ label: `${c} zip64 id`, at: centralZip64At - 4, size: 2 }, { label: `${c} zip64 length`, at: centralZip64At - 2, size: 2 },
        { label: `${c} zip64 uncompressed`, at: centralZip64At, size: 8 }, { label: `${c} zip64 compressed`, at: centralZip64At + 8, size: 8 },
        { label: `${c} zip64 offset`, at: centralZip64At + 16, size: 8 });
    }
    const lNameLen = v.getUint16(localAt + 26, true);
    const lExtraLen = v.getUint16(localAt + 28, true);
    const localZip64At = lExtraLen >= 4 && v.getUint16(localAt + 30 + lNameLen, true) === 1 ? localAt + 30 + lNameLen + 4 : null;
    const l = `local[${name}]`;
    fields.push({ label: `${l} signature`, at: localAt, size: 4 }, { label: `${l} method`, at: localAt + 8, size: 2 },
      { label: `${l} crc`, at: localAt + 14, size: 4 }, { label: `${l} compressed size`, at: localAt + 18, size: 4 },
      { label: `${l} uncompressed size`, at: localAt + 22, size: 4 }, { label: `${l} name length`, at: localAt + 26, size: 2 },
      { label: `${l} extra length`, at: localAt + 28, size: 2 });
    for (let i = 0; i < lNameLen; i++) fields.push({ label: `${l} name byte ${i}`, at: localAt + 30 + i, size: 2 });
    if (localZip64At !== null) {
      fields.push({ label: `${l} zip64 id`, at: localZip64At - 4, size: 2 }, { label: `${l} zip64 length`, at: localZip64At - 2, size: 2 },
        { label: `${l} zip64 uncompressed`, at: localZip64At, size: 8 }, { label: `${l} zip64 compressed`, at: localZip64At + 8, size: 8 });
    }
    const dataStart = localAt + 30 + lNameLen + lExtraLen;
    const size = centralZip64At !== null ? Number(v.getBigUint64(centralZip64At + 8, true)) : v.getUint32(p + 20, true);
    members.push({ name, dataStart, size, method: v.getUint16(p + 10, true), localAt, centralAt: p, localZip64At, centralZip64At });
    p += 46 + nameLen + extraLen + commentLen;
  }
  return { fields, members };
}

function npzCases(name: string, b: Uint8Array): Case[] {
  const cases: Case[] = truncations(name, b, 11);
  const { fields, members } = zipFields(b);
  for (const f of fields) {
    // Name fields are single bytes; flipping one byte of a multi-byte field is enough to corrupt it.
    const width = f.label.includes("name byte") ? 1 : f.size;
    for (let i = 0; i < width; i++) cases.push({ label: `${name} ${f.label} byte ${i} flipped`, bytes: flip(b, f.at + i) });
    if (!f.label.includes("name byte")) {
      for (const v of [0n, 0xffffn, 0xffffffffn, 2n ** 60n]) {
        if (f.size === 2 && v > 0xffffn) continue;
        if (f.size === 4 && v > 0xffffffffn) continue;
        const view = new DataView(b.buffer, b.byteOffset);
        const current = f.size === 2 ? BigInt(view.getUint16(f.at, true)) : f.size === 4 ? BigInt(view.getUint32(f.at, true)) : view.getBigUint64(f.at, true);
        if (current === v) continue;
        // A zero extra/comment length where there is none is no change; a zero uncompressed size on an empty member neither.
        cases.push({ label: `${name} ${f.label} = ${v}`, bytes: setUint(b, f.at, f.size, v) });
      }
    }
  }
  for (const m of members) {
    const dv = new DataView(b.buffer, b.byteOffset);
    // Consistent lies: change central and local header together, so only deeper checks can catch them.
    const both = (label: string, edit: (c: Uint8Array) => void) => {
      const c = Uint8Array.from(b);
      edit(c);
      cases.push({ label: `${name} ${m.name}: ${label}`, bytes: c });
    };
    const cv = (c: Uint8Array) => new DataView(c.buffer);
    const crc = dv.getUint32(m.centralAt + 16, true);
    both("CRC changed in both headers", (c) => { cv(c).setUint32(m.centralAt + 16, crc ^ 1, true); cv(c).setUint32(m.localAt + 14, crc ^ 1, true); });
    for (const method of [1, 9, 12, 14, 99, m.method === 0 ? 8 : 0]) {
      both(`method ${method} in both headers`, (c) => { cv(c).setUint16(m.centralAt + 10, method, true); cv(c).setUint16(m.localAt + 8, method, true); });
    }
    const setSizes = (c: Uint8Array, comp: bigint, uncomp: bigint) => {
      const v = cv(c);
      if (m.centralZip64At !== null) {
        v.setBigUint64(m.centralZip64At, uncomp, true);
        v.setBigUint64(m.centralZip64At + 8, comp, true);
      } else {
        v.setUint32(m.centralAt + 20, Number(comp), true);
        v.setUint32(m.centralAt + 24, Number(uncomp), true);
      }
      if (m.localZip64At !== null) {
        v.setBigUint64(m.localZip64At, uncomp, true);
        v.setBigUint64(m.localZip64At + 8, comp, true);
      } else {
        v.setUint32(m.localAt + 18, Number(comp), true);
        v.setUint32(m.localAt + 22, Number(uncomp), true);
      }
    };
    const u = BigInt(m.method === 0 ? m.size : (m.centralZip64At !== null ? Number(dv.getBigUint64(m.centralZip64At, true)) : dv.getUint32(m.centralAt + 24, true)));
    const s = BigInt(m.size);
    const wide = m.centralZip64At !== null && m.localZip64At !== null;
    const sizePairs: [bigint, bigint][] = [[s, u + 1n], [s, u - 1n], [s + 1n, u], [s - 1n, u], [s, 0n], [0n, u],
      [s, s * 2000n], [s + 1n, u + 1n], [s - 1n, u - 1n]];
    if (wide) sizePairs.push([s, 2n ** 60n], [2n ** 60n, u], [2n ** 60n, 2n ** 60n]);
    else sizePairs.push([s, 0xfffffffen], [0xfffffffen, u]);
    for (const [cs, us] of sizePairs) {
      if (m.method === 0 && cs === us && cs === s) continue;
      if (cs < 0n || us < 0n) continue;
      both(`sizes ${cs}/${us} in both headers`, (c) => setSizes(c, cs, us));
    }
    // Member data corruption: caught by the CRC on a full read (stored) or by inflate/CRC (deflated).
    const step = Math.max(1, Math.floor(m.size / 24));
    for (let i = 0; i < m.size; i += step) cases.push({ label: `${name} ${m.name}: data byte ${i} flipped`, bytes: flip(b, m.dataStart + i) });
    if (m.size > 0) cases.push({ label: `${name} ${m.name}: last data byte flipped`, bytes: flip(b, m.dataStart + m.size - 1) });
  }
  // Zip trickery: a prepended member area, two members with the same data, a comment that lies.
  cases.push({ label: `${name} prefixed with 4 bytes`, bytes: concat(Uint8Array.of(0x50, 0x4b, 3, 4), b) });
  const withComment = setUint(concat(b, Buffer.from("comment")), b.length - 2, 2, 3n);
  cases.push({ label: `${name} comment length short`, bytes: withComment });
  if (members.length >= 2) {
    const c = Uint8Array.from(b);
    const v = cv2(c);
    const [m0, m1] = members;
    if (m1.centralZip64At === null) v.setUint32(m1.centralAt + 42, v.getUint32(m0.centralAt + 42, true), true);
    else v.setBigUint64(m1.centralZip64At + 16, BigInt(m0.localAt), true);
    cases.push({ label: `${name} two central entries pointing at one local header`, bytes: c });
  }
  return cases;
}

function cv2(c: Uint8Array): DataView {
  return new DataView(c.buffer, c.byteOffset, c.byteLength);
}

// ---- NaN / Inf with the finite check ----

function finiteCases(): Case[] {
  const cases: Case[] = [];
  const n = 12;
  for (const bad of [NaN, Infinity, -Infinity]) {
    for (let pos = 0; pos < n; pos += 5) {
      const x = normals(n, 5);
      x[pos] = bad;
      const t = hostTensor("float32", [4, 3], x);
      const h = hostTensor("float16", [4, 3], Uint16Array.from(x, float32ToFloat16Bits));
      const write = (file: string, fn: (p: string) => void): Uint8Array => {
        const p = path.join(TMP, file);
        fn(p);
        return fs.readFileSync(p);
      };
      const tag = `${bad} at ${pos}`;
      const opts = { checkFinite: true };
      cases.push({ label: `npy f32 ${tag}`, bytes: write("nan.npy", (p) => writeNpy(p, t)), options: opts });
      cases.push({ label: `npy f16 ${tag}`, bytes: write("nan16.npy", (p) => writeNpy(p, h)), options: opts });
      cases.push({ label: `npz ${tag}`, bytes: write("nan.npz", (p) => writeNpz(p, { ok: hostTensor("float32", [1], Float32Array.of(1)), w: t })), options: opts });
      cases.push({ label: `npz deflated ${tag}`, bytes: write("nanz.npz", (p) => writeNpz(p, { w: t }, { compress: true })), options: opts });
      cases.push({ label: `safetensors ${tag}`, bytes: write("nan.st", (p) => writeSafetensors(p, { w: t })), options: opts });
      cases.push({ label: `safetensors f16 ${tag}`, bytes: write("nan16.st", (p) => writeSafetensors(p, { w: h })), options: opts });
      cases.push({ label: `raw ${tag}`, bytes: new Uint8Array(x.buffer), options: opts, rawShape: [4, 3] });
    }
  }
  return cases;
}

function rawCases(): Case[] {
  const x = new Uint8Array(normals(20, 8).buffer);
  const cases: Case[] = [];
  for (let n = 0; n < x.length; n += 3) cases.push({ label: `raw truncated to ${n}`, bytes: x.subarray(0, n), rawShape: [5, 4] });
  cases.push({ label: "raw + 4 bytes", bytes: concat(x, new Uint8Array(4)), rawShape: [5, 4] });
  for (const shape of [[2 ** 60, 4], [-5, 4], [5.5, 4], [4, 4], [5, 4, 2], [2 ** 26, 2 ** 26, 2 ** 26]]) {
    cases.push({ label: `raw shape [${shape}]`, bytes: x, rawShape: shape });
  }
  return cases;
}

const FORMAT_CASES: [string, (name: string, b: Uint8Array) => Case[]][] = [[".npy", npyCases], [".npz", npzCases], [".safetensors", stCases]];

test("every base file is valid, so the mutations start from good input", () => {
  for (const [name, bytes] of Object.entries(baseFiles())) {
    const file = path.join(TMP, `base_${name}`);
    fs.writeFileSync(file, bytes);
    exercise(file);
  }
});

test("mutated tensor files all end in InputError, each within a second", () => {
  const cases: Case[] = [];
  for (const [name, bytes] of Object.entries(baseFiles())) {
    const gen = FORMAT_CASES.find(([ext]) => name.endsWith(ext))![1];
    cases.push(...gen(name, bytes));
  }
  cases.push(...finiteCases(), ...rawCases());
  const failures: string[] = [];
  for (const c of cases) {
    const f = runCase(c);
    if (f) failures.push(f);
  }
  console.log(`ran ${cases.length} mutation cases`);
  assert.ok(cases.length > 1000, `only ${cases.length} cases`);
  assert.deepEqual(failures.slice(0, 40), [], `${failures.length} of ${cases.length} cases failed`);
});
