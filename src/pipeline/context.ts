// What every notebook analyses, resolved from its one parameter cell: by default the project's own model, its
// activation store and SAE family; or a user's SAE folder (any format) with their activations (a store or a tensor
// file), or with a llama2.c model and a text file from which a store is built. Anything missing is one clear error.
import { buildActivationStore, DEFAULT_STORE_CONFIG, DEFAULT_STORE_ROOT, openActivationStore, ActivationStore, StoreConfig } from "../activations/index";
import { ensureDefaultFamily } from "../family/default-family";
import { openActivationSource } from "../activations/sources";
import { InputError } from "../errors";
import { RowSource } from "../linalg/rows";
import { loadDefaultModel, loadLlama2c, loadTokenizer, loadTextCorpus, toTensors, LanguageModel, TextTokenizer } from "../lm/index";
import { loadHfModelAndTokenizer } from "../lm/hf-model";
import { Progress, silentProgress } from "../progress";
import { contentFingerprint } from "./cache";
import { listSaes, SaeEntry } from "./saes";

export interface NotebookParameters {
  /** "full" (default), "ci" (a reduced configuration for tests) or "paper" (the full analyses on the paper-profile family). */
  profile?: "full" | "ci" | "paper";
  /** A folder of SAEs in any supported format (default: the project's own family). */
  saeDir?: string | null;
  /** Which of the project's own families to analyse when no saeDir is given: "topk" (default) or "jumprelu". */
  architecture?: "topk" | "jumprelu" | null;
  /** An activation store folder or a tensor file [tokens, d] (default: the project's own store). */
  activations?: string | null;
  /** The hook to analyse, e.g. "blocks.3.hook_resid_post" (default: the store's main hook). */
  hook?: string | null;
  /**
   * A llama2.c model, its tokenizer and a text file to build activations from (instead of `activations`); `model` may
   * also be a Hugging Face checkpoint folder (config.json + safetensors + tokenizer.json; `tokenizer` is then not needed).
   */
  model?: string | null;
  tokenizer?: string | null;
  text?: string | null;
}

export interface AnalysisContext {
  profile: "full" | "ci";
  /** SAEs at the analysed hook, sorted by width and L0; `skipped` lists unusable ones with the reason. */
  saes: SaeEntry[];
  skipped: { path: string; problem: string }[];
  hook: string | undefined;
  /** The activations at `hook`, streamed. */
  activations: RowSource;
  /** Identifies the activations' contents (store key and hook, or the tensor file's hash): part of every cache key. */
  activationsKey: string;
  rows: number;
  d: number;
  /** The store behind the activations (token ids, contexts, losses, other hooks), when there is one. */
  store: ActivationStore | null;
  /** The language model, when known (needed for downstream cross-entropy). */
  model: { params: LanguageModel; tokenizer: TextTokenizer } | null;
  /** Where everything came from, for the notebook's first table. */
  sources: Record<string, string>;
  close(): void;
}

/** The SAEs trained at `hook` (and those that do not say where they were trained). */
function pick(saes: SaeEntry[], hook: string | undefined, saeDir: string): SaeEntry[] {
  if (!hook) return saes;
  const picked = saes.filter((s) => s.hook === hook || (s.hook === undefined && s.layer === undefined));
  if (picked.length === 0) {
    const hooks = [...new Set(saes.map((s) => s.hook ?? `layer ${s.layer}`))];
    throw new InputError(saeDir, `has no SAE for ${hook} (its SAEs are for ${hooks.join(", ")}); set \`hook\` to one of those`);
  }
  return picked;
}

/** Resolves a notebook's parameters into what it analyses. */
export async function openContext(params: NotebookParameters, progress: Progress = silentProgress): Promise<AnalysisContext> {
  const familyProfile = params.profile ?? "full";
  const profile = familyProfile === "paper" ? "full" : familyProfile; // the analyses' sizes: paper runs them as full
  const user = params.saeDir || params.activations || params.model || params.text;
  const architecture = params.architecture ?? "topk"; // checked by defaultFamilyPlan
  if (!user) {
    // Built on first use, cached by config after.
    const family = await ensureDefaultFamily(familyProfile, { progress, architecture });
    const { weights, tokenizer } = loadDefaultModel();
    return fromStore(profile, family.storeDir, family.dir, params.hook ?? DEFAULT_STORE_CONFIG.hooks[0], { params: toTensors(weights), tokenizer },
      { activations: "the project's default store", saes: `the project's default ${architecture === "jumprelu" ? "JumpReLU" : "TopK"} SAE family`, model: "data/model/model.bin" });
  }
  if (params.architecture) throw new InputError("architecture", "picks one of the project's own families; with saeDir the folder's SAEs are analysed (leave it null)");
  if (!params.saeDir) throw new InputError("saeDir", "set it to a folder of SAEs (Gemma Scope, SAELens, sparsify or Llama Scope) to analyse your own activations");
  if (params.activations) {
    const src = openActivationSource(params.activations, params.hook ?? undefined);
    const { saes, skipped } = listSaes(params.saeDir);
    let store: ActivationStore | null = null;
    try {
      store = src.hook ? openActivationStore(params.activations) : null;
    } catch { /* a tensor file: no store */ }
    return {
      profile, saes: pick(saes, src.hook, params.saeDir), skipped, hook: src.hook, activations: src.source, rows: src.source.rows, d: src.source.cols,
      activationsKey: store ? `store ${store.manifest.key} ${src.hook}` : `file ${contentFingerprint(params.activations)}`,
      store, model: null, sources: { activations: params.activations, saes: params.saeDir },
      close: () => { src.close(); store?.close(); },
    };
  }
  const hf = params.model ? loadHfModelAndTokenizer(params.model) : null;
  if (!params.model || !(params.tokenizer || hf) || !params.text) {
    throw new InputError("activations", "set `activations` (a store folder or a .npy of [tokens, d]), or all of `model`, `tokenizer` and `text` to build one");
  }
  const weights = hf ? undefined : loadLlama2c(params.model);
  const tokenizer = hf ? hf.tokenizer : loadTokenizer(params.tokenizer!, weights!.config.vocabSize);
  const mc = hf ? hf.model.config : weights!.config;
  const hook = params.hook ?? `blocks.${Math.floor(mc.nLayers / 2)}.hook_resid_post`;
  const config: StoreConfig = {
    hooks: [hook], contexts: profile === "ci" ? 32 : 512, ctx: Math.min(256, mc.seqLen),
    skip: Math.min(50, Math.floor(Math.min(256, mc.seqLen) / 4)), seed: 42, corpusPart: "all", contextsPerChunk: 16,
  };
  const built = buildActivationStore({ weights, model: hf?.model, tokenizer, corpus: loadTextCorpus(params.text), modelFile: params.model,
    tokenizerFile: hf ? hf.tokenizer.file : params.tokenizer }, { root: DEFAULT_STORE_ROOT, config, progress });
  return fromStore(profile, built.dir, params.saeDir, hook, { params: hf ? hf.model : toTensors(weights!), tokenizer },
    { activations: `built from ${params.text}`, saes: params.saeDir, model: params.model });
}

function fromStore(profile: "full" | "ci", storeDir: string, saeDir: string, hook: string,
  model: AnalysisContext["model"], sources: Record<string, string>): AnalysisContext {
  const src = openActivationSource(storeDir, hook);
  const store = openActivationStore(storeDir);
  const { saes, skipped } = listSaes(saeDir);
  return {
    profile, saes: pick(saes, hook, saeDir), skipped, hook, activations: src.source, rows: src.source.rows, d: src.source.cols, store, model,
    activationsKey: `store ${store.manifest.key} ${hook}`,
    sources: { ...sources, store: storeDir },
    close: () => { src.close(); store.close(); },
  };
}

/** What a context holds, as table rows for the notebook's opening table. */
export function contextRows(ctx: AnalysisContext): { item: string; value: string }[] {
  const widths = [...new Set(ctx.saes.map((s) => s.width))].sort((a, b) => a - b);
  const l0s = [...new Set(ctx.saes.map((s) => s.l0).filter((k): k is number => k !== undefined))].sort((a, b) => a - b);
  return [
    ...Object.entries(ctx.sources).map(([item, value]) => ({ item, value })),
    { item: "hook", value: ctx.hook ?? "(not recorded)" },
    { item: "tokens × d", value: `${ctx.rows.toLocaleString("en-US")} × ${ctx.d}` },
    { item: "SAEs", value: `${ctx.saes.length} (widths ${widths.join(", ")}; nominal L0 ${l0s.join(", ") || "unknown"})` },
    ...ctx.skipped.map((s) => ({ item: "skipped SAE", value: s.problem })),
  ];
}
