// Shared pieces of the benchmarks: timing, running the numpy reference side in the same run, and one table format.
import { execFileSync } from "child_process";
import * as path from "path";

/** Median wall time in seconds of `reps` calls after `warmup` untimed calls. */
export function timeIt(fn: () => void, reps = 3, warmup = 1): number {
  for (let i = 0; i < warmup; i++) fn();
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = process.hrtime.bigint();
    fn();
    times.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

let numpyChecked: boolean | undefined;
/** Whether `python3 -c 'import numpy'` works (numpy is a benchmark reference only, never a runtime dependency). */
export function hasNumpy(): boolean {
  if (numpyChecked === undefined) {
    try {
      execFileSync("python3", ["-c", "import numpy"], { stdio: "ignore" });
      numpyChecked = true;
    } catch {
      numpyChecked = false;
    }
  }
  return numpyChecked;
}

/**
 * Runs bench/<script>.py with `input` as JSON on stdin and returns its JSON stdout, or null without numpy.
 * The caller's environment is passed on, so OPENBLAS_* unset by bench/run.sh stays unset for both sides.
 */
export function runPython<T>(script: string, input: unknown): T | null {
  if (!hasNumpy()) return null;
  const out = execFileSync("python3", [path.join(__dirname, script)], {
    input: JSON.stringify(input), encoding: "utf8", maxBuffer: 1 << 26, stdio: ["pipe", "pipe", "inherit"],
  });
  return JSON.parse(out) as T;
}

/** Prints a plain-text table: a title line, a header row, aligned columns. */
export function printTable(title: string, header: string[], rows: (string | number)[][]): void {
  const cells = [header, ...rows.map((r) => r.map((c) => (typeof c === "number" ? formatNumber(c) : c)))];
  const widths = header.map((_, j) => Math.max(...cells.map((r) => String(r[j] ?? "").length)));
  const line = (r: string[]) => r.map((c, j) => String(c ?? "").padStart(widths[j])).join("  ");
  console.log(`\n${title}`);
  console.log(line(cells[0]));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const r of cells.slice(1)) console.log(line(r as string[]));
}

function formatNumber(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  if (Number.isInteger(x) && Math.abs(x) < 1e9) return String(x);
  const a = Math.abs(x);
  return a >= 100 ? x.toFixed(1) : a >= 1 ? x.toFixed(2) : x.toPrecision(3);
}
