import { test } from "node:test";
import * as assert from "node:assert/strict";
import type { DecompositionResult } from "../../src/darkmatter/decomposition";
import type { SaeDecomposition } from "../../src/pipeline/decompose-family";
import { predictabilityClaims, widthScaling, widthScalingClaims } from "../../src/pipeline/family-results";

const est = (value: number) => ({ value, interval: null });
function decomp(width: number, l0: number, fvu: number, fvuNonlinear: number, vectorR2 = 0.5, normR2 = 0.95): SaeDecomposition {
  const result = { fvu: est(fvu), fvuNonlinear: est(fvuNonlinear), vectorR2: est(vectorR2), normR2: est(normR2) } as unknown as DecompositionResult;
  return { sae: { path: `w${width}k${l0}`, format: "saelens", width, l0, layer: 3, hook: "blocks.3.hook_resid_post" }, l0Empirical: l0, result };
}

const widths = [128, 256, 512, 1024, 2048, 4096];
const law = (w: number) => 0.05 + 2 * w ** -0.5;

test("widthScaling matches widths at one L0 and recovers the planted power law; the claims hold", () => {
  const decomps = [
    ...widths.map((w) => decomp(w, 16, law(w), 0.04 + 1e-4 * Math.log2(w))),
    decomp(256, 8, 0.3, 0.1), // another L0: not used
  ];
  const ws = widthScaling(decomps);
  assert.equal(ws.l0, 16);
  assert.deepEqual(ws.widths, widths);
  const fit = ws.fit!;
  assert.ok(Math.abs(fit.c - 0.05) < 1e-4 && Math.abs(fit.m - 0.5) < 1e-3, `fit ${fit.c} ${fit.a} ${fit.m}`);
  const claims = widthScalingClaims(ws);
  assert.deepEqual(claims.map((c) => c.holds), [true, true]);
});

test("with fewer than 3 widths there is no fit, and the power-law claim is undecided with the reason", () => {
  const ws = widthScaling([decomp(128, 16, 0.3, 0.2), decomp(1024, 16, 0.2, 0.18)]);
  assert.equal(ws.fit, null);
  assert.match(ws.fitProblem!, /at least 3 widths.*has 2 \(128, 1024\)/);
  const claims = widthScalingClaims(ws);
  assert.equal(claims[0].holds, null);
  assert.match(claims[0].measured, /not fitted/);
  assert.equal(claims[1].holds, null);
});

test("the claims fail when the data do not show the effect", () => {
  const flat = widthScaling(widths.map((w) => decomp(w, 16, law(w), law(w) * 0.9)));
  assert.equal(widthScalingClaims(flat)[1].holds, false, "fvu_nonlinear falling like fvu is not flat");
  const claims = predictabilityClaims([decomp(128, 16, 0.3, 0.35, 0.1, 0.5), decomp(256, 16, 0.2, 0.1, 0.2, 0.6)]);
  assert.deepEqual(claims.map((c) => c.holds), [false, false, false]);
  assert.match(claims[0].measured, /median 0\.150/);
});
