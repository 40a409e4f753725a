// Short printed forms. A notebook cell's last value is printed with util.inspect (tslab calls console.log), so every
// public object gets a summary of at most a few lines through `[util.inspect.custom]` instead of Node's raw dump of
// tensors and typed arrays. Plain result records get it as a non-enumerable property (JSON and deepEqual ignore it).
import * as util from "util";

/** The symbol util.inspect (and so console.log and a tslab cell's last value) looks for. */
export const inspectSymbol: unique symbol = util.inspect.custom as never;

/** A number with `digits` significant digits, plain or exponential, as a reader expects it. */
export function formatNumber(v: number, digits = 4): string {
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v) && Math.abs(v) < 1e9) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e6)) return v.toExponential(digits - 1);
  return v.toPrecision(digits).replace(/(\.\d*?)0+$/, "$1").replace(/\.$/, "");
}

/** An estimate { value, interval } as "0.512 [0.498, 0.527]" (95 % bootstrap interval when present). */
export function formatEstimate(e: { value: number; interval: { lo: number; hi: number } | null }, digits = 3): string {
  const v = formatNumber(e.value, digits);
  return e.interval ? `${v} [${formatNumber(e.interval.lo, digits)}, ${formatNumber(e.interval.hi, digits)}]` : v;
}

/** Gives `target` a printed form of the lines `summary` returns (non-enumerable; returns target for chaining). */
export function withSummary<T extends object>(target: T, summary: (t: T) => string[]): T {
  Object.defineProperty(target, inspectSymbol, {
    value: function (this: T) { return summary(this).join("\n"); },
    enumerable: false, configurable: true, writable: true,
  });
  return target;
}

/** "min … max, mean …" of a numeric array (NaN skipped). */
export function rangeText(a: ArrayLike<number>, digits = 3): string {
  let lo = Infinity, hi = -Infinity, s = 0, n = 0;
  for (let i = 0; i < a.length; i++) {
    const v = a[i];
    if (Number.isNaN(v)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
    s += v;
    n++;
  }
  if (n === 0) return "no values";
  return `min ${formatNumber(lo, digits)}, max ${formatNumber(hi, digits)}, mean ${formatNumber(s / n, digits)}`;
}

/** The first values of an array, "[0.1, -0.3, … ]" style. */
export function headText(a: ArrayLike<number>, count = 6, digits = 3): string {
  const parts: string[] = [];
  for (let i = 0; i < Math.min(count, a.length); i++) parts.push(formatNumber(a[i], digits));
  return `[${parts.join(", ")}${a.length > count ? ", …" : ""}]`;
}
