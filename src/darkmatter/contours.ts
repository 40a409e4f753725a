// Contour grids over an SAE family (paper §3.1's FVU_nonlinear contour and §3.2's Figure 2 / TMLR three-panel plots:
// norm R², vector R² and FVU_nonlinear over (width, L0) on log axes), and "matched L0" selection of one SAE per width.
//
// Interpolation: the paper uses scipy `griddata(method="linear")`, i.e. barycentric interpolation on the Delaunay
// triangulation of the scattered points, NaN outside their convex hull. We do the same in (log10 width, log10 L0):
// a Bowyer–Watson triangulation (incremental, cavity grown by adjacency from the triangle holding each new point,
// inside a large super-triangle), then barycentric weights at each node of a regular grid in log space; nodes
// outside the hull are null (Plotly leaves them blank). Delaunay is invariant under uniform scaling, so the log base
// does not matter. Where four or more points are cocircular (a full width × L0 lattice) any of the equally valid
// triangulations may be chosen, as in scipy; the interpolant differs only inside those cells. Families are small
// (tens to hundreds of SAEs), so the O(n²) construction is instant.
import { InputError } from "../errors";
import { DecompositionResult } from "./decomposition";

/** One SAE of a family with its analysis results (absent metrics are skipped for that metric's grid). */
export interface FamilyPoint {
  id?: string;
  /** Latents. */
  width: number;
  /** The L0 in the SAE's name (Gemma Scope `average_l0_K`). */
  l0Nominal: number;
  /** Mean active latents per token, measured. */
  l0Empirical?: number;
  /** `r2_mean_over_dims` of x → SaeError (§3.2a). */
  vectorR2?: number;
  /** `r2` of x → ‖SaeError‖² (§3.2b). */
  normR2?: number;
  fvu?: number;
  fvuNonlinear?: number;
}

export type ContourMetric = "vectorR2" | "normR2" | "fvu" | "fvuNonlinear";

/** A family point from a `decomposeSaeError` result. */
export function familyPoint(width: number, l0Nominal: number, result: DecompositionResult,
  extra: { id?: string; l0Empirical?: number } = {}): FamilyPoint {
  return {
    ...extra, width, l0Nominal,
    vectorR2: result.vectorR2.value, normR2: result.normR2.value, fvu: result.fvu.value, fvuNonlinear: result.fvuNonlinear.value,
  };
}

export interface ContourOptions {
  /** Which L0 is the y-axis (default "nominal", as the paper's contours). */
  l0?: "nominal" | "empirical";
  /** Grid nodes per axis, or [nx, ny] (default 100). */
  resolution?: number | [number, number];
  /** Axis padding factor on log axes (default 1.15: the paper's ×/÷1.15). */
  pad?: number;
}

export interface ContourGrid {
  metric: string;
  l0: "nominal" | "empirical";
  /** Widths at the grid's columns (geometric spacing from the smallest to the largest width). */
  x: number[];
  /** L0s at the grid's rows (geometric spacing). */
  y: number[];
  /** z[row][column] at (x[column], y[row]); null outside the convex hull of the points. */
  z: (number | null)[][];
  /** The points interpolated (duplicates merged), for a scatter overlay. */
  points: { width: number; l0: number; value: number; id?: string }[];
  /** Triangles of the Delaunay triangulation, as indices into `points`. */
  triangles: [number, number, number][];
  /** Log-axis ranges: the data range padded by ×/÷ pad. */
  axisRange: { x: [number, number]; y: [number, number] };
  warnings: string[];
}

// ---------------------------------------------------------------------------------------------------------------
// Delaunay triangulation (Bowyer–Watson)

function orient(ax: number, ay: number, bx: number, by: number, cx: number, cy: number): number {
  return (bx - ax) * (cy - ay) - (by - ay) * (cx - ax);
}

/** > 0 when p lies inside the circumcircle of the counter-clockwise triangle (a, b, c). */
function inCircle(ax: number, ay: number, bx: number, by: number, cx: number, cy: number, px: number, py: number): number {
  const adx = ax - px, ady = ay - py, bdx = bx - px, bdy = by - py, cdx = cx - px, cdy = cy - py;
  const ad = adx * adx + ady * ady, bd = bdx * bdx + bdy * bdy, cd = cdx * cdx + cdy * cdy;
  return adx * (bdy * cd - bd * cdy) - ady * (bdx * cd - bd * cdx) + ad * (bdx * cdy - bdy * cdx);
}

/**
 * Delaunay triangles of distinct 2-D points, counter-clockwise, as index triples. Empty when the points are all
 * collinear (or fewer than 3). Coordinates are normalised to the unit box (uniform scale) before construction.
 */
export function delaunay(xs: ArrayLike<number>, ys: ArrayLike<number>): [number, number, number][] {
  const n = xs.length;
  if (ys.length !== n) throw new InputError("delaunay", `${n} x values but ${ys.length} y values`);
  if (n < 3) return [];
  let minX = Infinity, maxX = -Infinity, minY = Infinity, maxY = -Infinity;
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(xs[i]) || !Number.isFinite(ys[i])) throw new InputError("delaunay", `point ${i} is not finite`);
    minX = Math.min(minX, xs[i]); maxX = Math.max(maxX, xs[i]); minY = Math.min(minY, ys[i]); maxY = Math.max(maxY, ys[i]);
  }
  const scale = Math.max(maxX - minX, maxY - minY) || 1;
  // Super-triangle size in unit-box units: far enough that its circumcircles cut at most a ~1e-7 sliver off the hull.
  const M = 1e6;
  const px = new Float64Array(n + 3), py = new Float64Array(n + 3);
  for (let i = 0; i < n; i++) { px[i] = (xs[i] - minX) / scale; py[i] = (ys[i] - minY) / scale; }
  px[n] = 0.5 - 2 * M; py[n] = 0.5 - M;
  px[n + 1] = 0.5 + 2 * M; py[n + 1] = 0.5 - M;
  px[n + 2] = 0.5; py[n + 2] = 0.5 + 2 * M;

  const tris: ([number, number, number] | null)[] = [];
  const edges = new Map<string, number>(); // directed edge "u,v" → triangle holding it (counter-clockwise)
  const key = (u: number, v: number) => `${u},${v}`;
  const add = (a: number, b: number, c: number) => {
    const t = tris.length;
    tris.push([a, b, c]);
    edges.set(key(a, b), t); edges.set(key(b, c), t); edges.set(key(c, a), t);
  };
  const remove = (t: number) => {
    const [a, b, c] = tris[t]!;
    for (const [u, v] of [[a, b], [b, c], [c, a]]) if (edges.get(key(u, v)) === t) edges.delete(key(u, v));
    tris[t] = null;
  };
  add(n, n + 1, n + 2);
  const EPS = 1e-12;

  for (let p = 0; p < n; p++) {
    const x = px[p], y = py[p];
    // The triangle holding p (boundary included).
    let start = -1;
    for (let t = 0; t < tris.length && start < 0; t++) {
      const tri = tris[t];
      if (!tri) continue;
      const [a, b, c] = tri;
      if (orient(px[a], py[a], px[b], py[b], x, y) >= -EPS && orient(px[b], py[b], px[c], py[c], x, y) >= -EPS &&
        orient(px[c], py[c], px[a], py[a], x, y) >= -EPS) start = t;
    }
    if (start < 0) throw new Error("delaunay: a point fell outside the super-triangle");
    // Grow the cavity through neighbours whose circumcircle holds p.
    const bad = new Set<number>([start]);
    const stack = [start];
    while (stack.length > 0) {
      const [a, b, c] = tris[stack.pop()!]!;
      for (const [u, v] of [[a, b], [b, c], [c, a]]) {
        const nb = edges.get(key(v, u));
        if (nb === undefined || bad.has(nb)) continue;
        const [d, e, f] = tris[nb]!;
        if (inCircle(px[d], py[d], px[e], py[e], px[f], py[f], x, y) > EPS) { bad.add(nb); stack.push(nb); }
      }
    }
    // The cavity's boundary: edges of bad triangles whose neighbour is not bad.
    const boundary: [number, number][] = [];
    for (const t of bad) {
      const [a, b, c] = tris[t]!;
      for (const [u, v] of [[a, b], [b, c], [c, a]]) {
        const nb = edges.get(key(v, u));
        if (nb === undefined || !bad.has(nb)) boundary.push([u, v]);
      }
    }
    for (const t of bad) remove(t);
    for (const [u, v] of boundary) add(u, v, p);
  }
  const out: [number, number, number][] = [];
  for (const tri of tris) {
    if (!tri || tri[0] >= n || tri[1] >= n || tri[2] >= n) continue;
    const [a, b, c] = tri;
    if (orient(px[a], py[a], px[b], py[b], px[c], py[c]) > EPS) out.push(tri);
  }
  return out;
}

/** Barycentric linear interpolation of values at (xs, ys) on `triangles`, at (qx, qy); null outside every triangle. */
export function interpolateOnTriangles(xs: ArrayLike<number>, ys: ArrayLike<number>, values: ArrayLike<number>,
  triangles: readonly [number, number, number][], qx: number, qy: number): number | null {
  for (const [a, b, c] of triangles) {
    const det = orient(xs[a], ys[a], xs[b], ys[b], xs[c], ys[c]);
    const la = orient(qx, qy, xs[b], ys[b], xs[c], ys[c]) / det;
    const lb = orient(xs[a], ys[a], qx, qy, xs[c], ys[c]) / det;
    const lc = 1 - la - lb;
    const tol = -1e-9;
    if (la >= tol && lb >= tol && lc >= tol) return la * values[a] + lb * values[b] + lc * values[c];
  }
  return null;
}

// ---------------------------------------------------------------------------------------------------------------
// Grids

function l0Of(p: FamilyPoint, which: "nominal" | "empirical"): number | undefined {
  return which === "nominal" ? p.l0Nominal : p.l0Empirical;
}

function resolution(options: ContourOptions): [number, number] {
  const r = options.resolution ?? 100;
  const [nx, ny] = typeof r === "number" ? [r, r] : r;
  for (const v of [nx, ny]) {
    if (!Number.isSafeInteger(v) || v < 2 || v > 4096) throw new InputError("resolution", `grid nodes per axis must be an integer in 2..4096, got ${v}`);
  }
  return [nx, ny];
}

function logSpace(lo: number, hi: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => lo + ((hi - lo) * i) / (count - 1));
}

/** The contour grid of one metric over (log width, log L0); see the file comment. */
export function contourGrid(points: readonly FamilyPoint[], metric: ContourMetric | ((p: FamilyPoint) => number | undefined),
  options: ContourOptions = {}): ContourGrid {
  const which = options.l0 ?? "nominal";
  if (which !== "nominal" && which !== "empirical") throw new InputError("l0", `must be "nominal" or "empirical", got ${String(which)}`);
  const [nx, ny] = resolution(options);
  const pad = options.pad ?? 1.15;
  if (!(pad >= 1 && Number.isFinite(pad))) throw new InputError("pad", `must be a finite number ≥ 1, got ${pad}`);
  const name = typeof metric === "function" ? metric.name || "metric" : metric;
  const value = typeof metric === "function" ? metric : (p: FamilyPoint) => p[metric];
  const warnings: string[] = [];

  // Collect usable points; merge exact duplicates of (width, L0) by averaging.
  const merged = new Map<string, { width: number; l0: number; sum: number; count: number; id?: string }>();
  let skipped = 0;
  points.forEach((p, i) => {
    if (!(p.width > 0 && Number.isFinite(p.width))) throw new InputError(`points[${i}].width`, `must be a positive number, got ${p.width}`);
    const l0 = l0Of(p, which), v = value(p);
    if (l0 !== undefined && !(l0 > 0 && Number.isFinite(l0))) throw new InputError(`points[${i}].l0${which === "nominal" ? "Nominal" : "Empirical"}`, `must be a positive number, got ${l0}`);
    if (l0 === undefined || v === undefined || v === null || !Number.isFinite(v)) { skipped++; return; }
    const k = `${p.width},${l0}`;
    const m = merged.get(k);
    if (m) { m.sum += v; m.count++; } else merged.set(k, { width: p.width, l0, sum: v, count: 1, id: p.id });
  });
  if (skipped > 0) warnings.push(`${skipped} point(s) lack a finite ${name} or a ${which} L0 and were left out`);
  const used = [...merged.values()];
  const dups = used.filter((m) => m.count > 1);
  if (dups.length > 0) warnings.push(`${dups.length} (width, L0) pair(s) occur more than once; their ${name} values were averaged`);
  if (used.length === 0) throw new InputError("points", `no point has both a ${which} L0 and a finite ${name}`);

  const lx = used.map((m) => Math.log10(m.width)), ly = used.map((m) => Math.log10(m.l0));
  const vals = used.map((m) => m.sum / m.count);
  const triangles = delaunay(lx, ly);
  if (triangles.length === 0) warnings.push(`the ${used.length} point(s) are collinear in (log width, log L0): there is no area to interpolate over`);
  const minX = Math.min(...lx), maxX = Math.max(...lx), minY = Math.min(...ly), maxY = Math.max(...ly);
  const gx = logSpace(minX, maxX, nx), gy = logSpace(minY, maxY, ny);
  const z = gy.map((yv) => gx.map((xv) => (triangles.length > 0 ? interpolateOnTriangles(lx, ly, vals, triangles, xv, yv) : null)));
  return {
    metric: name, l0: which,
    x: gx.map((v) => 10 ** v), y: gy.map((v) => 10 ** v), z,
    points: used.map((m, i) => ({ width: m.width, l0: m.l0, value: vals[i], ...(m.id !== undefined ? { id: m.id } : {}) })),
    triangles,
    axisRange: { x: [10 ** minX / pad, 10 ** maxX * pad], y: [10 ** minY / pad, 10 ** maxY * pad] },
    warnings,
  };
}

/** The TMLR three panels (norm R², vector R², FVU_nonlinear) or any list of metrics, on one grid each. */
export function contourGrids(points: readonly FamilyPoint[], metrics: readonly ContourMetric[] = ["normR2", "vectorR2", "fvuNonlinear"],
  options: ContourOptions = {}): ContourGrid[] {
  return metrics.map((m) => contourGrid(points, m, options));
}

// ---------------------------------------------------------------------------------------------------------------
// Matched-L0 selection

export interface MatchedSae<P extends FamilyPoint = FamilyPoint> {
  width: number;
  target: number;
  /** The chosen SAE's L0 (nominal or empirical, as asked). */
  l0: number;
  /** |l0 − target| / target. */
  relativeError: number;
  point: P;
  /** Set when the chosen L0 is more than `tolerance` away from the target (the paper warns at 20 %). */
  warning: string | null;
}

/**
 * Per width, the SAE whose L0 is closest to `target` (absolute difference; ties go to the lower L0, then to the
 * earlier point). The paper picks by nominal L0 closest to 60 (or 50) for most experiments and by empirical L0 for
 * v1 Figure 1 (spec §5.3). Widths whose SAEs all lack the asked L0 are skipped. Sorted by width.
 */
export function matchedL0<P extends FamilyPoint>(points: readonly P[], target: number,
  options: { by?: "nominal" | "empirical"; tolerance?: number } = {}): MatchedSae<P>[] {
  const by = options.by ?? "nominal", tolerance = options.tolerance ?? 0.2;
  if (!(target > 0 && Number.isFinite(target))) throw new InputError("target", `must be a positive number, got ${target}`);
  if (!(tolerance >= 0)) throw new InputError("tolerance", `must be ≥ 0, got ${tolerance}`);
  if (by !== "nominal" && by !== "empirical") throw new InputError("by", `must be "nominal" or "empirical", got ${String(by)}`);
  const best = new Map<number, { p: P; l0: number }>();
  points.forEach((p, i) => {
    if (!(p.width > 0 && Number.isFinite(p.width))) throw new InputError(`points[${i}].width`, `must be a positive number, got ${p.width}`);
    const l0 = l0Of(p, by);
    if (l0 === undefined) return;
    if (!Number.isFinite(l0) || l0 < 0) throw new InputError(`points[${i}]`, `${by} L0 must be a finite non-negative number, got ${l0}`);
    const cur = best.get(p.width);
    const dNew = Math.abs(l0 - target);
    if (!cur) { best.set(p.width, { p, l0 }); return; }
    const dCur = Math.abs(cur.l0 - target);
    if (dNew < dCur || (dNew === dCur && l0 < cur.l0)) best.set(p.width, { p, l0 });
  });
  return [...best.entries()].sort((a, b) => a[0] - b[0]).map(([width, { p, l0 }]) => {
    const relativeError = Math.abs(l0 - target) / target;
    return {
      width, target, l0, relativeError, point: p,
      warning: relativeError > tolerance
        ? `width ${width}: the closest ${by} L0 is ${l0}, ${(100 * relativeError).toFixed(0)} % away from ${target}` : null,
    };
  });
}
