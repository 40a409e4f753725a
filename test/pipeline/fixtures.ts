// What the pipeline tests share: planted feature SAEs, and analysis contexts over a test store and SAE folder.
import * as path from "node:path";
import { openActivationStore } from "../../src/activations/store";
import { openActivationSource } from "../../src/activations/sources";
import { toTensors } from "../../src/lm/index";
import { AnalysisContext, openContext } from "../../src/pipeline/context";
import { listSaes } from "../../src/pipeline/saes";
import { Sae, saveSaeLens } from "../../src/sae/index";
import { tiny } from "../activations/tiny";

/**
 * Saves a TopK SAE (d inputs, `width` latents, k) whose first `learned` latents read and write the feature
 * directions e_0…e_{learned−1}, under dest/layer_0/width_<width>/average_l0_<k>.
 */
export function featureSae(d: number, width: number, k: number, learned: number, hook: string, dest: string): void {
  const W_enc = new Float32Array(d * width), W_dec = new Float32Array(width * d);
  for (let j = 0; j < learned; j++) { W_enc[j * width + j] = 1; W_dec[j * d + j] = 1; }
  const sae = new Sae({
    architecture: "topk", d_in: d, d_sae: width, k, applyBDecToInput: true,
    weights: { W_enc, b_enc: new Float32Array(width), W_dec, b_dec: new Float32Array(d) }, metadata: { hookName: hook, layer: 0 },
  });
  saveSaeLens(sae, path.join(dest, "layer_0", `width_${width}`, `average_l0_${k}`));
  sae.dispose();
}

/** Runs `fn` on the context a notebook's parameters give (ci profile), closing it after. */
export async function withContext<T>(params: Parameters<typeof openContext>[0], fn: (ctx: AnalysisContext) => Promise<T>): Promise<T> {
  const ctx = await openContext({ profile: "ci", ...params });
  try { return await fn(ctx); } finally { ctx.close(); }
}

/** A context over a store built from the tiny test model (test/activations/tiny.ts), with that model or without one. */
export function tinyModelContext(storeDir: string, saeDir: string, hook: string, withModel: boolean): AnalysisContext {
  const src = openActivationSource(storeDir, hook);
  const store = openActivationStore(storeDir);
  const { saes, skipped } = listSaes(saeDir);
  const t = tiny();
  return {
    profile: "ci", saes: saes.filter((s) => s.hook === hook), skipped, hook, activations: src.source,
    activationsKey: `store ${store.manifest.key} ${hook}`, rows: src.source.rows, d: src.source.cols, store,
    model: withModel ? { params: toTensors(t.weights), tokenizer: t.tokenizer } : null,
    sources: { saes: saeDir, store: storeDir }, close: () => { src.close(); store.close(); },
  };
}
