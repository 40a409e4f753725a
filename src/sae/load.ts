// One entry point for SAE files: the format is recognised from the files present (never guessed from a name alone),
// then the format's planner checks config and shapes and the plan is materialised.
import * as fs from "fs";
import * as path from "path";
import { initBackend } from "../backend/index";
import { InputError } from "../errors";
import { Sae, SaeFormat, summarizeThreshold } from "./model";
import { GEMMA_SCOPE_FILE, planGemmaScope } from "./formats/gemma-scope";
import { LLAMA_SCOPE_CONFIG, LLAMA_SCOPE_WEIGHTS, planLlamaScope } from "./formats/llama-scope";
import { SaePlan, closePlan, materialize, readPlannedWeight } from "./formats/plan";
import { SAELENS_CONFIG, SAELENS_WEIGHTS, SaeLensOptions, planSaeLens } from "./formats/saelens";
import { SPARSIFY_CONFIG, SPARSIFY_WEIGHTS, planSparsify } from "./formats/sparsify";

export interface LoadSaeOptions extends SaeLensOptions {
  /** Llama Scope threshold convention (see LlamaScopeOptions.scaleThreshold). */
  llamaScopeScaleThreshold?: boolean;
  /** In a folder holding one SAE per hookpoint (a sparsify run): which hookpoint to load. */
  hookpoint?: string;
}

export interface SaeLocation {
  format: Exclude<SaeFormat, "memory">;
  /** The SAE's folder, or its file for Gemma Scope npz files. */
  path: string;
}

const isFile = (p: string) => fs.existsSync(p) && fs.statSync(p).isFile();

function detectInFolder(dir: string): SaeLocation | undefined {
  const has = (f: string) => isFile(path.join(dir, f));
  if (has(SAELENS_CONFIG) && has(SAELENS_WEIGHTS)) return { format: "saelens", path: dir };
  if (has(SPARSIFY_CONFIG) && has(SPARSIFY_WEIGHTS)) return { format: "sparsify", path: dir };
  if (has(LLAMA_SCOPE_CONFIG) && has(LLAMA_SCOPE_WEIGHTS)) return { format: "llama-scope", path: dir };
  if (has(GEMMA_SCOPE_FILE)) return { format: "gemma-scope", path: path.join(dir, GEMMA_SCOPE_FILE) };
  return undefined;
}

/**
 * Where the SAE at `p` is and in which format, or undefined when `p` holds no SAE. `p` may be an SAE folder, one of
 * its files (cfg.json, sae_weights.safetensors, sae.safetensors, hyperparams.json, checkpoints/final.safetensors),
 * any .npz (Gemma Scope), or a folder with one SAE per hookpoint subfolder (pick one with `hookpoint`).
 */
export function detectSae(p: string, options: { hookpoint?: string } = {}): SaeLocation | undefined {
  if (!fs.existsSync(p)) throw new InputError(p, "does not exist");
  const abs = path.resolve(p);
  if (fs.statSync(abs).isFile()) {
    const base = path.basename(abs);
    if (/\.npz$/i.test(base)) return { format: "gemma-scope", path: abs };
    if (base === "final.safetensors" && path.basename(path.dirname(abs)) === "checkpoints") return detectInFolder(path.dirname(path.dirname(abs)));
    if ([SAELENS_CONFIG, SAELENS_WEIGHTS, SPARSIFY_WEIGHTS, LLAMA_SCOPE_CONFIG].includes(base)) return detectInFolder(path.dirname(abs));
    return undefined;
  }
  if (options.hookpoint !== undefined) {
    const sub = path.join(abs, options.hookpoint);
    const found = fs.existsSync(sub) ? detectInFolder(sub) : undefined;
    if (!found) throw new InputError(abs, `has no SAE for hookpoint "${options.hookpoint}"`);
    return found;
  }
  const here = detectInFolder(abs);
  if (here) return here;
  // A training run's folder: one SAE per hookpoint subfolder.
  const subs = fs.readdirSync(abs, { withFileTypes: true }).filter((e) => e.isDirectory())
    .map((e) => ({ name: e.name, found: detectInFolder(path.join(abs, e.name)) }))
    .filter((s) => s.found !== undefined);
  if (subs.length === 1) return subs[0].found;
  if (subs.length > 1) {
    throw new InputError(abs, `holds SAEs for several hookpoints (${subs.map((s) => s.name).join(", ")}); choose one with hookpoint`);
  }
  return undefined;
}

/** Reads config and tensor headers and checks every shape, without reading weight data. Close with `closePlan`. */
export function planSae(p: string, options: LoadSaeOptions = {}): SaePlan {
  const loc = detectSae(p, options);
  if (!loc) {
    throw new InputError(p, "is not a recognised SAE (expected cfg.json + sae_weights.safetensors (SAELens), cfg.json + " +
      "sae.safetensors (sparsify), hyperparams.json + checkpoints/final.safetensors (Llama Scope) or params.npz (Gemma Scope))");
  }
  switch (loc.format) {
    case "gemma-scope": return planGemmaScope(loc.path);
    case "saelens": return planSaeLens(loc.path, options);
    case "sparsify": return planSparsify(loc.path);
    case "llama-scope": return planLlamaScope(loc.path, { scaleThreshold: options.llamaScopeScaleThreshold });
  }
}

/** Loads an SAE in any supported format (initialising the default backend if none was chosen). */
export async function loadSae(p: string, options: LoadSaeOptions = {}): Promise<Sae> {
  await initBackend();
  const plan = planSae(p, options);
  try {
    return materialize(plan);
  } finally {
    closePlan(plan);
  }
}

/** What `inspect` prints for an SAE: format, sizes, k / threshold statistics, metadata and the stored tensors. */
export function describeSae(p: string, options: LoadSaeOptions = {}): Record<string, unknown> {
  const plan = planSae(p, options);
  try {
    const out: Record<string, unknown> = {
      kind: "sae", format: plan.metadata.format, architecture: plan.architecture, d_in: plan.d_in, d_sae: plan.d_sae,
      apply_b_dec_to_input: plan.applyBDecToInput,
    };
    if (plan.k !== undefined) out.k = plan.k;
    if (plan.weights.threshold) out.threshold = summarizeThreshold(readPlannedWeight(plan.weights.threshold));
    const { provenance, format: _format, ...meta } = plan.metadata;
    out.metadata = meta;
    if (provenance) out.provenance = provenance;
    out.files = plan.files.map((f) => ({ path: f.path, format: f.format, tensors: f.entries }));
    return out;
  } finally {
    closePlan(plan);
  }
}
