// The blocked forward (weights read from the file in latent blocks) must equal the whole-matrix forward for every
// format and architecture, with blocks forced tiny so that every row's latents span many blocks; and the block plan
// and the allocator must keep every buffer within the weight budget.
import * as assert from "node:assert/strict";
import { spawnSync } from "child_process";
import * as path from "path";
import { test } from "node:test";
import { initBackend } from "../../src/backend/index";
import { InputError } from "../../src/errors";
import { openTensorFile, writeNpy, writeNpz } from "../../src/io/index";
import { BlockedSae } from "../../src/sae/blocked";
import { BudgetAllocator, DEFAULT_WEIGHT_BUDGET, planBlocks, weightBudgetBytes, WEIGHT_BUDGET_ENV } from "../../src/sae/block-plan";
import { loadSae, Sae } from "../../src/sae/index";
import { openSae, requireWholeSae, runsBlocked } from "../../src/sae/open";
import { normals } from "../helpers/random";
import { FIXTURE_LIST, FIXTURES, assertClose, loadReference, tempDir } from "./helpers";

function assertSameForward(blocked: BlockedSae, whole: Sae, x: Float32Array, what: string, chunkRows?: number): void {
  const a = blocked.forward(x, { chunkRows }), b = whole.forward(x);
  assert.deepEqual(Array.from(a.l0), Array.from(b.l0), `${what}: l0`);
  assert.deepEqual(Array.from(a.latents!.rowPtr), Array.from(b.latents!.rowPtr), `${what}: rowPtr`);
  assert.deepEqual(Array.from(a.latents!.indices), Array.from(b.latents!.indices), `${what}: active latents`);
  assertClose(a.latents!.values, b.latents!.values, 1e-5, `${what}: latent values`);
  assertClose(a.reconstruction, b.reconstruction, 1e-5, `${what}: reconstruction`);
  assertClose(a.error, b.error, 1e-5, `${what}: error`);
  const enc = blocked.encode(x, { chunkRows });
  assert.deepEqual(Array.from(enc.indices), Array.from(a.latents!.indices), `${what}: encode`);
}

for (const fx of FIXTURE_LIST) {
  test(`blocked forward equals the whole-matrix forward: ${fx.name} (${fx.architecture}, tiny blocks)`, async () => {
    await initBackend();
    const p = path.join(FIXTURES, fx.path);
    const ref = loadReference(fx.name);
    const whole = await loadSae(p, fx.options);
    try {
      for (const latentBlock of [1, 3, 7, ref.d_sae]) {
        const blocked = await openSae(p, { ...fx.options, blocked: true, latentBlock });
        assert.ok(blocked instanceof BlockedSae);
        try {
          assert.equal(blocked.blockPlan.blocks, Math.ceil(ref.d_sae / latentBlock));
          assertSameForward(blocked, whole, ref.x, `${fx.name}, ${latentBlock} latents per block`, 2);
          assertSameForward(blocked, whole, ref.x, `${fx.name} again (resident single block reused)`);
          assert.ok(blocked.allocator.peak <= blocked.allocator.budgetBytes);
        } finally {
          blocked.dispose();
        }
      }
    } finally {
      whole.dispose();
    }
  });
}

test("blocked forward reads a deflated Gemma Scope npz through spilled tiles, and equals the whole forward", async () => {
  await initBackend();
  const d = 12, n = 40, rows = 9;
  const W_enc = normals(d * n, 1), W_dec = normals(n * d, 2), b_enc = normals(n, 3).map((v) => v * 0.1);
  const threshold = normals(n, 4).map((v) => Math.abs(v) * 0.3), b_dec = normals(d, 5);
  const f32 = (shape: number[], data: Float32Array) => ({ dtype: "float32" as const, shape, data });
  const dir = tempDir("deflated");
  const file = path.join(dir, "params.npz");
  writeNpz(file, { W_enc: f32([d, n], W_enc), W_dec: f32([n, d], W_dec), b_enc: f32([n], b_enc), b_dec: f32([d], b_dec), threshold: f32([n], threshold) }, { compress: true });
  const x = normals(rows * d, 6);
  const whole = await loadSae(file);
  const blocked = await openSae(file, { blocked: true, latentBlock: 6 });
  try {
    assert.ok(blocked instanceof BlockedSae);
    assertSameForward(blocked, whole, x, "deflated npz", 4);
    assert.ok(blocked.forward(x).meanL0 > 0, "some latents fire");
  } finally {
    blocked.dispose();
    whole.dispose();
  }
});

test("openSae picks the whole-matrix SAE when the weights fit the budget and the blocked one otherwise", async () => {
  const p = path.join(FIXTURES, FIXTURE_LIST[0].path);
  const small = await openSae(p);
  assert.ok(small instanceof Sae);
  assert.equal(requireWholeSae(small, "pursuit"), small);
  small.dispose();
  const blocked = await openSae(p, { weightBudgetBytes: 64 * 1024 });
  try {
    assert.ok(blocked instanceof BlockedSae, "a budget below the weights' size runs blocked");
    assert.throws(() => requireWholeSae(blocked, "pursuit"), (e: unknown) => e instanceof InputError && /exceed the weight budget/.test(e.message));
  } finally {
    blocked.dispose();
  }
  assert.equal(runsBlocked(2304, 16384), false, "a 16k Gemma Scope SAE fits the default budget");
  assert.equal(runsBlocked(2304, 262144), true, "a 262k one does not");
});

test("the block plan never exceeds the budget, and refuses budgets too small for one latent", () => {
  for (const d_in of [16, 768, 2304, 4096]) {
    for (const d_sae of [1, 100, 16384, 262144, 1 << 20]) {
      for (const budget of [1 << 20, 64 << 20, 512 << 20, DEFAULT_WEIGHT_BUDGET]) {
        for (const k of [undefined, 64]) {
          let plan;
          try {
            plan = planBlocks({ d_in, d_sae, k, budgetBytes: budget });
          } catch (e) {
            assert.ok(e instanceof InputError && /cannot hold even one latent/.test(e.message), String(e));
            assert.ok(4 * (d_in + 5 * d_sae) + 8 * d_in + 4 > budget || (k ?? 0) * 8 + 4 * (d_in + 5 * d_sae) + 8 * d_in + 4 > budget);
            continue;
          }
          assert.ok(plan.bytes.total <= budget, `d_in ${d_in} d_sae ${d_sae} budget ${budget}: plan needs ${plan.bytes.total}`);
          assert.ok(plan.latentBlock >= 1 && plan.latentBlock <= d_sae && plan.chunkRows >= 1);
          assert.equal(plan.blocks, Math.ceil(d_sae / plan.latentBlock));
        }
      }
    }
  }
  const gemma = planBlocks({ d_in: 2304, d_sae: 262144, budgetBytes: DEFAULT_WEIGHT_BUDGET });
  assert.ok(gemma.blocks > 1 && gemma.chunkRows === 4096, JSON.stringify(gemma));
  assert.throws(() => planBlocks({ d_in: 2304, d_sae: 262144, budgetBytes: 1 << 20, latentBlock: 1 << 16 }), InputError);
});

test("the allocator refuses a buffer past the budget and records the peak", () => {
  const a = new BudgetAllocator(100, "test");
  const x = a.floats(20, "x");
  assert.equal(a.peak, 80);
  assert.throws(() => a.floats(6, "y"), (e: unknown) => e instanceof InputError && /exceed the weight budget/.test(e.message));
  a.release(x);
  a.ints(25, "z");
  assert.equal(a.liveBytes, 100);
  assert.equal(a.peak, 100);
});

test("the weight budget comes from the option, then the environment, then the 2 GiB default", () => {
  const old = process.env[WEIGHT_BUDGET_ENV];
  try {
    delete process.env[WEIGHT_BUDGET_ENV];
    assert.equal(weightBudgetBytes(), DEFAULT_WEIGHT_BUDGET);
    process.env[WEIGHT_BUDGET_ENV] = "512";
    assert.equal(weightBudgetBytes(), 512 * 1024 ** 2);
    assert.equal(weightBudgetBytes(1000), 1000);
    process.env[WEIGHT_BUDGET_ENV] = "lots";
    assert.throws(() => weightBudgetBytes(), InputError);
    assert.throws(() => weightBudgetBytes(0), InputError);
  } finally {
    if (old === undefined) delete process.env[WEIGHT_BUDGET_ENV]; else process.env[WEIGHT_BUDGET_ENV] = old;
  }
});

const ROOT = path.resolve(__dirname, "..", "..");
function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [path.join(ROOT, "bin", "darkmatter.js"), ...args], { encoding: "utf8", cwd: ROOT });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test("sae-forward and fit-error run an SAE wider than --weights-mb blocked, with the whole-matrix results", () => {
  const ref = loadReference("gemma-scope");
  const sae = path.join(FIXTURES, FIXTURE_LIST[0].path);
  const dir = tempDir("cli-blocked");
  const input = path.join(dir, "x.npy");
  // Enough rows for fit-error's split (d = 8): the reference rows repeated with a little noise.
  const reps = 12, noise = normals(reps * ref.x.length, 9);
  const x = Float32Array.from(noise, (v, i) => ref.x[i % ref.x.length] + 0.05 * v);
  writeNpy(input, { dtype: "float32", shape: [x.length / ref.d_in, ref.d_in], data: x });
  const runs = ["0.04", undefined].map((mb) => {
    const out = path.join(dir, `out-${mb ?? "whole"}`);
    const r = cli(["sae-forward", "--sae", sae, "--input", input, "--out", out, "--json", ...(mb ? ["--weights-mb", mb] : [])]);
    assert.equal(r.status, 0, r.stderr);
    const f = openTensorFile(path.join(out, "recon.npy"));
    try { return { summary: JSON.parse(r.stdout), recon: f.readFloat32(f.entries[0].name) }; } finally { f.close(); }
  });
  assert.ok(runs[0].summary.blocked && runs[0].summary.blocked.blocks > 1, JSON.stringify(runs[0].summary.blocked));
  assert.equal(runs[1].summary.blocked, false);
  assertClose(runs[0].recon, runs[1].recon, 1e-5, "blocked vs whole recon.npy");
  const fits = [["--weights-mb", "0.04"], []].map((extra) => {
    const r = cli(["fit-error", "--activations", input, "--sae", sae, "--bootstrap", "0", "--json", ...extra]);
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout);
  });
  for (const key of ["r2_mean_over_dims", "norm_r2", "fvu", "fvu_nonlinear"]) {
    assert.ok(Math.abs(fits[0][key].value - fits[1][key].value) <= 1e-5 * Math.max(1, Math.abs(fits[1][key].value)), key);
  }
});
