// A child process for the fault-injection tests: builds a store, trains a family or caches decompositions into the
// folder given, and, when DM_KILL_AT="<pattern>:<n>" is set, SIGKILLs itself at the n-th rename whose source or
// target matches the pattern (the moment a finished file or entry would be published: the worst time to die).
import * as fs from "fs";
import * as path from "path";
import { buildActivationStore, openActivationStore } from "../../src/activations/index";
import { initBackend } from "../../src/backend/index";
import { trainFamily } from "../../src/family/family";
import { writeNpy } from "../../src/io/index";
import { openContext } from "../../src/pipeline/context";
import { decomposeFamily } from "../../src/pipeline/decompose-family";
import { tiny } from "../activations/tiny";
import { normals } from "../helpers/random";
import { featureSae } from "../pipeline/fixtures";

export const STORE_CONFIG = { hooks: ["blocks.0.hook_resid_post", "blocks.1.hook_mlp_out"], contexts: 12, ctx: 24, skip: 5, seed: 3, corpusPart: "all" as const, contextsPerChunk: 3 };
export const FAMILY = { widths: [32, 48], ks: [4], hooks: ["blocks.0.hook_resid_post"], recipe: { tokens: 2048, batchSize: 128 } };

const killAt = process.env.DM_KILL_AT;
if (killAt) {
  const [pattern, nth] = killAt.split(":");
  let seen = 0;
  const realFs = require("fs") as typeof fs;
  const rename = realFs.renameSync;
  realFs.renameSync = (from: fs.PathLike, to: fs.PathLike) => {
    if ((String(from) + String(to)).includes(pattern) && ++seen === Number(nth)) process.kill(process.pid, "SIGKILL");
    return rename(from, to);
  };
}

export function storeInputs() {
  const t = tiny();
  return { weights: t.weights, tokenizer: t.tokenizer, corpus: t.corpus };
}

/** The decomposition fixture: two feature SAEs and a .npy of activations under `dir`. */
export function decompositionData(dir: string): { saeDir: string; activations: string } {
  const saeDir = path.join(dir, "saes"), activations = path.join(dir, "acts.npy");
  if (!fs.existsSync(activations)) {
    featureSae(8, 16, 2, 4, "blocks.0.hook_resid_post", saeDir);
    featureSae(8, 32, 4, 6, "blocks.0.hook_resid_post", saeDir);
    writeNpy(activations, { dtype: "float32", shape: [600, 8], data: normals(4800, 11) });
  }
  return { saeDir, activations };
}

async function main(): Promise<void> {
  const [mode, out] = process.argv.slice(2);
  await initBackend();
  if (mode === "store") {
    buildActivationStore(storeInputs(), { root: out, config: STORE_CONFIG }).store?.close();
  } else if (mode === "family") {
    const built = buildActivationStore(storeInputs(), { root: path.join(out, "stores"), config: STORE_CONFIG });
    built.store!.close();
    const store = openActivationStore(built.dir);
    try { await trainFamily(store, FAMILY, path.join(out, "family")); } finally { store.close(); }
  } else if (mode === "decomposition") {
    const ctx = await openContext({ profile: "ci", ...decompositionData(out) });
    try {
      const ds = await decomposeFamily(ctx, { bootstrap: false });
      console.log(JSON.stringify(ds.map((d) => ({ width: d.sae.width, fvu: d.result.fvu.value, r2: d.result.vectorR2.value, l0: d.l0Empirical }))));
    } finally {
      ctx.close();
    }
  } else {
    throw new Error(`unknown mode ${mode}`);
  }
}

if (require.main === module) main().catch((e) => { console.error(e); process.exit(1); });
