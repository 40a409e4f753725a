// Printed forms: every public object a notebook handles prints in at most 5 lines through util.inspect (what a tslab
// cell shows for its last value), starting with its type's name. Each case also checks that Node's own dump of the
// same object is long, so a type that lost its printed form (or a case that proves nothing) fails here.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as util from "util";
import { loadModel, run } from "../src/activations/run";
import { ActivationTable } from "../src/activations/table";
import { tf } from "../src/backend/index";
import { decomposeSaeError } from "../src/darkmatter/decomposition";
import { latentPages } from "../src/explore/index";
import { defaultFamily } from "../src/family/default-family";
import { errorComponents, trainFamily } from "../src/family/index";
import { toTensors } from "../src/lm/model";
import { arrayData, toSae, trainSae } from "../src/train/index";
import { toDataFrame } from "../src/viz/table";
import { tiny } from "./activations/tiny";
import { HOOKS, randomSae, tinyStore } from "./family/store";

const MAX_LINES = 5;

test("every public type a notebook handles prints in at most 5 lines, where Node's own dump is long", { timeout: 300_000 }, async () => {
  const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), "dm-inspect-"));
  process.env.DARKMATTER_ANALYSIS_CACHE = path.join(cacheDir, "analyses");
  const ts = await tinyStore();
  try {
    const store = ts.store, hook = HOOKS[1], t = tiny();
    // The project's model on two sentences, as notebook 11 starts.
    const model = loadModel();
    const ran = run(model, ["The Congress shall have power.", "We must work together for peace."], { hooks: ["blocks.3.hook_resid_post"] });
    const acts = ran.get("blocks.3.hook_resid_post");
    // An SAE on the tiny store, its forward pass, the decomposition and the error components.
    const sae = randomSae(store.d, 48, 8, 11, { hookName: hook, layer: 1 });
    const rows = ActivationTable.fromStore(store, hook, 0, 600, t.tokenizer);
    const out = sae.forward(rows), latents = sae.encode(rows);
    const dec = decomposeSaeError({ activations: rows, sae });
    const comps = errorComponents(rows.x, rows.rows, sae, dec.linearMap);
    const trained = await trainSae(arrayData(comps.nonlinear, store.d, "NonlinearError"), { nLatents: 32, k: 4, batchSize: 128, epochs: 1, seed: 0 });
    // A one-SAE family, and the DefaultFamily wrapper notebooks get from ensureDefaultFamily.
    const familyDir = path.join(cacheDir, "family");
    const summary = await trainFamily(store, { widths: [16], ks: [2], hooks: [hook], recipe: { tokens: 256, batchSize: 128, lrScale: 8 } }, familyDir);
    const family = defaultFamily("ci", { dir: familyDir, storeDir: store.dir, summary });
    const pages = await latentPages(sae, store, { model: { params: toTensors(t.weights), tokenizer: t.tokenizer } });
    const on = pages.latentsOn(rows, 3, 5);
    const tensor = tf.randomNormal([50, 40], 0, 1, "float32", 1);
    const variable = tf.variable(tf.zeros([64, 8]));

    // Each value with the start of its printed form (its type's name, where it has one).
    const cases: [unknown, RegExp][] = [
      [model, /^LanguageModel /], [ran, /^ModelRun: /], [acts, /^ActivationTable /], [store, /^ActivationStore /],
      [sae, /^Sae topk /], [out, /^ForwardResult /], [latents, /^SparseLatents /], [dec, /^Decomposition of SaeError/],
      [dec.fvu, /^[\d.]+ \[[\d.]+, [\d.]+\]$/], [dec.linearMap, /^LeastSquaresFit /], [comps, /^ErrorComponents /],
      [trained, /^TrainedSae /], [toSae(trained), /^Sae topk /], [family, /^DefaultFamily ci: 1 SAEs/], [summary, /^SAE family /],
      [summary.entries[0], /^FamilyEntry /], [pages, /^LatentPages /], [pages.stats, /^LatentStats /],
      [pages.card(on[0].latent), /^LatentCard /], [on, /^\d latents on /], [tensor, /^Tensor float32 \[50, 40\]/],
      [variable, /^Tensor float32 \[64, 8\] \(variable\)/], [toDataFrame(rows.records().slice(0, 20)), /^DataFrame 20 rows/],
    ];
    for (const [value, start] of cases) {
      const lines = util.inspect(value).split("\n");
      assert.match(lines[0], start);
      assert.ok(lines.length <= MAX_LINES, `${lines.length} lines:\n${lines.slice(0, 12).join("\n")}`);
      const raw = util.inspect(value, { customInspect: false }).split("\n").length;
      assert.ok(raw > MAX_LINES, `${start}: Node's own dump is already ${raw} lines, so this case checks nothing`);
    }
    tensor.dispose();
    variable.dispose();
  } finally {
    ts.cleanup();
    delete process.env.DARKMATTER_ANALYSIS_CACHE;
    fs.rmSync(cacheDir, { recursive: true, force: true });
  }
});
