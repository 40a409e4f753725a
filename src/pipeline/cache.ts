// Cached analysis results, so notebooks that share an analysis (and a second run of the main job) do not recompute
// it. Each result is keyed by a hash of everything that determines it (the analysis, its options, the SAE files'
// contents, the activations) and by the code that computes it; JSON goes in <hash>/result.json, typed arrays in a
// binary sidecar result.bin so large linear maps stay compact and exact, and entry.json records both files' checksums.
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { projectRoot } from "../backend/native";
import { codeFingerprint } from "../code-version";
import { discardEntry, lockOrDoneAsync, publishEntry, readEntry, removeLeftovers, writeError } from "../io/entry";
import { hashOf } from "../io/hash";
import { warn } from "../warnings";

const RESULT_JSON = "result.json", RESULT_BIN = "result.bin";

/** Where analysis results are cached (ignored by git). DARKMATTER_ANALYSIS_CACHE overrides it; "off" disables caching. */
export function analysisCacheRoot(): string | null {
  const env = process.env.DARKMATTER_ANALYSIS_CACHE;
  if (env === "off") return null;
  return env ? path.resolve(env) : path.join(projectRoot, ".cache", "analyses");
}

type Typed = Float64Array | Float32Array | Int32Array | Uint32Array | Uint8Array | Int8Array | Uint16Array | Int16Array;
const TYPED: Record<string, { new (b: ArrayBuffer, o: number, n: number): Typed; BYTES_PER_ELEMENT: number }> = {
  Float64Array, Float32Array, Int32Array, Uint32Array, Uint8Array, Int8Array, Uint16Array, Int16Array,
};
const MARK = "$typedArray";

/** Serialises `value`: typed arrays become {$typedArray: type, offset, length} references into one binary blob. */
export function encodeResult(value: unknown): { json: string; blob: Buffer } {
  const parts: Buffer[] = [];
  let offset = 0;
  const json = JSON.stringify(value, (_k, v: unknown) => {
    if (ArrayBuffer.isView(v) && !(v instanceof DataView)) {
      const type = v.constructor.name;
      if (!(type in TYPED)) throw new Error(`cannot cache a ${type}`);
      const t = v as Typed;
      const pad = (8 - (offset % 8)) % 8; // keep every array aligned to its element size
      if (pad) { parts.push(Buffer.alloc(pad)); offset += pad; }
      parts.push(Buffer.from(t.buffer, t.byteOffset, t.byteLength));
      const ref = { [MARK]: type, offset, length: t.length };
      offset += t.byteLength;
      return ref;
    }
    if (typeof v === "number" && !Number.isFinite(v)) return { $number: String(v) }; // NaN and ±Infinity survive
    return v;
  });
  return { json, blob: Buffer.concat(parts) };
}

/** The inverse of encodeResult. */
export function decodeResult<T>(json: string, blob: Buffer): T {
  const buffer = blob.buffer.slice(blob.byteOffset, blob.byteOffset + blob.byteLength) as ArrayBuffer;
  return JSON.parse(json, (_k, v: unknown) => {
    if (v && typeof v === "object" && MARK in v) {
      const r = v as { [MARK]: string; offset: number; length: number };
      const Ctor = TYPED[r[MARK]];
      if (!Ctor || r.offset + r.length * Ctor.BYTES_PER_ELEMENT > buffer.byteLength) throw new Error("corrupt cache entry");
      return new Ctor(buffer, r.offset, r.length);
    }
    if (v && typeof v === "object" && "$number" in v && Object.keys(v).length === 1) return Number((v as { $number: string }).$number);
    return v;
  }) as T;
}

/** The fingerprint used for callers that do not name their module: the whole pipeline's code (safe, coarse). */
function pipelineFingerprint(): string {
  return codeFingerprint(path.join(__dirname, `index${path.extname(__filename)}`));
}

/**
 * Returns the cached result of `kind` for `key`, or computes, caches and returns it. `key` must hold everything the
 * result depends on but the code: `producer` (the calling module's `__filename`) adds the fingerprint of that module
 * and everything it imports, so editing them recomputes the entry and editing anything else does not.
 * Each entry is a folder <kind>/<hash>/ published atomically with checksums of its files: a corrupt or truncated
 * entry is reported as a warning and recomputed (a cache must never turn into an error or a wrong number), and two
 * processes asking for the same entry at once compute it once (a lock; the second waits and reads it).
 */
export async function cached<T>(kind: string, key: unknown, compute: () => T | Promise<T>, producer?: string): Promise<T> {
  const root = analysisCacheRoot();
  if (!root) return compute();
  const code = producer ? codeFingerprint(producer) : pipelineFingerprint();
  const dir = path.join(root, kind, hashOf({ kind, key, code }));
  const read = (): { result: T } | null => {
    const entry = readEntry<{ kind: string; code: string }>(dir);
    let problem: string;
    if ("manifest" in entry) {
      try {
        const json = fs.readFileSync(path.join(dir, RESULT_JSON), "utf8");
        return { result: decodeResult<{ result: T }>(json, fs.readFileSync(path.join(dir, RESULT_BIN))).result };
      } catch (err) {
        problem = `its result cannot be decoded (${(err as Error).message})`;
      }
    } else if (entry.missing) {
      return null;
    } else {
      problem = entry.problem;
    }
    warn({ code: "cache-corrupt", subject: `cache entry ${dir}`, problem, hint: `recomputing ${kind}; the damaged entry was removed` });
    discardEntry(dir);
    return null;
  };
  const got = await lockOrDoneAsync(`${dir}.lock`, read);
  if ("value" in got) return got.value.result;
  try {
    removeLeftovers(dir);
    const result = await compute();
    const { json, blob } = encodeResult({ key, result });
    try {
      publishEntry(dir, { kind, code }, (tmp) => {
        fs.writeFileSync(path.join(tmp, RESULT_BIN), blob);
        fs.writeFileSync(path.join(tmp, RESULT_JSON), json);
      });
    } catch (err) {
      throw writeError(`the ${kind} cache entry ${dir}`, err);
    }
    return result;
  } finally {
    got.lock.release();
  }
}

const fingerprints = new Map<string, string>();

/** A content hash of a file or of every file under a folder (memoised by path, size and modification time). */
export function contentFingerprint(p: string): string {
  const files: string[] = [];
  const walk = (q: string) => {
    const st = fs.statSync(q);
    if (st.isDirectory()) for (const f of fs.readdirSync(q).sort()) walk(path.join(q, f));
    else if (st.isFile()) files.push(q);
  };
  walk(p);
  const stamp = files.map((f) => { const st = fs.statSync(f); return `${f}:${st.size}:${st.mtimeMs}`; }).join("|");
  const memo = fingerprints.get(stamp);
  if (memo) return memo;
  const h = createHash("sha256");
  for (const f of files) {
    h.update(path.relative(p, f));
    const fd = fs.openSync(f, "r");
    try {
      const buf = Buffer.allocUnsafe(1 << 20);
      for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0;) h.update(buf.subarray(0, n));
    } finally {
      fs.closeSync(fd);
    }
  }
  const digest = h.digest("hex").slice(0, 24);
  fingerprints.set(stamp, digest);
  return digest;
}
