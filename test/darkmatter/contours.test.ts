import { test } from "node:test";
import * as assert from "node:assert/strict";
import { InputError } from "../../src/errors";
import { contourGrid, contourGrids, delaunay, familyPoint, FamilyPoint, matchedL0 } from "../../src/darkmatter/contours";
import { decomposeSaeError } from "../../src/darkmatter/decomposition";
import { arraySource } from "../../src/linalg";
import { normals, rng } from "../helpers/random";

// Gemma Scope 9B layer-20 residual SAEs (spec §2.3): width → nominal L0s.
const GEMMA_9B_L20: Record<number, number[]> = {
  [2 ** 14]: [11, 20, 36, 57, 58, 68, 138, 310, 393, 408, 427],
  [2 ** 15]: [11, 55, 57, 334, 344, 357],
  [2 ** 16]: [11, 54, 55, 292, 298, 309],
  [2 ** 17]: [10, 11, 12, 19, 34, 51, 53, 54, 62, 114, 221, 269, 276, 288],
  [2 ** 18]: [10, 11, 13, 49, 50, 64, 249, 259, 276],
  [2 ** 19]: [10, 24, 46, 48, 78, 229, 241, 298],
  [2 ** 20]: [11, 19, 34, 57, 101, 193],
};

function family(f: (u: number, v: number) => number): FamilyPoint[] {
  const out: FamilyPoint[] = [];
  for (const [w, l0s] of Object.entries(GEMMA_9B_L20)) {
    for (const l0 of l0s) out.push({ id: `${w}/${l0}`, width: +w, l0Nominal: l0, fvuNonlinear: f(Math.log10(+w), Math.log10(l0)) });
  }
  return out;
}

/** Convex hull (monotone chain), counter-clockwise, collinear points dropped. */
function hull(pts: [number, number][]): [number, number][] {
  const p = [...pts].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const cross = (o: number[], a: number[], b: number[]) => (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);
  const half = (list: [number, number][]) => {
    const h: [number, number][] = [];
    for (const q of list) { while (h.length >= 2 && cross(h[h.length - 2], h[h.length - 1], q) <= 0) h.pop(); h.push(q); }
    h.pop();
    return h;
  };
  return [...half(p), ...half([...p].reverse())];
}

function area(poly: [number, number][]): number {
  let s = 0;
  for (let i = 0; i < poly.length; i++) { const [a, b] = poly[i], [c, d] = poly[(i + 1) % poly.length]; s += a * d - b * c; }
  return s / 2;
}

/** Signed distance of q inside a counter-clockwise hull (> 0 inside), as the minimum over edges. */
function insideMargin(h: [number, number][], q: [number, number]): number {
  let m = Infinity;
  for (let i = 0; i < h.length; i++) {
    const [ax, ay] = h[i], [bx, by] = h[(i + 1) % h.length];
    const len = Math.hypot(bx - ax, by - ay);
    m = Math.min(m, ((bx - ax) * (q[1] - ay) - (by - ay) * (q[0] - ax)) / len);
  }
  return m;
}

function checkDelaunay(xs: number[], ys: number[]): void {
  const tris = delaunay(xs, ys);
  const h = hull(xs.map((x, i) => [x, ys[i]]));
  let total = 0;
  for (const [a, b, c] of tris) {
    const t = area([[xs[a], ys[a]], [xs[b], ys[b]], [xs[c], ys[c]]]);
    assert.ok(t > 0, "counter-clockwise, non-degenerate");
    total += t;
    // Empty circumcircle: no other point strictly inside.
    const ax = xs[a], ay = ys[a], bx = xs[b], by = ys[b], cx = xs[c], cy = ys[c];
    const dd = 2 * (ax * (by - cy) + bx * (cy - ay) + cx * (ay - by));
    const ux = ((ax * ax + ay * ay) * (by - cy) + (bx * bx + by * by) * (cy - ay) + (cx * cx + cy * cy) * (ay - by)) / dd;
    const uy = ((ax * ax + ay * ay) * (cx - bx) + (bx * bx + by * by) * (ax - cx) + (cx * cx + cy * cy) * (bx - ax)) / dd;
    const r = Math.hypot(ax - ux, ay - uy);
    xs.forEach((x, i) => {
      if (i !== a && i !== b && i !== c) assert.ok(Math.hypot(x - ux, ys[i] - uy) > r * (1 - 1e-9), `point ${i} inside the circumcircle of ${[a, b, c]}`);
    });
  }
  assert.ok(Math.abs(total - area(h)) < 1e-9 * area(h), `triangles cover the hull: ${total} vs ${area(h)}`);
}

test("Delaunay: empty circumcircles and full hull coverage, on the paper's family and on random points", () => {
  const pts = family(() => 0);
  checkDelaunay(pts.map((p) => Math.log10(p.width)), pts.map((p) => Math.log10(p.l0Nominal)));
  const u = rng(5);
  for (const n of [3, 4, 10, 200]) {
    const xs = Array.from({ length: n }, () => u()), ys = Array.from({ length: n }, () => 3 * u());
    checkDelaunay(xs, ys);
  }
  // A full lattice (many cocircular quadruples) and collinear input.
  const lx: number[] = [], ly: number[] = [];
  for (let i = 0; i < 5; i++) for (let j = 0; j < 4; j++) { lx.push(i); ly.push(j); }
  checkDelaunay(lx, ly);
  assert.equal(delaunay(lx, ly).length, 2 * 4 * 3);
  assert.deepEqual(delaunay([0, 1, 2, 3], [0, 1, 2, 3]), []);
});

test("a planted function linear in (log width, log L0) is reproduced exactly inside the hull, null outside", () => {
  const f = (u: number, v: number) => 0.3 + 0.1 * u - 0.2 * v;
  const pts = family(f);
  const g = contourGrid(pts, "fvuNonlinear", { resolution: [40, 30] });
  assert.equal(g.x.length, 40);
  assert.equal(g.y.length, 30);
  assert.equal(g.z.length, 30);
  assert.ok(Math.abs(g.x[0] - 2 ** 14) < 1e-6 && Math.abs(g.x[39] - 2 ** 20) < 1e-3);
  assert.ok(Math.abs(g.y[0] - 10) < 1e-9 && Math.abs(g.y[29] - 427) < 1e-9);
  assert.deepEqual(g.axisRange.x.map((v) => +v.toPrecision(8)), [+(2 ** 14 / 1.15).toPrecision(8), +(2 ** 20 * 1.15).toPrecision(8)]);
  const h = hull(g.points.map((p) => [Math.log10(p.width), Math.log10(p.l0)]));
  let inside = 0, outside = 0;
  g.z.forEach((row, i) => row.forEach((z, j) => {
    const q: [number, number] = [Math.log10(g.x[j]), Math.log10(g.y[i])];
    const margin = insideMargin(h, q);
    if (z === null) { outside++; assert.ok(margin < 1e-9, `null inside the hull at ${q}`); } else {
      inside++;
      assert.ok(margin > -1e-9, `value outside the hull at ${q}`);
      assert.ok(Math.abs(z - f(q[0], q[1])) < 1e-12, `${z} vs ${f(q[0], q[1])}`);
    }
  }));
  assert.ok(inside > 600 && outside > 50, `${inside} inside, ${outside} outside`);
  assert.equal(g.points.length, 60);
  assert.deepEqual(g.warnings, []);
});

test("a smooth planted function: the interpolation error shrinks as the family gets denser", () => {
  const f = (u: number, v: number) => Math.sin(2 * u) + Math.cos(3 * v);
  const errorWith = (n: number) => {
    const u = rng(n);
    const pts: FamilyPoint[] = [[14, 1], [20, 1], [14, 2.7], [20, 2.7]].map(([a, b]) => ({ width: 2 ** a, l0Nominal: 10 ** b }));
    for (let i = 0; i < n; i++) pts.push({ width: 2 ** (14 + 6 * u()), l0Nominal: 10 ** (1 + 1.7 * u()) });
    for (const p of pts) p.normR2 = f(Math.log10(p.width), Math.log10(p.l0Nominal));
    const g = contourGrid(pts, "normR2", { resolution: 25 });
    let worst = 0;
    g.z.forEach((row, i) => row.forEach((z, j) => {
      assert.notEqual(z, null, "the corners make the hull the whole grid");
      // The grid's edges see only the corners and the few points near them: judge the interior.
      if (i < 3 || j < 3 || i > 21 || j > 21) return;
      worst = Math.max(worst, Math.abs((z as number) - f(Math.log10(g.x[j]), Math.log10(g.y[i]))));
    }));
    return worst;
  };
  const coarse = errorWith(20), fine = errorWith(400);
  assert.ok(fine < 0.1 && fine < coarse / 3, `max error ${coarse} (24 points) → ${fine} (404 points)`);
});

test("matched L0 reproduces the paper's selections at 9B layer 20 (closest to 60 and to 50)", () => {
  const pts = family(() => 0);
  const pick = (target: number) => matchedL0(pts, target).map((m) => m.l0);
  assert.deepEqual(pick(60), [58, 57, 55, 62, 64, 48, 57]);
  assert.deepEqual(pick(50), [57, 55, 54, 51, 50, 48, 57]);
  const m60 = matchedL0(pts, 60);
  assert.deepEqual(m60.map((m) => m.width), [14, 15, 16, 17, 18, 19, 20].map((e) => 2 ** e));
  assert.equal(m60[0].point.id, "16384/58");
  assert.ok(m60.every((m) => m.warning === null), "524k's 48 is exactly 20 % off: not more");
  const strict = matchedL0(pts, 60, { tolerance: 0.05 });
  assert.ok(strict[5].warning && /48/.test(strict[5].warning));
  // Ties go to the lower L0; empirical selection uses l0Empirical and skips points without it.
  const tie = matchedL0([{ width: 8, l0Nominal: 70 }, { width: 8, l0Nominal: 50 }], 60);
  assert.equal(tie[0].l0, 50);
  const emp = matchedL0([{ width: 8, l0Nominal: 60, l0Empirical: 90 }, { width: 8, l0Nominal: 20, l0Empirical: 61 }, { width: 16, l0Nominal: 60 }], 60, { by: "empirical" });
  assert.deepEqual(emp.map((m) => [m.width, m.l0, m.point.l0Nominal]), [[8, 61, 20]]);
});

test("empirical-L0 axis, duplicates, missing metrics, collinear families, and several panels", () => {
  const pts: FamilyPoint[] = [
    { width: 1000, l0Nominal: 10, l0Empirical: 12, vectorR2: 0.5 },
    { width: 1000, l0Nominal: 10, l0Empirical: 12, vectorR2: 0.7 },
    { width: 4000, l0Nominal: 10, l0Empirical: 11, vectorR2: 0.2 },
    { width: 1000, l0Nominal: 100, l0Empirical: 95, vectorR2: 0.4 },
    { width: 4000, l0Nominal: 100 },
  ];
  const g = contourGrid(pts, "vectorR2", { l0: "empirical", resolution: 5 });
  assert.equal(g.l0, "empirical");
  assert.equal(g.points.length, 3);
  assert.ok(Math.abs(g.points[0].value - 0.6) < 1e-12, "duplicates averaged");
  assert.equal(g.warnings.length, 2);
  assert.ok(Math.abs(g.y[0] - 11) < 1e-9 && Math.abs(g.y[4] - 95) < 1e-9);
  const line = contourGrid([{ width: 10, l0Nominal: 5, fvu: 1 }, { width: 10, l0Nominal: 50, fvu: 2 }, { width: 10, l0Nominal: 20, fvu: 3 }], "fvu", { resolution: 3 });
  assert.deepEqual(line.triangles, []);
  assert.ok(line.z.every((row) => row.every((z) => z === null)));
  assert.ok(/collinear/.test(line.warnings[0]));
  const panels = contourGrids(family((u, v) => u + v), ["fvuNonlinear"]);
  assert.equal(panels[0].metric, "fvuNonlinear");
  const custom = contourGrid(family((u, v) => u + v), function ratio(p) { return p.l0Nominal / p.width; }, { resolution: 4 });
  assert.equal(custom.metric, "ratio");
});

test("familyPoint takes the metrics of a decomposition; bad input is an InputError naming the field", () => {
  const x = normals(300 * 4, 3), recon = x.map((v) => 0.8 * v);
  const dec = decomposeSaeError({ activations: arraySource(x, 4), sae: { reconstructions: arraySource(recon, 4) } }, { bootstrap: false });
  const p = familyPoint(16384, 58, dec, { id: "a", l0Empirical: 60.5 });
  assert.deepEqual([p.width, p.l0Nominal, p.l0Empirical, p.id], [16384, 58, 60.5, "a"]);
  assert.deepEqual([p.vectorR2, p.normR2, p.fvu, p.fvuNonlinear], [dec.vectorR2.value, dec.normR2.value, dec.fvu.value, dec.fvuNonlinear.value]);
  const bad = (f: () => unknown, source: string) => assert.throws(f, (e: unknown) => e instanceof InputError && e.source === source);
  bad(() => contourGrid([{ width: 0, l0Nominal: 3, fvu: 1 }], "fvu"), "points[0].width");
  bad(() => contourGrid([{ width: 8, l0Nominal: -3, fvu: 1 }], "fvu"), "points[0].l0Nominal");
  bad(() => contourGrid([{ width: 8, l0Nominal: 3 }], "fvu"), "points");
  bad(() => contourGrid(family(() => 1), "fvuNonlinear", { resolution: 1 }), "resolution");
  bad(() => contourGrid(family(() => 1), "fvuNonlinear", { pad: 0.5 }), "pad");
  bad(() => matchedL0(family(() => 1), 0), "target");
  bad(() => delaunay([0, 1, NaN], [0, 1, 2]), "delaunay");
});
