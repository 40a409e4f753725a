// Shard statistics on disk: F.json (what the shard is, scalars, where each array lies) and the sidecar F.bin (every
// array as little-endian float64, so sums round-trip bit for bit). The sidecar is written first and the JSON, which
// records its size and sha256, last: both atomically, so a JSON on disk always describes a complete sidecar, and a
// truncated or altered sidecar is caught on read. Files are untrusted input: every field is checked, and every
// problem is an InputError naming the file.
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { InputError } from "../errors";
import { writeFileAtomic } from "../io/atomic";
import { NormalEquationsState } from "../linalg/least-squares";
import { BootstrapPlan, BootstrapShard, EvaluationFit, evaluationFitId } from "./bootstrap-shards";
import type { DecompositionShard, ShardRange, ShardSettings } from "./decomposition-shards";

export const SHARD_FORMAT = "darkmatter-fit-error-shard";
export const SHARD_VERSION = 1;

/**
 * A statistics file as read: its kind and the caller's JSON fields (identity, side sums); its float64 arrays are
 * read (and the sidecar checked) only when asked for, so a merge can check all headers first and then hold the
 * sums of one file at a time.
 */
export interface StatsFile {
  file: string;
  kind: string;
  meta: Record<string, unknown>;
  /** Reads the sidecar, checks its size and sha256, and returns every array (fresh on each call). */
  loadArrays(): Map<string, Float64Array>;
}

/** The sidecar next to `file`: F.json → F.bin, anything else → F.bin appended. */
export function sidecarPath(file: string): string {
  return file.endsWith(".json") ? `${file.slice(0, -5)}.bin` : `${file}.bin`;
}

const littleEndian = new Uint8Array(new Float64Array([1]).buffer)[7] === 0x3f;

/** Writes a statistics file and its sidecar (sidecar first; each atomically). */
export function writeStatsFile(file: string, kind: string, meta: Record<string, unknown>, arrays: Record<string, Float64Array>): void {
  if (!littleEndian) throw new Error("shard statistics are written little-endian; this machine is big-endian");
  const index: Record<string, [number, number]> = {};
  let offset = 0;
  for (const [name, a] of Object.entries(arrays)) { index[name] = [offset, a.length]; offset += a.length; }
  const bin = Buffer.alloc(offset * 8);
  for (const [name, a] of Object.entries(arrays)) Buffer.from(a.buffer, a.byteOffset, a.byteLength).copy(bin, index[name][0] * 8);
  const side = sidecarPath(file);
  try {
    writeFileAtomic(side, bin);
    const sidecar = { file: path.basename(side), bytes: bin.length, sha256: createHash("sha256").update(bin).digest("hex") };
    writeFileAtomic(file, JSON.stringify({ format: SHARD_FORMAT, version: SHARD_VERSION, kind, ...meta, arrays: index, sidecar }, null, 1) + "\n");
  } catch (err) {
    throw new Error(`cannot write the shard statistics ${file}: ${(err as Error).message}`);
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** Reads and checks a statistics file's JSON; the sidecar is read by `loadArrays`. */
export function readStatsFile(file: string): StatsFile {
  const fail = (problem: string): never => { throw new InputError(file, problem); };
  let text: string;
  try { text = fs.readFileSync(file, "utf8"); } catch (err) { return fail(`cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`); }
  let json: unknown;
  try { json = JSON.parse(text); } catch (err) { return fail(`is not valid JSON (truncated or corrupted?): ${(err as Error).message}`); }
  if (!isObject(json) || json.format !== SHARD_FORMAT) return fail(`is not a fit-error shard statistics file (format ${isObject(json) ? JSON.stringify(json.format) : "missing"})`);
  if (json.version !== SHARD_VERSION) return fail(`has format version ${JSON.stringify(json.version)}; this darkmatter reads version ${SHARD_VERSION}`);
  const { format: _f, version: _v, kind, arrays: index, sidecar, ...meta } = json;
  if (typeof kind !== "string") return fail("has no kind");
  if (!isObject(sidecar) || typeof sidecar.file !== "string" || typeof sidecar.sha256 !== "string" || !Number.isSafeInteger(sidecar.bytes)) return fail("has no valid sidecar record");
  if (path.basename(sidecar.file) !== sidecar.file) return fail(`names a sidecar outside its folder: ${JSON.stringify(sidecar.file)}`);
  if (!isObject(index)) return fail("has no array index");
  const entries = Object.entries(index);
  for (const [name, entry] of entries) {
    if (!Array.isArray(entry) || entry.length !== 2 || !entry.every((v) => Number.isSafeInteger(v) && v >= 0) || (entry[0] + entry[1]) * 8 > (sidecar.bytes as number)) {
      return fail(`array ${name} has an invalid place in the sidecar: ${JSON.stringify(entry)}`);
    }
  }
  const side = path.join(path.dirname(file), sidecar.file);
  const loadArrays = () => {
    let bin: Buffer;
    try { bin = fs.readFileSync(side); } catch (err) { return fail(`its sidecar ${side} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`); }
    if (bin.length !== sidecar.bytes) return fail(`its sidecar ${side} has ${bin.length} bytes, the file records ${sidecar.bytes} (truncated?)`);
    if (createHash("sha256").update(bin).digest("hex") !== sidecar.sha256) return fail(`its sidecar ${side} does not match the sha256 the file records (corrupted, or from another shard)`);
    const all = new Float64Array(bin.length / 8);
    new Uint8Array(all.buffer).set(bin); // a Buffer need not be 8-byte aligned
    return new Map(entries.map(([name, entry]) => { const [at, length] = entry as [number, number]; return [name, all.subarray(at, at + length)]; }));
  };
  return { file, kind, meta, loadArrays };
}

/** Typed access to a statistics file's fields, each failure an InputError naming the file and the field. */
export class StatsReader {
  private arrays: Map<string, Float64Array> | null = null;
  constructor(readonly f: StatsFile) {}
  fail(problem: string): never { throw new InputError(this.f.file, problem); }
  array(name: string, length: number, finite = true): Float64Array {
    this.arrays ??= this.f.loadArrays();
    const a = this.arrays.get(name);
    if (!a) return this.fail(`lacks array ${name}`);
    if (a.length !== length) return this.fail(`array ${name} holds ${a.length} values, expected ${length}`);
    if (finite) for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i])) return this.fail(`array ${name} holds a non-finite value at ${i}`);
    return a;
  }
  int(v: unknown, name: string, min = 0): number {
    if (!Number.isSafeInteger(v) || (v as number) < min) return this.fail(`${name} must be an integer ≥ ${min}, got ${JSON.stringify(v)}`);
    return v as number;
  }
  num(v: unknown, name: string): number {
    if (typeof v !== "number" || !Number.isFinite(v)) return this.fail(`${name} must be a finite number, got ${JSON.stringify(v)}`);
    return v;
  }
  object(v: unknown, name: string): Record<string, unknown> {
    if (!isObject(v)) return this.fail(`${name} must be an object`);
    return v;
  }
}

/** The upper triangle of a row-major [d, d] matrix, packed row by row (half the bytes of the Gram). */
function packUpper(a: Float64Array, d: number): Float64Array {
  const out = new Float64Array((d * (d + 1)) / 2);
  for (let i = 0, o = 0; i < d; i++) { out.set(a.subarray(i * d + i, i * d + d), o); o += d - i; }
  return out;
}

function unpackUpper(packed: Float64Array, d: number): Float64Array {
  const out = new Float64Array(d * d);
  for (let i = 0, o = 0; i < d; i++) { out.set(packed.subarray(o, o + d - i), i * d + i); o += d - i; }
  return out;
}

function stateArrays(prefix: string, s: NormalEquationsState, out: Record<string, Float64Array>): { rows: number } {
  if (s.rows > 0) {
    out[`${prefix}.shiftX`] = s.shiftX!; out[`${prefix}.shiftY`] = s.shiftY!;
    out[`${prefix}.sumX`] = s.sumX; out[`${prefix}.sumY`] = s.sumY; out[`${prefix}.sumSqY`] = s.sumSqY!;
    out[`${prefix}.gxx`] = packUpper(s.gxx, s.inputs); out[`${prefix}.gxy`] = s.gxy;
  }
  return { rows: s.rows };
}

function readState(r: StatsReader, prefix: string, v: unknown, d: number, p: number): NormalEquationsState {
  const rows = r.int(r.object(v, `states.${prefix}`).rows, `states.${prefix}.rows`);
  if (rows === 0) {
    return { inputs: d, outputs: p, rows, shiftX: null, shiftY: null, sumX: new Float64Array(d), sumY: new Float64Array(p),
      gxx: new Float64Array(d * d), gxy: new Float64Array(d * p), sumSqY: new Float64Array(p) };
  }
  return {
    inputs: d, outputs: p, rows,
    shiftX: r.array(`${prefix}.shiftX`, d).slice(), shiftY: r.array(`${prefix}.shiftY`, p).slice(),
    sumX: r.array(`${prefix}.sumX`, d).slice(), sumY: r.array(`${prefix}.sumY`, p).slice(), sumSqY: r.array(`${prefix}.sumSqY`, p).slice(),
    gxx: unpackUpper(r.array(`${prefix}.gxx`, (d * (d + 1)) / 2), d), gxy: r.array(`${prefix}.gxy`, d * p).slice(),
  };
}

/** Writes a decomposition shard with the caller's JSON fields (identity, side sums). */
export function writeDecompositionShard(file: string, shard: DecompositionShard, meta: Record<string, unknown>): void {
  const arrays: Record<string, Float64Array> = {};
  const states = { fit: stateArrays("fit", shard.fit, arrays), evaluated: shard.evaluated ? stateArrays("evaluated", shard.evaluated, arrays) : null };
  writeStatsFile(file, "stats", { ...meta, settings: shard.settings, range: [shard.range.start, shard.range.end], droppedNonFinite: shard.droppedNonFinite, states }, arrays);
}

/** ShardSettings from a file's JSON, checked field by field. */
function readSettings(r: StatsReader, v: unknown): ShardSettings {
  const s = r.object(v, "settings");
  const bool = (x: unknown, name: string) => (typeof x === "boolean" ? x : r.fail(`settings.${name} must be true or false`));
  const oneOf = <T extends string>(x: unknown, name: string, allowed: readonly T[]): T =>
    (allowed as readonly unknown[]).includes(x) ? (x as T) : r.fail(`settings.${name} must be one of ${allowed.join(", ")}, got ${JSON.stringify(x)}`);
  return {
    rows: r.int(s.rows, "settings.rows", 1), d: r.int(s.d, "settings.d", 1), intercept: bool(s.intercept, "intercept"),
    fitOn: oneOf(s.fitOn, "fitOn", ["train", "all"] as const), evaluatedOn: oneOf(s.evaluatedOn, "evaluatedOn", ["test", "all"] as const),
    seed: r.int(s.seed, "settings.seed", -1), trainRows: r.int(s.trainRows, "settings.trainRows"), testRows: r.int(s.testRows, "settings.testRows"),
    dropNonFinite: bool(s.dropNonFinite, "dropNonFinite"), rowsPerChunk: r.int(s.rowsPerChunk, "settings.rowsPerChunk", 1),
  };
}

function readRange(r: StatsReader, v: unknown, rows: number): ShardRange {
  if (!Array.isArray(v) || v.length !== 2) return r.fail("range must be [start, end]");
  const start = r.int(v[0], "range[0]"), end = r.int(v[1], "range[1]");
  if (!(start < end && end <= rows)) r.fail(`range [${start}, ${end}) is not a non-empty range of the ${rows} rows`);
  return { start, end };
}

function readPlan(r: StatsReader, v: unknown): BootstrapPlan {
  const b = r.object(v, "bootstrap");
  const level = r.num(b.level, "bootstrap.level");
  if (!(level > 0 && level < 1)) r.fail(`bootstrap.level must lie in (0, 1), got ${level}`);
  return { resamples: r.int(b.resamples, "bootstrap.resamples", 1), seed: r.int(b.seed, "bootstrap.seed", -2147483648), level };
}

/** The settings and row range of a shard file of either round, from its JSON alone. */
export function shardHeader(f: StatsFile): { settings: ShardSettings; range: ShardRange } {
  const r = new StatsReader(f);
  if (f.kind !== "stats" && f.kind !== "bootstrap") r.fail(`is a ${f.kind} file, not a shard's statistics`);
  const settings = readSettings(r, f.meta.settings);
  return { settings, range: readRange(r, f.meta.range, settings.rows) };
}

/** The decomposition shard in a statistics file of kind "stats", checked field by field. */
export function decodeDecompositionShard(f: StatsFile): DecompositionShard {
  const r = new StatsReader(f), m = f.meta;
  if (f.kind !== "stats") r.fail(`holds ${JSON.stringify(f.kind)} statistics, not a shard's sums`);
  const settings = readSettings(r, m.settings);
  const { start, end } = readRange(r, m.range, settings.rows);
  const d = settings.d, p = d + 1, states = r.object(m.states, "states");
  const fit = readState(r, "fit", states.fit, d, p);
  const evaluated = states.evaluated === null ? null : readState(r, "evaluated", states.evaluated, d, p);
  if ((evaluated === null) !== (settings.fitOn === "all")) r.fail("has evaluated-row sums exactly when it fits on the training rows; this one does not");
  const droppedNonFinite = r.int(m.droppedNonFinite, "droppedNonFinite");
  if (fit.rows + (evaluated?.rows ?? 0) + droppedNonFinite > end - start) r.fail(`counts more rows than its range [${start}, ${end}) holds`);
  return { settings, range: { start, end }, fit, evaluated, droppedNonFinite };
}

/** Writes the merged fit the bootstrap round scores with. */
export function writeEvaluationFit(file: string, fit: EvaluationFit, meta: Record<string, unknown>): void {
  const arrays: Record<string, Float64Array> = {
    coefficients: fit.joint.coefficients, "shift.error": fit.shifts.error, "shift.norm": fit.shifts.norm, "shift.x": fit.shifts.x,
  };
  if (fit.joint.intercept) arrays.intercept = fit.joint.intercept;
  writeStatsFile(file, "fit", {
    ...meta, settings: fit.settings, bootstrap: fit.bootstrap, evaluatedRows: fit.evaluatedRows, droppedNonFinite: fit.droppedNonFinite,
    starts: fit.starts, hasIntercept: fit.joint.intercept !== null, id: fit.id,
  }, arrays);
}

/** The evaluation fit in a file of kind "fit"; its id is recomputed from the numbers and must match. */
export function decodeEvaluationFit(f: StatsFile): EvaluationFit {
  const r = new StatsReader(f), m = f.meta;
  if (f.kind !== "fit") r.fail(`holds ${JSON.stringify(f.kind)} statistics, not a merged fit (write one with fit-error --merge … --fit-out)`);
  const settings = readSettings(r, m.settings), d = settings.d;
  const starts = m.starts;
  if (!Array.isArray(starts) || !starts.every((s) => Array.isArray(s) && s.length === 2)) r.fail("starts must be a list of [row, evaluated rows before it]");
  const fit: Omit<EvaluationFit, "id"> = {
    settings, bootstrap: readPlan(r, m.bootstrap),
    joint: { inputs: d, outputs: d + 1, coefficients: r.array("coefficients", d * (d + 1)).slice(), intercept: m.hasIntercept === true ? r.array("intercept", d + 1).slice() : null },
    shifts: { error: r.array("shift.error", d).slice(), norm: r.array("shift.norm", 1).slice(), x: r.array("shift.x", d).slice() },
    evaluatedRows: r.int(m.evaluatedRows, "evaluatedRows", 1), droppedNonFinite: r.int(m.droppedNonFinite, "droppedNonFinite"),
    starts: (starts as unknown[][]).map((s, i) => [r.int(s[0], `starts[${i}][0]`), r.int(s[1], `starts[${i}][1]`)] as [number, number]),
  };
  const id = evaluationFitId(fit);
  if (id !== m.id) r.fail(`its numbers do not give the id it records (${String(m.id).slice(0, 12)}…): the file was altered`);
  return { ...fit, id };
}

/** Writes a bootstrap shard with the caller's JSON fields. */
export function writeBootstrapShard(file: string, shard: BootstrapShard, meta: Record<string, unknown>): void {
  writeStatsFile(file, "bootstrap", {
    ...meta, settings: shard.settings, bootstrap: shard.bootstrap, range: [shard.range.start, shard.range.end], fitId: shard.fitId, rows: shard.rows,
  }, { "sums.error": shard.sums.error, "sums.norm": shard.sums.norm, "sums.sae": shard.sums.sae, "sums.nonlinear": shard.sums.nonlinear });
}

/** The bootstrap shard in a file of kind "bootstrap", checked field by field. */
export function decodeBootstrapShard(f: StatsFile): BootstrapShard {
  const r = new StatsReader(f), m = f.meta;
  if (f.kind !== "bootstrap") r.fail(`holds ${JSON.stringify(f.kind)} statistics, not a bootstrap shard's sums`);
  const settings = readSettings(r, m.settings), d = settings.d, bootstrap = readPlan(r, m.bootstrap), B = bootstrap.resamples;
  const range = readRange(r, m.range, settings.rows);
  if (typeof m.fitId !== "string") r.fail("has no fitId");
  const rows = r.int(m.rows, "rows");
  if (rows > range.end - range.start) r.fail(`counts ${rows} evaluated rows in its range [${range.start}, ${range.end})`);
  return {
    settings, bootstrap, range, fitId: m.fitId as string, rows,
    sums: {
      error: r.array("sums.error", B * 3 * d).slice(), norm: r.array("sums.norm", B * 3).slice(),
      sae: r.array("sums.sae", B * (d + 2)).slice(), nonlinear: r.array("sums.nonlinear", B * (d + 2)).slice(),
    },
  };
}
