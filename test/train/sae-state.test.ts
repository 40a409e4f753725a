import { test } from "node:test";
import * as assert from "node:assert/strict";
import { initBackend } from "../../src/backend";
import { DeadLatentTracker } from "../../src/train/dead-latents";
import { encoderProduct } from "../../src/train/dense";
import { SaeStateConfig, SaeTrainingState } from "../../src/train/sae-state";
import { normals } from "../helpers/random";
import { RefParams, refLoss } from "./reference";

const BASE: SaeStateConfig = {
  d: 6, nLatents: 10, k: 3, batchSize: 5, architecture: "topk", auxkCoef: 0, kAux: 3,
  adamBeta1: 0.9, adamBeta2: 0.999, adamEps: 1e-8, gradClip: 1,
};

async function randomState(cfg: Partial<SaeStateConfig>, seed: number): Promise<SaeTrainingState> {
  await initBackend();
  const c = { ...BASE, ...cfg };
  const s = new SaeTrainingState(c, encoderProduct());
  const { d, nLatents: n, batchSize: B } = c;
  s.x.set(normals(B * d, seed).map((v, i) => v + (i % d) * 0.3));
  const P = s.params;
  P.WencT.set(normals(n * d, seed + 1).map((v) => 0.6 * v));
  const w = normals(n * d, seed + 2);
  for (let j = 0; j < n; j++) {
    const norm = Math.hypot(...w.subarray(j * d, j * d + d));
    for (let t = 0; t < d; t++) P.Wdec[j * d + t] = w[j * d + t] / norm;
  }
  P.benc.set(normals(n, seed + 3).map((v) => 0.3 * v));
  P.bdec.set(normals(d, seed + 4).map((v) => 0.2 * v));
  return s;
}

function deadTracker(n: number, dead: number[]): DeadLatentTracker {
  const t = new DeadLatentTracker(n, 1);
  for (const j of dead) t.tokensSinceFired[j] = 5;
  return t;
}

function snapshot(s: SaeTrainingState): { [K in keyof RefParams]: Float64Array } {
  const P = s.params;
  return { WencT: Float64Array.from(P.WencT), Wdec: Float64Array.from(P.Wdec), benc: Float64Array.from(P.benc), bdec: Float64Array.from(P.bdec) };
}

const CASES: { name: string; cfg: Partial<SaeStateConfig>; dead: number[] }[] = [
  { name: "TopK", cfg: {}, dead: [] },
  { name: "TopK + AuxK (4 dead, kAux 2)", cfg: { auxkCoef: 0.5, kAux: 2 }, dead: [1, 4, 7, 8] },
  { name: "TopK + AuxK (1 dead, kAux 3: scaled by 1/3)", cfg: { auxkCoef: 0.25, kAux: 3 }, dead: [6] },
  { name: "BatchTopK + AuxK", cfg: { architecture: "batchtopk", auxkCoef: 0.5, kAux: 2 }, dead: [0, 2, 5] },
];

for (const c of CASES) {
  test(`${c.name}: hand-written gradients equal central finite differences of a float64 reference loss`, async () => {
    const s = await randomState(c.cfg, 11);
    const cfg = s.config;
    const base = snapshot(s);
    const dead = Array.from({ length: cfg.nLatents }, (_, j) => c.dead.includes(j));
    const aux = cfg.auxkCoef > 0 ? { dead, kAux: cfg.kAux, coef: cfg.auxkCoef } : undefined;
    const opts = { d: cfg.d, n: cfg.nLatents, k: cfg.k, architecture: cfg.architecture, aux };
    const ref0 = refLoss(base, s.x, cfg.batchSize, opts);
    const stats = s.forwardBackward(c.dead.length ? deadTracker(cfg.nLatents, c.dead) : null);
    assert.ok(Math.abs(stats.fvu - ref0.fvu) < 1e-5 * ref0.fvu, `fvu ${stats.fvu} vs ${ref0.fvu}`);
    assert.ok(Math.abs(stats.loss - ref0.loss) < 1e-5 * ref0.loss, `loss ${stats.loss} vs ${ref0.loss}`);
    if (aux) assert.ok(ref0.auxk > 0, "the case exercises AuxK");
    assert.equal(stats.l0, ref0.active.length / cfg.batchSize);
    // The residual is detached in training: hold it at its base value while differentiating.
    const residual = Float64Array.from({ length: s.x.length }, (_, i) => s.x[i] - ref0.xhat[i]);
    const fixed = { ...opts, aux: aux && { ...aux, residual } };
    const h = 1e-6;
    for (const name of ["WencT", "Wdec", "benc", "bdec"] as const) {
      const analytic = s.grads[name];
      let errNorm = 0, refNorm = 0;
      for (let i = 0; i < analytic.length; i++) {
        const p = { ...base, [name]: base[name].slice() };
        p[name][i] += h;
        const up = refLoss(p, s.x, cfg.batchSize, fixed);
        p[name][i] -= 2 * h;
        const down = refLoss(p, s.x, cfg.batchSize, fixed);
        assert.deepEqual(up.active.map((a) => a[1]), ref0.active.map((a) => a[1]), "the perturbation kept the active set");
        const fd = (up.loss - down.loss) / (2 * h);
        errNorm += (analytic[i] - fd) ** 2;
        refNorm += fd * fd;
      }
      assert.ok(refNorm > 0, `${name} has a non-zero gradient`);
      assert.ok(Math.sqrt(errNorm / refNorm) < 1e-4, `${name}: relative gradient error ${Math.sqrt(errNorm / refNorm)}`);
    }
  });
}

test("AuxK term on a hand-computed case", async () => {
  await initBackend();
  for (const [kAux, expected] of [[1, 1.4], [2, 0.7]]) {
    const s = new SaeTrainingState({ ...BASE, d: 2, nLatents: 3, k: 1, batchSize: 2, auxkCoef: 0.5, kAux }, encoderProduct());
    const r = Math.SQRT1_2;
    s.params.WencT.set([1, 0, 0, 1, r, r]);
    s.params.Wdec.set([1, 0, 0, 1, r, r]);
    s.x.set([3, 1, 0, 2]);
    // Row 0: pre = (3, 1, 2√2), keeps latent 0, x̂ = (3, 0), residual (0, 1). Row 1: pre = (0, 2, √2), keeps
    // latent 1, x̂ = (0, 2), residual 0. Centred sum of squares 5, so FVU = 1/5.
    // Latent 2 alone is dead: ê = (2, 2) and (1, 1); Σ‖ê − r‖² = 5 + 2 = 7; scale = min(1/kAux, 1).
    const stats = s.forwardBackward(deadTracker(3, [2]));
    assert.ok(Math.abs(stats.fvu - 0.2) < 1e-6, `fvu ${stats.fvu}`);
    assert.ok(Math.abs(stats.auxk - expected) < 1e-6, `auxk ${stats.auxk} for kAux=${kAux}`);
    assert.ok(Math.abs(stats.loss - (0.2 + 0.5 * expected)) < 1e-6);
    assert.equal(stats.l0, 1);
    // Nobody dead: no AuxK.
    assert.equal(s.forwardBackward(deadTracker(3, [])).auxk, 0);
  }
});

test("the decoder gradient loses its component along each row, and rows stay unit-norm", async () => {
  const s = await randomState({ nLatents: 16, batchSize: 8 }, 21);
  const { d, nLatents: n } = s.config;
  for (let step = 0; step < 20; step++) {
    s.forwardBackward();
    const before = s.params.Wdec.slice();
    s.update(1e-2);
    for (let j = 0; j < n; j++) {
      let dotp = 0, gn = 0, wn = 0;
      for (let t = 0; t < d; t++) {
        dotp += s.grads.Wdec[j * d + t] * before[j * d + t];
        gn += s.grads.Wdec[j * d + t] ** 2;
        wn += s.params.Wdec[j * d + t] ** 2;
      }
      assert.ok(Math.abs(dotp) <= 1e-6 * (Math.sqrt(gn) + 1e-12), `step ${step} row ${j}: gradient·row = ${dotp}`);
      assert.ok(Math.abs(Math.sqrt(wn) - 1) < 1e-6, `step ${step} row ${j}: norm ${Math.sqrt(wn)}`);
    }
  }
});

test("the global gradient norm is clipped (torch's clip_grad_norm_ factor) before Adam", async () => {
  for (const clip of [1e-3, 1e6]) {
    const s = await randomState({ gradClip: clip }, 31);
    s.forwardBackward();
    const upd = s.update(1e-3);
    const g = s.grads.all; // projected, not scaled
    let sumsq = 0;
    for (let i = 0; i < g.length; i++) sumsq += g[i] * g[i];
    assert.ok(Math.abs(upd.gradNorm - Math.sqrt(sumsq)) < 1e-5 * upd.gradNorm);
    const expectedScale = upd.gradNorm > clip ? clip / (upd.gradNorm + 1e-6) : 1;
    assert.equal(upd.clipScale, expectedScale);
    if (clip < 1) assert.ok(upd.clipScale < 1, "the small limit clips");
    // After the first Adam step, m = (1 − β1) · clipScale · g.
    const { m } = s.moments;
    for (let i = 0; i < g.length; i++) {
      const want = 0.1 * expectedScale * g[i];
      assert.ok(Math.abs(m[i] - want) <= 1e-6 * Math.abs(want) + 1e-20, `m[${i}] ${m[i]} vs ${want}`);
    }
  }
});

test("a batch with NaN or no variance is an InputError", async () => {
  const s = await randomState({}, 41);
  s.x[3] = NaN;
  assert.throws(() => s.forwardBackward(), /non-finite/);
  s.x.fill(1);
  assert.throws(() => s.forwardBackward(), /zero variance/);
});
