// A family of SAEs decomposed on the same activations shares one XᵀX: the results must equal the per-SAE path.
import * as assert from "node:assert/strict";
import { test } from "node:test";
import { decomposeSaeError, decomposeSaeFamily, inputGramFor } from "../../src/darkmatter/decomposition";
import { InputError } from "../../src/errors";
import { InputGram, NormalEquations } from "../../src/linalg/least-squares";
import { arraySource } from "../../src/linalg/rows";
import { normals } from "../helpers/random";

const n = 900, d = 10;
const x = normals(n * d, 11).map((v, i) => v * (1 + (i % d)) + 3);
const activations = arraySource(x, d, "x");
/** Three "SAEs": different nonlinear maps of x, so their errors differ. */
const saes = [0.5, 1, 2].map((s, k) => ({
  reconstruct: (xs: Float32Array) => xs.map((v, i) => Math.max(0, v - s) * (1 + 0.1 * ((i + k) % 3))),
}));

function rel(a: number, b: number): number { return Math.abs(a - b) / Math.max(1e-300, Math.abs(b)); }

for (const intercept of [true, false]) {
  test(`a family decomposition with one shared XᵀX equals the per-SAE decompositions (intercept ${intercept})`, () => {
    const options = { intercept, bootstrap: false as const, rowsPerChunk: 128, seed: 3 };
    const shared = decomposeSaeFamily(activations, saes, options);
    const single = saes.map((sae) => decomposeSaeError({ activations, sae }, options));
    shared.forEach((r, k) => {
      const s = single[k];
      for (const key of ["vectorR2", "normR2", "fvu", "fvuNonlinear"] as const) {
        assert.ok(rel(r[key].value, s[key].value) <= 1e-9, `SAE ${k} ${key}: ${r[key].value} vs ${s[key].value}`);
      }
      let worst = 0, scale = 0;
      r.linearMap.coefficients.forEach((c, i) => { worst = Math.max(worst, Math.abs(c - s.linearMap.coefficients[i])); scale = Math.max(scale, Math.abs(s.linearMap.coefficients[i])); });
      assert.ok(worst <= 1e-9 * scale, `SAE ${k} b*: ${worst} vs scale ${scale}`);
      assert.equal(r.rows.train, s.rows.train);
    });
    assert.notEqual(shared[0].fvu.value, shared[2].fvu.value, "the SAEs differ");
  });
}

test("a fit refuses a shared Gram built on other rows, and an unfilled one", () => {
  const gram = inputGramFor(activations, { seed: 3 });
  const ne = new NormalEquations(d, 1, { shared: gram });
  const y = new Float32Array(200).map((_, i) => i % 7);
  ne.add(x.subarray(0, 200 * d), y, 200);
  assert.throws(() => ne.solve(), (e: unknown) => e instanceof InputError && /shared Gram was built on/.test(e.message));
  const empty = new NormalEquations(d, 1, { shared: new InputGram(d) });
  assert.throws(() => empty.add(x.subarray(0, 10 * d), y.subarray(0, 10), 10), /must be filled/);
});
