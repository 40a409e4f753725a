// Atomic writes: a reader never sees a half-written artifact, because data goes to a temp file in the same
// folder that is renamed over the target only once complete.
import * as fs from "fs";
import * as path from "path";

function tempName(target: string): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.${Date.now()}.tmp`);
}

/** Writes `data` to `target` atomically, creating parent folders. */
export function writeFileAtomic(target: string, data: string | Uint8Array): void {
  withAtomicFile(target, (tmp) => fs.writeFileSync(tmp, data));
}

/** Calls `write(tmpPath)` and renames the temp file onto `target` only if `write` succeeds. */
export function withAtomicFile<T>(target: string, write: (tmpPath: string) => T): T {
  fs.mkdirSync(path.dirname(target), { recursive: true });
  const tmp = tempName(target);
  try {
    const result = write(tmp);
    fs.renameSync(tmp, target);
    return result;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}
