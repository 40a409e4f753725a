// Finding the SAEs in a folder tree (a family, a Gemma Scope download, a folder of SAELens/sparsify/Llama Scope SAEs)
// and describing each by what its path and config say: layer, width, nominal L0.
import * as fs from "fs";
import * as path from "path";
import { InputError } from "../errors";
import { detectSae, describeSae } from "../sae/index";

export interface SaeEntry {
  /** What loadSae takes. */
  path: string;
  format: string;
  /** Latents (from the folder name, else the weights). */
  width: number;
  /** Nominal L0 (Gemma Scope folder name, or k of a TopK SAE); undefined when neither says. */
  l0: number | undefined;
  layer: number | undefined;
  hook: string | undefined;
}

export interface SaeListing {
  saes: SaeEntry[];
  /** SAEs that were found but cannot be used as they are, each with the reason (e.g. a missing scaling factor). */
  skipped: { path: string; problem: string }[];
}

/** Every SAE under `dir` (depth ≤ 8), sorted by layer, width and L0. Throws InputError when none is usable. */
export function listSaes(dir: string): SaeListing {
  if (!fs.existsSync(dir)) throw new InputError(dir, "SAE folder does not exist");
  const found: SaeEntry[] = [];
  const skipped: SaeListing["skipped"] = [];
  const visit = (p: string, depth: number) => {
    let loc;
    try {
      loc = detectSae(p);
    } catch (e) {
      if (!(e instanceof InputError)) throw e; // a folder of several SAEs: descend and list each one
    }
    if (loc) {
      try {
        found.push(describeEntry(loc.path, loc.format));
      } catch (e) {
        if (!(e instanceof InputError)) throw e;
        skipped.push({ path: loc.path, problem: e.message });
      }
      return;
    }
    if (depth >= 8 || !fs.statSync(p).isDirectory()) return;
    for (const e of fs.readdirSync(p, { withFileTypes: true })) {
      if (e.isDirectory() && !e.name.startsWith(".")) visit(path.join(p, e.name), depth + 1);
    }
  };
  visit(path.resolve(dir), 0);
  if (found.length === 0) {
    if (skipped.length) throw new InputError(dir, `holds no usable SAE: ${skipped.map((s) => s.problem).join("; ")}`);
    throw new InputError(dir, "holds no SAE (looked for SAELens cfg.json + sae_weights.safetensors, Gemma Scope params.npz, " +
      "sparsify cfg.json + sae.safetensors, Llama Scope hyperparams.json + checkpoints/final.safetensors)");
  }
  const key = (e: SaeEntry) => [e.layer ?? -1, e.width, e.l0 ?? -1];
  found.sort((a, b) => {
    const ka = key(a), kb = key(b);
    return ka[0] - kb[0] || ka[1] - kb[1] || ka[2] - kb[2];
  });
  return { saes: found, skipped };
}

function describeEntry(p: string, format: string): SaeEntry {
  // describeSae reads configs and tensor headers only; its metadata already merges path conventions and config.
  const d = describeSae(p) as { d_sae: number; k?: number | null; metadata?: { width?: number; nominalL0?: number; layer?: number; hookName?: string } };
  const m = d.metadata ?? {};
  return {
    path: p, format,
    width: m.width ?? d.d_sae,
    l0: m.nominalL0 ?? (typeof d.k === "number" ? d.k : undefined),
    layer: m.layer,
    hook: m.hookName,
  };
}

/**
 * The nominal L0 shared by the most SAEs (ties: the smallest), or null when none states one: the L0 at which the
 * width sweeps of every notebook compare SAEs, so they all pick the same SAEs.
 */
export function mostSharedL0(l0s: readonly (number | undefined)[]): number | null {
  const counts = new Map<number, number>();
  for (const l0 of l0s) if (l0 !== undefined) counts.set(l0, (counts.get(l0) ?? 0) + 1);
  return [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0] - b[0])[0]?.[0] ?? null;
}

/** The middle one of the SAEs' distinct widths (the lower middle for an even count). */
export function middleWidth(saes: readonly SaeEntry[]): number {
  const widths = [...new Set(saes.map((s) => s.width))].sort((a, b) => a - b);
  return widths[Math.floor((widths.length - 1) / 2)];
}
