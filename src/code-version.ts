// Fingerprints of the code behind a cached artifact, so that an edit to src/ recomputes exactly the caches it affects.
// A module's fingerprint hashes the source of that module and of every library module it imports, directly or not,
// as Node actually loaded them (module.children: imports used only as types are not loaded, so they do not count).
// The same fingerprint comes out under tsx (src/*.ts) and from the compiled build/ the notebooks import: both hash
// the TypeScript sources, build/ through the snapshot kernel/build-lib.js records when it compiles them (the sources
// as compiled, not as edited since), so a cache the CLI built is reused by a notebook and vice versa.
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";

/** The folder the library runs from: src/ under tsx, build/ when compiled. */
const libRoot = __dirname;
const srcRoot = path.join(path.resolve(__dirname, ".."), "src");
const compiled = path.extname(__filename) === ".js";
/** Written into build/ by kernel/build-lib.js: module id → sha256 of its .ts source as compiled. */
export const SOURCE_HASHES_FILE = ".source-hashes.json";

/** Read when the library loads, so it describes the code this process runs even if build/ is rebuilt later. */
const snapshot: Record<string, string> | null = compiled ? readSnapshot() : null;

function readSnapshot(): Record<string, string> | null {
  try {
    return JSON.parse(fs.readFileSync(path.join(libRoot, SOURCE_HASHES_FILE), "utf8")) as Record<string, string>;
  } catch {
    return null;
  }
}

/** "pipeline/cache" for src/pipeline/cache.ts and build/pipeline/cache.js alike. */
function moduleId(file: string): string {
  return path.relative(libRoot, file).replace(/\.(ts|js)$/, "").split(path.sep).join("/");
}

const sha256 = (data: string | Buffer) => createHash("sha256").update(data).digest("hex");
const sourceHashes = new Map<string, string>();

/** sha256 of a module's TypeScript source (from the build snapshot when compiled), read once per process. */
function sourceHash(id: string, loadedFile: string): string {
  let h = sourceHashes.get(id);
  if (h === undefined) {
    h = snapshot?.[id] ?? (() => {
      const ts = path.join(srcRoot, `${id}.ts`);
      // Compiled without a snapshot (tsc run by hand): the source if it is there, else the compiled file itself.
      return sha256(fs.readFileSync(compiled && !fs.existsSync(ts) ? loadedFile : compiled ? ts : loadedFile));
    })();
    sourceHashes.set(id, h);
  }
  return h;
}

const inLibrary = (file: string) => file.startsWith(libRoot + path.sep) && /\.(ts|js)$/.test(file);

/** The library modules `file` imports at run time, itself included, as sorted module ids with their loaded files. */
export function codeClosure(file: string): { id: string; file: string }[] {
  if (!require.cache[file] && inLibrary(file) && fs.existsSync(file)) require(file); // loads what it imports too
  const start = require.cache[file];
  // A module not loaded through require (should not happen): every loaded library module, which over-covers safely.
  const roots = start ? [start] : Object.values(require.cache).filter((m): m is NodeModule => !!m && inLibrary(m.filename));
  const seen = new Map<string, string>();
  const stack = [...roots];
  while (stack.length) {
    const m = stack.pop()!;
    if (!inLibrary(m.filename) || seen.has(moduleId(m.filename))) continue;
    seen.set(moduleId(m.filename), m.filename);
    // This module's own children are the modules it loaded to fingerprint them, not code it runs.
    if (m.filename !== __filename) stack.push(...m.children);
  }
  return [...seen].sort(([a], [b]) => (a < b ? -1 : 1)).map(([id, f]) => ({ id, file: f }));
}

const fingerprints = new Map<string, string>();

/**
 * The fingerprint of the code of module `file` (pass `__filename`): a hash over its import closure's sources.
 * Part of the key of every artifact that module produces.
 */
export function codeFingerprint(file: string): string {
  let fp = fingerprints.get(file);
  if (fp === undefined) {
    fp = sha256(codeClosure(file).map(({ id, file: f }) => `${id} ${sourceHash(id, f)}\n`).join("")).slice(0, 20);
    fingerprints.set(file, fp);
  }
  return fp;
}
