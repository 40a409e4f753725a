import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { InputError } from "../../src/errors";
import {
  defaultFamilyPlan, FamilyRequest, FamilySummary, hookFolder, readFamilySummary, saeFolder, trainFamily, widthLabel,
} from "../../src/family";
import { loadSae, parseGemmaScopePath, parseWidth, saveSaeLens } from "../../src/sae";
import { HOOKS, randomSae, tinyStore, TinyStore } from "./store";

let env: TinyStore;
before(async () => { env = await tinyStore(); });
after(() => env.cleanup());

const RECIPE = { tokens: 1024, batchSize: 128, lrScale: 8 };
const GRID: FamilyRequest = { widths: [16, 32], ks: [2, 4], hooks: HOOKS, recipe: RECIPE };

/** A progress callback that counts training steps and records the saved/reused labels. */
function recorder(throwAfterSaves = Infinity) {
  const r = { steps: 0, saved: [] as string[], reused: [] as string[] };
  return {
    r,
    progress: (_done: number, _total: number, label: string) => {
      if (/: train SAE/.test(label)) r.steps++;
      if (label.startsWith("saved ")) {
        r.saved.push(label.slice(6));
        if (r.saved.length >= throwAfterSaves) throw new Error("interrupted");
      }
      if (label.startsWith("reused ")) r.reused.push(label.slice(7));
    },
  };
}

function mtimes(out: string, s: FamilySummary): number[] {
  return s.entries.map((e) => fs.statSync(path.join(out, e.folder, "sae_weights.safetensors")).mtimeMs);
}

describe("SAE families", () => {
  it("names widths as Gemma Scope does, in a form parseGemmaScopePath reads back", () => {
    assert.deepEqual([128, 1000, 1024, 4096, 8192, 16384, 65536, 2 ** 20, 3000].map(widthLabel),
      ["128", "1000", "1k", "4k", "8k", "16k", "65k", "1m", "3000"]);
    for (const w of [1, 17, 128, 1024, 8192, 2 ** 17, 2 ** 20, 2 ** 21, 6000]) assert.equal(parseWidth(widthLabel(w)), w);
    assert.deepEqual(hookFolder("blocks.3.hook_resid_post"), { layer: 3, folder: "layer_3" });
    assert.deepEqual(hookFolder("blocks.1.hook_mlp_out"), { layer: 1, folder: path.join("mlp_out", "layer_1") });
    const p = parseGemmaScopePath(path.join("/x", saeFolder("blocks.2.hook_resid_post", 2048, 16)));
    assert.deepEqual(p, { layer: 2, width: 2048, nominalL0: 16 });
    assert.throws(() => hookFolder("resid"), InputError);
  });

  it("trains a grid into Gemma Scope folders with SAELens files, records and a summary", async () => {
    const out = path.join(env.root, "fam-a");
    const rec = recorder();
    const s = await trainFamily(env.store, GRID, out, { progress: rec.progress });
    assert.equal(s.entries.length, 8);
    assert.equal(s.trained, 8);
    assert.equal(s.reused, 0);
    assert.equal(rec.r.saved.length, 8);
    assert.equal(rec.r.steps, 8 * 8, "8 SAEs × 1024/128 steps");
    for (const e of s.entries) {
      const dir = path.join(out, e.folder);
      for (const f of ["cfg.json", "sae_weights.safetensors", "train-config.json", "training-log.json"]) assert.ok(fs.existsSync(path.join(dir, f)), `${e.folder}/${f}`);
      const conv = parseGemmaScopePath(dir);
      assert.equal(conv.layer, Number(e.hook.split(".")[1]));
      assert.equal(conv.width, e.width);
      assert.equal(conv.nominalL0, e.k);
      assert.ok(e.l0 > 0 && e.l0 <= e.k, `TopK: at most k active per token (${e.l0})`);
      assert.ok(e.fvu > 0 && e.fvu < 1.5, `fvu ${e.fvu}`);
      assert.ok(e.deadFraction >= 0 && e.deadFraction <= 1);
      assert.equal(e.deadWindowTokens, 108);
      assert.equal(e.tokensSeen, 1024);
      assert.equal(e.reused, false);
      const sae = await loadSae(dir);
      try {
        assert.equal(sae.d_sae, e.width);
        assert.equal(sae.k, e.k);
        assert.equal(sae.metadata.hookName, e.hook);
        assert.equal(sae.metadata.width, e.width);
        assert.equal(sae.metadata.nominalL0, e.k);
        const t = sae.metadata.provenance.target as { target: string; rows: { store: { key: string } } };
        assert.equal(t.target, "x");
        assert.equal(t.rows.store.key, env.store.manifest.key);
      } finally {
        sae.dispose();
      }
      const record = JSON.parse(fs.readFileSync(path.join(dir, "train-config.json"), "utf8"));
      assert.equal(record.hash, e.hash);
      assert.equal(record.request.store.key, env.store.manifest.key);
      assert.equal(record.trainConfig.nLatents, e.width);
    }
    assert.deepEqual(s.entries.map((e) => e.folder), [
      "layer_0/width_16/average_l0_2", "layer_0/width_16/average_l0_4", "layer_0/width_32/average_l0_2", "layer_0/width_32/average_l0_4",
      "layer_1/width_16/average_l0_2", "layer_1/width_16/average_l0_4", "layer_1/width_32/average_l0_2", "layer_1/width_32/average_l0_4",
    ].map((f) => f.split("/").join(path.sep)));
    assert.deepEqual(readFamilySummary(out).entries, s.entries);
    const md = fs.readFileSync(path.join(out, "summary.md"), "utf8");
    assert.equal(md.split("\n").filter((l) => l.startsWith("| 0 |") || l.startsWith("| 1 |")).length, 8);

    // Rerunning reuses every SAE: no training step runs and no weights file is rewritten.
    const before = mtimes(out, s);
    const again = recorder();
    const s2 = await trainFamily(env.store, GRID, out, { progress: again.progress });
    assert.equal(s2.reused, 8);
    assert.equal(s2.trained, 0);
    assert.equal(again.r.steps, 0);
    assert.deepEqual(mtimes(out, s2), before);
    assert.deepEqual(s2.entries.map((e) => e.fvu), s.entries.map((e) => e.fvu));

    // A changed grid trains only what changed: width 32 → 64 retrains 4 SAEs and reuses the 4 of width 16.
    const changed = recorder();
    const s3 = await trainFamily(env.store, { ...GRID, widths: [16, 64] }, out, { progress: changed.progress });
    assert.equal(s3.trained, 4);
    assert.equal(s3.reused, 4);
    assert.ok(changed.r.saved.every((f) => f.includes("width_64")));
    assert.ok(s3.entries.filter((e) => e.reused).every((e) => e.width === 16));

    // A changed training setting retrains everything it affects …
    const seed = recorder();
    const s4 = await trainFamily(env.store, { ...GRID, widths: [16], hooks: [HOOKS[0]], recipe: { ...RECIPE, seed: 1 } }, out, { progress: seed.progress });
    assert.equal(s4.trained, 2);
    // … and a folder whose record does not match (here: tampered) is retrained, the others reused.
    const tampered = path.join(out, s.entries[7].folder, "train-config.json");
    fs.writeFileSync(tampered, fs.readFileSync(tampered, "utf8").replace(/"hash": "[0-9a-f]+"/, '"hash": "0"'));
    const s5 = await trainFamily(env.store, GRID, out);
    assert.deepEqual(s5.entries.filter((e) => !e.reused).map((e) => e.folder), [s.entries[7].folder, ...s.entries.filter((e) => e.hook === HOOKS[0] && e.width === 16).map((e) => e.folder)].sort());
  });

  it("an interrupted build resumes without retraining finished SAEs", async () => {
    const out = path.join(env.root, "fam-b");
    const grid = { ...GRID, hooks: [HOOKS[1]] };
    const first = recorder(1);
    await assert.rejects(trainFamily(env.store, grid, out, { progress: first.progress }), /interrupted/);
    assert.equal(first.r.saved.length, 1);
    assert.ok(!fs.existsSync(path.join(out, "summary.json")));
    const second = recorder();
    const s = await trainFamily(env.store, grid, out, { progress: second.progress });
    assert.deepEqual(second.r.reused, [first.r.saved[0]]);
    assert.equal(s.reused, 1);
    assert.equal(s.trained, 3);
    // The same numbers as an uninterrupted build: training is deterministic.
    const whole = await trainFamily(env.store, grid, path.join(env.root, "fam-c"));
    assert.deepEqual(s.entries.map((e) => e.fvu), whole.entries.map((e) => e.fvu));
  });

  it("trains on error components of a reference SAE and records target and reference", async () => {
    const refDir = path.join(env.root, "ref");
    const ref = randomSae(env.store.d, 32, 4, 21);
    saveSaeLens(ref, refDir);
    ref.dispose();
    const out = path.join(env.root, "fam-lin");
    const req: FamilyRequest = { widths: [16], ks: [2], hooks: [HOOKS[1]], target: "linear", references: { [HOOKS[1]]: refDir }, recipe: RECIPE };
    const s = await trainFamily(env.store, req, out);
    assert.equal(s.linearMaps[HOOKS[1]].intercept, true);
    const sae = await loadSae(path.join(out, s.entries[0].folder));
    try {
      const t = sae.metadata.provenance.target as { target: string; reference: { path: string; sha256: string }; linearMap: { intercept: boolean; fitOn: string } };
      assert.equal(t.target, "linear");
      assert.equal(t.reference.path, refDir);
      assert.match(t.reference.sha256, /^[0-9a-f]{64}$/);
      assert.deepEqual([t.linearMap.intercept, t.linearMap.fitOn], [true, "train"]);
    } finally {
      sae.dispose();
    }
    // The reference counts by content: the same SAE in another folder reuses; changing the linear-map options
    // retrains, and so does a different reference SAE.
    assert.equal((await trainFamily(env.store, req, out)).reused, 1);
    const moved = path.join(env.root, "ref-moved");
    fs.cpSync(refDir, moved, { recursive: true });
    assert.equal((await trainFamily(env.store, { ...req, references: { [HOOKS[1]]: moved } }, out)).reused, 1);
    assert.equal((await trainFamily(env.store, { ...req, linearMap: { intercept: false } }, out)).trained, 1);
    const ref2 = randomSae(env.store.d, 32, 4, 22);
    saveSaeLens(ref2, refDir);
    ref2.dispose();
    assert.equal((await trainFamily(env.store, { ...req, linearMap: { intercept: false } }, out)).trained, 1);
  });

  it("refuses bad grids with an InputError", async () => {
    const out = path.join(env.root, "bad");
    const bad: FamilyRequest[] = [
      { ...GRID, widths: [] }, { ...GRID, widths: [16, 16] }, { ...GRID, ks: [0] }, { ...GRID, ks: [20] },
      { ...GRID, hooks: ["blocks.5.hook_resid_post"] }, { ...GRID, target: "linear" },
      { ...GRID, references: { [HOOKS[0]]: "/nope" } }, { ...GRID, heldOutRows: 5000 },
      { ...GRID, recipe: { tokens: 0 } }, { ...GRID, recipe: { trainer: { lr: 1 } } },
    ];
    for (const req of bad) await assert.rejects(trainFamily(env.store, req, out), InputError, JSON.stringify(req));
  });

  it("plans the default family (full) and its reduced ci profile", () => {
    const full = defaultFamilyPlan("full", "/r"), ci = defaultFamilyPlan("ci", "/r");
    assert.deepEqual(full.request.widths, [128, 256, 512, 1024, 2048, 4096, 8192]);
    assert.deepEqual(full.request.ks, [8, 16, 32]);
    assert.deepEqual(full.store.hooks, ["blocks.2.hook_resid_post", "blocks.3.hook_resid_post"]);
    assert.deepEqual(ci.store.hooks, ["blocks.2.hook_resid_post", "blocks.3.hook_resid_post"]);
    assert.ok(ci.request.widths.every((w) => full.request.widths.includes(w)) && ci.request.widths.length === 3);
    assert.ok(ci.request.ks.length === 2 && ci.request.recipe!.tokens! < full.request.recipe!.tokens!);
    assert.notEqual(full.dir, ci.dir);
    assert.throws(() => defaultFamilyPlan("huge" as "ci"), InputError);
  });

  it("plans the JumpReLU default families on the same store, in their own folders; TopK plans name no architecture", () => {
    for (const profile of ["full", "ci", "paper"] as const) {
      const topk = defaultFamilyPlan(profile, "/r"), jr = defaultFamilyPlan(profile, "/r", "jumprelu");
      assert.equal(jr.request.recipe!.tokens, topk.request.recipe!.tokens, "the same training tokens per SAE as TopK");
      // Notebook 10's d128 JumpReLU SAEs (W/d 8, and W/d 1 outside ci) are this family's.
      for (const ratio of profile === "ci" ? [8] : [1, 8]) assert.ok(jr.request.widths.includes(128 * ratio), `${profile}: W/d ${ratio}`);
      assert.equal(topk.architecture, "topk");
      assert.equal(jr.architecture, "jumprelu");
      // TopK recipes stay as they were, so the cached TopK families keep their keys.
      assert.deepEqual(topk.request.recipe!.trainer, { deadWindowTokens: 65_536 });
      // Folders are named after the training code's fingerprint too (see defaultFamilyPlan).
      assert.match(topk.dir, new RegExp(`^${path.join("/r", `default-${profile}`)}-[0-9a-f]+$`));
      assert.equal(jr.request.recipe!.trainer!.architecture, "jumprelu");
      assert.match(jr.dir, new RegExp(`^${path.join("/r", `default-jumprelu-${profile}`)}-[0-9a-f]+$`));
      assert.deepEqual(jr.store, topk.store, "same activation store");
      assert.deepEqual(jr.request.ks, topk.request.ks, "target L0s are the TopK ks");
      assert.deepEqual(jr.request.hooks, topk.request.hooks);
      assert.ok(jr.request.widths.length >= 3 && jr.request.widths.length <= topk.request.widths.length);
    }
    assert.throws(() => defaultFamilyPlan("ci", "/r", "gated" as "topk"), InputError);
  });
});
