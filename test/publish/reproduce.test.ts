// `darkmatter reproduce` as a user runs it: the project's own report (ci profile, one notebook) and a report on a
// user's SAELens folder with a .npy of activations. Neither leaves a path of this machine or an oversized notebook,
// and every notebook is publishable (see published.ts). Bad parameters fail before any notebook starts.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { openActivationStore } from "../../src/activations/index";
import { projectRoot } from "../../src/backend/native";
import { initBackend } from "../../src/backend/index";
import { InputError } from "../../src/errors";
import { ensureDefaultFamily } from "../../src/family/default-family";
import { writeNpy } from "../../src/io/index";
import { userParameters } from "../../src/publish/user-data";
import { loadSae, saveSaeLens } from "../../src/sae/index";
import { assertPublishable, machinePaths, MAX_NOTEBOOK_BYTES } from "./published";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "dm-reproduce-"));

function darkmatter(args: string[], cwd = projectRoot) {
  return spawnSync(process.execPath, [path.join(projectRoot, "bin", "darkmatter.js"), ...args], { cwd, encoding: "utf8", timeout: 1_500_000 });
}

function filesUnder(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => e.isDirectory() ? filesUnder(path.join(dir, e.name)) : [path.join(dir, e.name)]);
}

/** Every file of a report: no machine path, no notebook over the size target, every notebook publishable. */
async function checkReport(dir: string): Promise<string[]> {
  for (const f of filesUnder(dir)) {
    assert.deepEqual(machinePaths(fs.readFileSync(f, "utf8")), [], `${path.relative(dir, f)} holds a path of this machine`);
    if (f.endsWith(".ipynb")) assert.ok(fs.statSync(f).size <= MAX_NOTEBOOK_BYTES, `${f}: ${fs.statSync(f).size} bytes`);
  }
  const notebooks = filesUnder(dir).filter((f) => f.endsWith(".ipynb"));
  for (const nb of notebooks) await assertPublishable(nb, nb.replace(/\.ipynb$/, ".html"));
  for (const f of ["index.html", "summary.json"]) assert.ok(fs.existsSync(path.join(dir, f)), `${f} is missing`);
  return notebooks;
}

test("bad user parameters are clear errors before any notebook starts", () => {
  fs.mkdirSync(path.join(tmp, "empty"), { recursive: true });
  fs.writeFileSync(path.join(tmp, "acts.npy"), "not a npy");
  assert.throws(() => userParameters({ saeDir: "missing-dir", activations: "x.npy" }, tmp), (e: unknown) => e instanceof InputError && /--sae-dir missing-dir: not found/.test(e.message));
  assert.throws(() => userParameters({ saeDir: "empty" }, tmp), /needs activations/);
  assert.throws(() => userParameters({ saeDir: "empty", activations: "acts.npy", model: "acts.npy" }, tmp), /not both/);
  assert.throws(() => userParameters({ saeDir: "acts.npy", activations: "acts.npy" }, tmp), /expected a folder of SAEs/);
  assert.throws(() => userParameters({ saeDir: "empty", activations: "acts.npy" }, tmp), /holds no SAE/);
  const r = darkmatter(["reproduce", "--sae-dir", path.join(tmp, "empty"), "--activations", path.join(tmp, "acts.npy"), "--out", path.join(tmp, "never")]);
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /holds no SAE/);
  assert.ok(!fs.existsSync(path.join(tmp, "never")), "a report folder was started");
});

test("reproduce --profile ci --only 03: TopK and JumpReLU reports, no machine path, no notebook over 2.5 MB, publishable", { timeout: 1_800_000 }, async () => {
  const out = path.join(tmp, "ci-03");
  const r = darkmatter(["reproduce", "--profile", "ci", "--only", "03", "--out", out]);
  assert.equal(r.status, 0, r.stderr + r.stdout);
  const notebooks = await checkReport(out);
  assert.deepEqual(notebooks.map((f) => path.relative(out, f)).sort(), ["03-width-scaling.ipynb", path.join("jumprelu", "03-width-scaling.ipynb")]);
  // The JumpReLU run analyses the JumpReLU family and records its own claims next to TopK's.
  const jump = fs.readFileSync(path.join(out, "jumprelu", "03-width-scaling.ipynb"), "utf8");
  assert.match(jump, /default JumpReLU SAE family/);
  const summary = JSON.parse(fs.readFileSync(path.join(out, "summary.json"), "utf8")) as { headline: Record<string, { claims: unknown[] }>; notebooks: { notebook: string }[] };
  assert.deepEqual(Object.keys(summary.headline).sort(), ["03-width-scaling", "jumprelu/03-width-scaling"]);
  assert.ok(summary.headline["jumprelu/03-width-scaling"].claims.length > 0);
  assert.deepEqual(summary.notebooks.map((n) => n.notebook), ["03-width-scaling.ipynb", "jumprelu/03-width-scaling.ipynb"]);
  const topkOnly = darkmatter(["reproduce", "--profile", "ci", "--only", "03", "--topk-only", "--out", path.join(tmp, "ci-03-topk")]);
  assert.equal(topkOnly.status, 0, topkOnly.stderr + topkOnly.stdout);
  assert.ok(!fs.existsSync(path.join(tmp, "ci-03-topk", "jumprelu")), "--topk-only still ran the JumpReLU family");
});

test("reproduce --sae-dir (SAELens) --activations X.npy --only 02 runs on the user's files", { timeout: 1_800_000 }, async () => {
  await initBackend();
  const family = await ensureDefaultFamily("ci");
  const user = path.join(tmp, "user");
  for (const width of ["width_128", "width_1k"]) for (const l0 of ["average_l0_8", "average_l0_32"]) {
    const sae = await loadSae(path.join(family.dir, "layer_3", width, l0));
    saveSaeLens(sae, path.join(user, "my-saes", `${width}_${l0}`));
    sae.dispose();
  }
  const store = openActivationStore(family.storeDir);
  try {
    const rows = store.readRows("blocks.3.hook_resid_post", 0, 6000);
    writeNpy(path.join(user, "my-acts.npy"), { dtype: "float32", shape: [6000, store.d], data: rows.x });
  } finally {
    store.close();
  }
  // Relative paths, from the user's own folder, as a user types them.
  const r = darkmatter(["reproduce", "--profile", "ci", "--sae-dir", "my-saes", "--activations", "my-acts.npy", "--only", "02", "--out", "report"], user);
  assert.equal(r.status, 0, r.stderr + r.stdout);
  const out = path.join(user, "report");
  const notebooks = await checkReport(out);
  assert.deepEqual(notebooks.map((f) => path.basename(f)), ["02-linear-predictability.ipynb"]);
  const nb = fs.readFileSync(notebooks[0], "utf8");
  assert.match(nb, /my-acts\.npy/, "the notebook does not show the user's activations");
  assert.match(nb, /my-saes/, "the notebook does not show the user's SAE folder");
  assert.doesNotMatch(nb, /"output_type": "error"/);
  for (const f of filesUnder(out)) assert.ok(!fs.readFileSync(f, "utf8").includes(tmp), `${f} names the user's temp folder`);
  const summary = JSON.parse(fs.readFileSync(path.join(out, "summary.json"), "utf8"));
  assert.equal(summary.data.saeDir, "my-saes");
  assert.ok(summary.headline["02-linear-predictability"], "the claims of notebook 02 are in summary.json");
});
