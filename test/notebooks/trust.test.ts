// Notebook 02 on a badly matched SAE shows the sanity warnings in its output (a visible box naming each SAE with the
// likely cause); and a notebook run SIGKILLed mid-analysis, then run again, shows what an uninterrupted run shows.
import { before, test } from "node:test";
import * as assert from "node:assert/strict";
import { spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { initBackend } from "../../src/backend/index";
import { writeNpy } from "../../src/io/index";
import { executeNotebook, jupyterEnv, KERNEL_NAME, withParameters } from "../../src/publish/jupyter";
import { Sae, saveGemmaScope } from "../../src/sae/index";
import { normals } from "../helpers/random";

const root = path.resolve(__dirname, "..", "..");
const notebook = path.join(root, "notebooks", "02-linear-predictability.ipynb");
const work = fs.mkdtempSync(path.join(os.tmpdir(), "dm-trust-nb-"));
let params: Record<string, string>;

before(async () => {
  await initBackend();
  // Gemma-Scope-shaped JumpReLU SAEs labelled L0 4 whose encoders fire on about half their latents and whose
  // decoders are far too large for these activations: the mismatch the warnings exist for.
  const d = 16;
  for (const [i, width] of [64, 128].entries()) {
    const sae = new Sae({ architecture: "jumprelu", d_in: d, d_sae: width, applyBDecToInput: false, weights: {
      W_enc: normals(d * width, 10 + i), W_dec: normals(width * d, 20 + i), b_enc: new Float32Array(width), b_dec: new Float32Array(d),
      threshold: new Float32Array(width).fill(0.01) } });
    saveGemmaScope(sae, path.join(work, "saes", "layer_0", `width_${width}`, "average_l0_4"));
    sae.dispose();
  }
  writeNpy(path.join(work, "acts.npy"), { dtype: "float32", shape: [3000, d], data: normals(3000 * d, 5) });
  params = { saeDir: path.join(work, "saes"), activations: path.join(work, "acts.npy") };
});

type Output = { output_type: string; data?: Record<string, string | string[]> };
/** The HTML outputs that carry results (tables and warning boxes; not progress bars, the backend line or charts). */
function resultOutputs(executed: string): string[] {
  const nb = JSON.parse(fs.readFileSync(executed, "utf8")) as { cells: { outputs?: Output[] }[] };
  return nb.cells.flatMap((c) => (c.outputs ?? []).map((o) => [o.data?.["text/html"] ?? ""].flat().join("")))
    .filter((h) => (h.includes("<table") || h.includes("dm-warnings")) && !h.includes("dm-progress") && !h.includes("Backend:"));
}

const run = (out: string, cache: string) => executeNotebook(notebook, out, {
  env: { DARKMATTER_PROFILE: "ci", DARKMATTER_ANALYSIS_CACHE: cache }, parameters: params, cellTimeoutS: 900 });

test("notebook 02 on a badly matched SAE shows the sanity warnings, each naming the SAE with a likely cause", { timeout: 1_800_000 }, async () => {
  const executed = await run(path.join(work, "whole"), path.join(work, "cache-whole"));
  const boxes = resultOutputs(executed).filter((h) => h.includes("dm-warnings"));
  assert.equal(boxes.length, 1, "one warning box above the table");
  // The published notebook names the user's SAE folder by its name, not by this machine's path.
  assert.ok(!boxes[0].includes(work), "the warning box shows this machine's path");
  for (const width of [64, 128]) {
    const sae = path.join("saes", "layer_0", `width_${width}`, "average_l0_4");
    assert.ok(boxes[0].includes(`SAE ${sae}`), `no warning names ${sae}`);
  }
  assert.match(boxes[0], /FVU [\d.e+]+ &gt; 1/);
  assert.match(boxes[0], /measured L0 [\d.]+ is [\d.]+× the nominal 4/);
  assert.match(boxes[0], /its reconstructions have mean norm/);
  assert.match(boxes[0], /likely cause: .*(wrong hook or layer|not scaled)/);
});

/** The processes descending from `pid` (the kernel a jupyter process started), read from /proc. */
function descendants(pid: number): number[] {
  const parent = new Map<number, number>();
  for (const p of fs.readdirSync("/proc").filter((n) => /^\d+$/.test(n))) {
    try {
      const stat = fs.readFileSync(`/proc/${p}/stat`, "utf8");
      parent.set(Number(p), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
    } catch { /* exited */ }
  }
  const out: number[] = [];
  for (let frontier = [pid]; frontier.length;) {
    const next = [...parent].filter(([, pp]) => frontier.includes(pp)).map(([p]) => p);
    out.push(...next);
    frontier = next;
  }
  return out;
}

test("a notebook run SIGKILLed mid-analysis, then run again, shows what an uninterrupted run shows", { timeout: 1_800_000, skip: process.platform !== "linux" }, async () => {
  const whole = path.join(work, "whole", path.basename(notebook));
  if (!fs.existsSync(whole)) await run(path.join(work, "whole"), path.join(work, "cache-whole"));
  const cache = path.join(work, "cache-killed"), out = path.join(work, "killed");
  fs.mkdirSync(out, { recursive: true });
  const input = withParameters(notebook, params, path.join(out, "input.ipynb"));
  const jupyter = spawn("jupyter", ["nbconvert", "--to", "notebook", "--execute", `--ExecutePreprocessor.kernel_name=${KERNEL_NAME}`,
    "--output-dir", out, "--output", "partial.ipynb", input], { env: jupyterEnv({ DARKMATTER_PROFILE: "ci", DARKMATTER_ANALYSIS_CACHE: cache }), stdio: "ignore" });
  const exited = new Promise<void>((resolve) => jupyter.on("exit", () => resolve()));
  // Kill the kernel and jupyter as soon as the first SAE's decomposition is cached (the second is being computed).
  const entries = () => { try { return fs.readdirSync(path.join(cache, "decomposition")).filter((n) => !n.startsWith(".") && !n.endsWith(".lock")); } catch { return []; } };
  let killed = false;
  for (const started = Date.now(); Date.now() - started < 900_000 && jupyter.exitCode === null;) {
    if (entries().length >= 1) {
      for (const p of [...descendants(jupyter.pid!), jupyter.pid!]) { try { process.kill(p, "SIGKILL"); } catch { /* gone */ } }
      killed = true;
      break;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  await exited;
  assert.ok(killed, "the run ended before it could be killed");
  assert.ok(!fs.existsSync(path.join(out, "partial.ipynb")));
  assert.equal(entries().length, 1, "the kill came after the second decomposition was cached");
  const rerun = await run(out, cache);
  assert.equal(entries().length, 2);
  assert.deepEqual(resultOutputs(rerun), resultOutputs(whole));
});
