import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { arraySource } from "../../src/linalg/rows";
import { NO_ROLE, TEST, TRAIN } from "../../src/linalg/split";
import type { AnalysisContext } from "../../src/pipeline/context";
import {
  architectureClaim, BASE_VARIANT, dominantFactor, qualityConfound, dominantFactorClaim, factorEffect, FactorName, gapClosed, modelSizeClaim, pickBaseline,
  StudyPoint, variantSplit, whyDifferVerdict, WhyDifferResult, PAPER_HEADLINE,
} from "../../src/pipeline/why-differ";
import { normals } from "../helpers/random";

const m = (value: number) => ({ value, lo: value - 0.01, hi: value + 0.01 });

function pt(over: Partial<StudyPoint> & { v: number; n: number }): StudyPoint {
  const { v, n, ...rest } = over;
  return {
    factor: "model size", level: "x", baseline: false, paperLike: false, model: "d128", d: 128, architecture: "topk", width: 1024,
    widthRatio: 8, l0Nominal: 16, l0Measured: 16, trainTokens: 262144, variant: BASE_VARIANT, vectorR2: m(v), normR2: m(n),
    fvu: m(0.1), fvuNonlinear: m(0.08), trainRows: 100, evaluatedRows: 50, normSpread: 0.5, ...rest,
  };
}

function result(base: StudyPoint, factors: { f: FactorName; points: StudyPoint[]; missing?: string[] }[]): WhyDifferResult {
  return { profile: "ci", paper: PAPER_HEADLINE, baseline: base, bootstrapResamples: 10,
    factors: factors.map(({ f, points, missing }) => factorEffect(f, f, base, points, missing)) };
}

describe("why the numbers differ: gap arithmetic", () => {
  it("measures the share of the gap closed, null without a gap", () => {
    assert.ok(Math.abs(gapClosed("vectorR2", 0.2, 0.35)! - 0.5) < 1e-12);
    assert.ok(Math.abs(gapClosed("vectorR2", 0.2, 0.1)! + 1 / 3) < 1e-12);
    assert.equal(gapClosed("vectorR2", 0.495, 0.3), null);
    assert.equal(gapClosed("normR2", 0.92, 0.5), null);
    assert.ok(Math.abs(gapClosed("normR2", 0.6, 0.9)! - 1) < 1e-12);
  });

  it("counts only paper-like levels toward the gap and every level toward sensitivity", () => {
    const base = pt({ v: 0.2, n: 0.6, baseline: true });
    const eff = factorEffect("intercept", "", base, [base, pt({ v: 0.5, n: 0.9, paperLike: false }), pt({ v: 0.26, n: 0.66, paperLike: true })]);
    assert.ok(Math.abs(eff.closed.vectorR2! - 0.2) < 1e-9 && Math.abs(eff.closed.normR2! - 0.2) < 1e-9);
    assert.ok(Math.abs(eff.sensitivity.vectorR2 - 0.3) < 1e-9);
  });

  it("picks the SAE nearest W/d 8 and the L0", () => {
    const e = (width: number, l0: number) => ({ path: `${width}/${l0}`, format: "saelens", width, l0, layer: 3, hook: "h" });
    assert.equal(pickBaseline([e(128, 16), e(1024, 8), e(1024, 16), e(8192, 16)], 128, 16).path, "1024/16");
    assert.equal(pickBaseline([e(128, 8), e(1024, 32), e(1024, 8)], 128, 8).path, "1024/8");
  });
});

describe("why the numbers differ: claims", () => {
  const base = pt({ v: 0.2, n: 0.6, baseline: true });

  it("model size: holds when both metrics approach the paper with d, fails when not, undecided with one size", () => {
    const toward = result(base, [{ f: "model size", points: [pt({ v: 0.1, n: 0.5, d: 64, model: "d64" }), base, pt({ v: 0.3, n: 0.7, d: 256, model: "d256" })] }]);
    assert.equal(modelSizeClaim(toward).holds, true);
    const away = result(base, [{ f: "model size", points: [pt({ v: 0.3, n: 0.7, d: 64, model: "d64" }), base] }]);
    assert.equal(modelSizeClaim(away).holds, false);
    const mixed = result(base, [{ f: "model size", points: [pt({ v: 0.1, n: 0.7, d: 64, model: "d64" }), base] }]);
    assert.equal(modelSizeClaim(mixed).holds, false);
    assert.equal(modelSizeClaim(result(base, [{ f: "model size", points: [base], missing: ["d64: none"] }])).holds, null);
  });

  it("architecture: holds when JumpReLU beats TopK on both metrics at matched L0, fails otherwise, undecided unmatched", () => {
    const j = (v: number, n: number, l0 = 17) => pt({ v, n, architecture: "jumprelu", l0Measured: l0 });
    assert.equal(architectureClaim(result(base, [{ f: "model size", points: [base, j(0.3, 0.7)] }])).holds, true);
    assert.equal(architectureClaim(result(base, [{ f: "model size", points: [base, j(0.3, 0.5)] }])).holds, false);
    const unmatched = architectureClaim(result(base, [{ f: "model size", points: [base, j(0.3, 0.7, 40)] }]));
    assert.equal(unmatched.holds, null);
    assert.match(unmatched.measured, /not matched/);
  });

  it("dominant factor: holds when its paper-like setting closes at least half of each gap, fails when less", () => {
    const big = result(base, [
      { f: "intercept", points: [base, pt({ v: 0.22, n: 0.62, paperLike: true })] },
      { f: "model size", points: [base, pt({ v: 0.4, n: 0.8, d: 256, paperLike: true })] },
    ]);
    assert.equal(dominantFactor(big)!.factor, "model size");
    const c = dominantFactorClaim(big);
    assert.equal(c.holds, true);
    assert.match(c.claim, /model size/);
    const small = result(base, [{ f: "intercept", points: [base, pt({ v: 0.25, n: 0.9, paperLike: true })] }]);
    assert.equal(dominantFactorClaim(small).holds, false); // vector gap only 1/6 closed
    assert.equal(dominantFactorClaim(result(base, [{ f: "split rule", points: [base, pt({ v: 0.5, n: 0.9 })] }])).holds, null);
    assert.match(whyDifferVerdict(small), /No measured factor explains most of the gap/);
  });
});

describe("why the numbers differ: architecture vs SAE quality", () => {
  const base = pt({ v: 0.2, n: 0.6, baseline: true, fvu: m(0.064) });
  const fewer = pt({ v: 0.3, n: 0.65, factor: "SAE training tokens", trainTokens: 65536, fvu: m(0.117) });
  const jump = (fvu: number) => pt({ v: 0.43, n: 0.54, factor: "architecture", architecture: "jumprelu", fvu: m(fvu), paperLike: true });

  it("flags the confound when the JumpReLU SAE reconstructs ≥ 1.25× worse, citing a worse TopK SAE's higher vector R²", () => {
    const r = result(base, [{ f: "SAE training tokens", points: [base, fewer] }, { f: "architecture", points: [base, jump(0.129)] }]);
    const text = qualityConfound(r);
    assert.match(text, /FVU 0\.129 vs 0\.064/);
    assert.match(text, /65,536 tokens: FVU 0\.117, vector R² 0\.300/);
    assert.ok(whyDifferVerdict(r).includes(text));
  });

  it("says nothing when the JumpReLU SAE is as good, or when no JumpReLU point was measured", () => {
    assert.equal(qualityConfound(result(base, [{ f: "architecture", points: [base, jump(0.07)] }])), "");
    assert.equal(qualityConfound(result(base, [{ f: "SAE training tokens", points: [base, fewer] }])), "");
  });
});

describe("why the numbers differ: variant splits", () => {
  // 4 contexts × 5 positions (10…14), d 3.
  const rows = 20, d = 3;
  const ctx = {
    rows, d, activations: arraySource(normals(rows * d, 1), d), activationsKey: "t",
    store: { manifest: { positions: { first: 10, end: 15, perContext: 5 } } },
  } as unknown as AnalysisContext;
  const norms = Float64Array.from({ length: rows }, (_, i) => i + 1);

  it("keeps contexts whole in the by-context split", () => {
    const s = variantSplit(ctx, { ...BASE_VARIANT, split: "by-context" }, norms)!;
    for (let c = 0; c < 4; c++) assert.equal(new Set(Array.from(s.roles.subarray(c * 5, c * 5 + 5))).size, 1);
    assert.equal(s.trainRows + s.testRows, rows);
    assert.ok(s.trainRows > 0 && s.testRows > 0);
  });

  it("drops early positions and the outer quarters of ‖x‖", () => {
    const s = variantSplit(ctx, { ...BASE_VARIANT, minPosition: 13 }, norms)!;
    for (let r = 0; r < rows; r++) assert.equal(s.roles[r] === NO_ROLE, 10 + (r % 5) < 13);
    const h = variantSplit(ctx, { ...BASE_VARIANT, norm: "middle-half" }, norms)!;
    const kept = Array.from(h.roles).map((x, i) => (x === NO_ROLE ? -1 : i)).filter((i) => i >= 0);
    assert.deepEqual(kept, [4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]); // ‖x‖ from its 25th (5) to its 75th (16) percentile
    assert.ok(Array.from(h.roles).every((x) => x === NO_ROLE || x === TRAIN || x === TEST));
    assert.equal(variantSplit(ctx, { ...BASE_VARIANT, split: "in-sample" }, norms), null);
  });
});
