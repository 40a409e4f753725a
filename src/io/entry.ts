// Cache entries that stay trustworthy through crashes, full disks, bit rot and concurrent writers.
// - Every file of an entry has its size and sha256 recorded in the entry's manifest, so a truncated or corrupted
//   file (any of them) is detected on read.
// - A whole-folder entry is written into a temp folder and renamed into place once complete (one atomic step; a
//   second writer that finds the place taken drops its copy), so a reader never sees half an entry.
// - A lock file (pid, host, time) keeps two processes from computing the same entry at once. It only saves work:
//   correctness comes from the atomic publish and the checksums. A lock whose process died (same host) or that was
//   not refreshed for `staleMs` is taken over.
import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

export interface FileSum { bytes: number; sha256: string }

/** Size and sha256 of a file. */
export function fileSum(file: string): FileSum {
  const h = createHash("sha256");
  const fd = fs.openSync(file, "r");
  let bytes = 0;
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0; bytes += n) h.update(buf.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
  return { bytes, sha256: h.digest("hex") };
}

/** Checksums of `files` (relative to `dir`). */
export function fileSums(dir: string, files: string[]): Record<string, FileSum> {
  return Object.fromEntries(files.map((f) => [f, fileSum(path.join(dir, f))]));
}

/** Verified files by path, size and modification time, so a process checks an unchanged file once. */
const verified = new Map<string, string>();

/** The first problem with the files of `dir` against their recorded checksums ("x.bin is truncated …"), or null. */
export function checksumProblem(dir: string, sums: Record<string, FileSum>): string | null {
  if (!sums || typeof sums !== "object") return "records no checksums";
  for (const [f, want] of Object.entries(sums)) {
    let st: fs.Stats;
    try {
      st = fs.statSync(path.join(dir, f));
    } catch {
      return `${f} is missing`;
    }
    if (st.size !== want.bytes) return `${f} has ${st.size} bytes, ${want.bytes} were written (truncated or overwritten)`;
    const p = path.join(dir, f), stamp = `${st.size}:${st.mtimeMs}:${st.ino}`;
    if (verified.get(p) === `${stamp}:${want.sha256}`) continue;
    if (fileSum(p).sha256 !== want.sha256) return `${f} does not match its recorded sha256 (corrupted)`;
    verified.set(p, `${stamp}:${want.sha256}`);
  }
  return null;
}

export const ENTRY_MANIFEST = "entry.json";

export interface EntryManifest<M = unknown> {
  format: "darkmatter-cache-entry";
  version: 1;
  files: Record<string, FileSum>;
  /** What the writer recorded about the entry (its key, the code fingerprint …). */
  meta: M;
}

/** The manifest of an intact entry folder, or the problem that makes it untrustworthy ("missing" when absent). */
export function readEntry<M>(dir: string): { manifest: EntryManifest<M> } | { problem: string; missing: boolean } {
  let m: EntryManifest<M>;
  try {
    m = JSON.parse(fs.readFileSync(path.join(dir, ENTRY_MANIFEST), "utf8")) as EntryManifest<M>;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" && !fs.existsSync(dir)) return { problem: "missing", missing: true };
    return { problem: `${ENTRY_MANIFEST} is ${code === "ENOENT" ? "missing" : "unreadable or corrupted"}`, missing: false };
  }
  if (!m || m.format !== "darkmatter-cache-entry" || !m.files) return { problem: `${ENTRY_MANIFEST} is not an entry manifest`, missing: false };
  const problem = checksumProblem(dir, m.files);
  return problem ? { problem, missing: false } : { manifest: m };
}

/** Removes an entry folder (renamed aside first, so no reader sees it half-deleted). */
export function discardEntry(dir: string): void {
  const aside = `${dir}.discard-${process.pid}-${Date.now()}`;
  try {
    fs.renameSync(dir, aside);
  } catch {
    return;
  }
  fs.rmSync(aside, { recursive: true, force: true });
}

/**
 * Publishes an entry folder at `dir`: `fill(tmp)` writes its files into a temp folder, a manifest with their
 * checksums and `meta` is added, and the folder is renamed into place. Returns false when another writer
 * published `dir` first (its entry is kept, ours dropped). Any failure (a full disk) leaves no entry behind.
 */
export function publishEntry<M>(dir: string, meta: M, fill: (tmp: string) => void): boolean {
  const parent = path.dirname(dir);
  fs.mkdirSync(parent, { recursive: true });
  const tmp = path.join(parent, `.${path.basename(dir)}.${process.pid}.${Date.now()}.tmp`);
  fs.mkdirSync(tmp);
  try {
    fill(tmp);
    const files = fs.readdirSync(tmp).sort();
    const manifest: EntryManifest<M> = { format: "darkmatter-cache-entry", version: 1, files: fileSums(tmp, files), meta };
    fs.writeFileSync(path.join(tmp, ENTRY_MANIFEST), JSON.stringify(manifest, null, 1) + "\n");
    try {
      fs.renameSync(tmp, dir);
      return true;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOTEMPTY" || code === "EEXIST") return false;
      throw err;
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/** Removes temp folders and files that writers killed part-way left next to `target` (call while holding its lock). */
export function removeLeftovers(target: string): void {
  const parent = path.dirname(target), base = path.basename(target);
  let names: string[];
  try {
    names = fs.readdirSync(parent);
  } catch {
    return;
  }
  for (const n of names) {
    if (n.startsWith(`.${base}.`) && n.endsWith(".tmp")) fs.rmSync(path.join(parent, n), { recursive: true, force: true });
  }
}

/** Removes the temp files of atomic writes (".name.<pid>.<time>.tmp") anywhere under `dir`, left by killed writers. */
export function removeTempFiles(dir: string): void {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.name.startsWith(".") && e.name.endsWith(".tmp")) fs.rmSync(p, { recursive: true, force: true });
    else if (e.isDirectory()) removeTempFiles(p);
  }
}

/** A clear error for a failed cache write (a full disk above all), naming the entry. */
export function writeError(what: string, err: unknown): Error {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === "ENOSPC" || code === "EDQUOT") {
    return new Error(`cannot write ${what}: the disk is full (${code}); nothing was cached. Free some space and run again`);
  }
  return new Error(`cannot write ${what}: ${(err as Error).message}`);
}

// ---- locks ----

interface LockOwner { pid: number; host: string; at: string }

export interface LockOptions {
  /** A lock not refreshed for this long is taken over even when its owner cannot be checked (another host). */
  staleMs?: number;
}

export interface Lock {
  /** Marks the lock as still in use (long jobs call it as they progress). */
  refresh(): void;
  release(): void;
}

const DEFAULT_STALE_MS = 30 * 60_000;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Takes the lock at `file` if it is free or stale; null when a live process holds it. */
export function tryLock(file: string, options: LockOptions = {}): Lock | null {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const owner: LockOwner = { pid: process.pid, host: os.hostname(), at: new Date().toISOString() };
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(file, JSON.stringify(owner), { flag: "wx" });
      let released = false;
      return {
        refresh: () => { if (!released) { try { const now = new Date(); fs.utimesSync(file, now, now); } catch { /* taken over */ } } },
        release: () => {
          if (released) return;
          released = true;
          try {
            // Only our own lock: a stale-lock takeover may have replaced it.
            if ((JSON.parse(fs.readFileSync(file, "utf8")) as LockOwner).pid === process.pid) fs.rmSync(file, { force: true });
          } catch { /* already gone */ }
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    if (!isStale(file, options.staleMs ?? DEFAULT_STALE_MS)) return null;
    // Take over: move the stale lock aside (only one taker's rename succeeds), then try again.
    try { fs.renameSync(file, `${file}.stale-${process.pid}`); fs.rmSync(`${file}.stale-${process.pid}`, { force: true }); } catch { /* someone else did */ }
  }
  return null;
}

function isStale(file: string, staleMs: number): boolean {
  let owner: LockOwner, mtime: number;
  try {
    mtime = fs.statSync(file).mtimeMs;
    owner = JSON.parse(fs.readFileSync(file, "utf8")) as LockOwner;
  } catch {
    // Unreadable: a writer died between creating and filling it, or it is being released. Stale once old.
    try { return Date.now() - fs.statSync(file).mtimeMs > 5_000; } catch { return false; }
  }
  if (owner.host === os.hostname() && Number.isSafeInteger(owner.pid) && !alive(owner.pid)) return true;
  return Date.now() - mtime > staleMs;
}

const sleepSync = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/**
 * Waits for the lock at `file` (sync), calling `done()` between tries: when it returns a value (another process
 * finished the work), that value is returned without holding the lock; otherwise the caller holds the lock and does
 * the work.
 */
export function lockOrDone<T>(file: string, done: () => T | null, options: LockOptions & { pollMs?: number } = {}): { lock: Lock } | { value: T } {
  for (;;) {
    const value = done();
    if (value !== null) return { value };
    const lock = tryLock(file, options);
    if (lock) {
      // Another process may have finished between the check and the lock.
      const late = done();
      if (late === null) return { lock };
      lock.release();
      return { value: late };
    }
    sleepSync(options.pollMs ?? 200);
  }
}

/** The async form of lockOrDone (does not block the event loop while waiting). */
export async function lockOrDoneAsync<T>(file: string, done: () => T | null, options: LockOptions & { pollMs?: number } = {}): Promise<{ lock: Lock } | { value: T }> {
  for (;;) {
    const value = done();
    if (value !== null) return { value };
    const lock = tryLock(file, options);
    if (lock) {
      // Another process may have finished between the check and the lock.
      const late = done();
      if (late === null) return { lock };
      lock.release();
      return { value: late };
    }
    await new Promise((r) => setTimeout(r, options.pollMs ?? 200));
  }
}
