// What an SAE's location says about it: Gemma Scope's `layer_L/width_W/average_l0_K` folders, the release name
// (`gemma-scope-2b-pt-res`), and layer numbers inside hook names (`blocks.12.hook_resid_post`, `layers.10`).
import * as path from "path";
import { InputError } from "../errors";

export interface PathConvention {
  layer?: number;
  /** Latent count the folder name promises (width_16k → 16384). */
  width?: number;
  /** The nominal average L0 in the folder name (average_l0_58 → 58): a label, not a measurement. */
  nominalL0?: number;
  modelName?: string;
  hookName?: string;
}

/**
 * Parses a width label. Gemma Scope names powers of two by their leading decimal digits (16k = 16384, 65k = 65536,
 * 131k = 131072, 1m = 2^20), so "Nk" is the power of two in [N·1000, (N+1)·1000) and "Nm" the one in
 * [N·10^6, (N+1)·10^6); plain digits are exact. Undefined when the label names no width.
 */
export function parseWidth(label: string): number | undefined {
  const m = /^(\d+)([km]?)$/i.exec(label);
  if (!m) return undefined;
  const n = Number(m[1]);
  if (!Number.isSafeInteger(n) || n <= 0) return undefined;
  if (m[2] === "") return n;
  const unit = m[2].toLowerCase() === "k" ? 1e3 : 1e6;
  const p = 2 ** Math.ceil(Math.log2(n * unit));
  return p < (n + 1) * unit && Number.isSafeInteger(p) ? p : undefined;
}

const GEMMA_MODELS: Record<string, string> = { "2b": "gemma-2-2b", "9b": "gemma-2-9b", "27b": "gemma-2-27b" };

/**
 * Reads the Gemma Scope conventions out of any path: `.../gemma-scope-9b-pt-res/layer_20/width_16k/average_l0_58/params.npz`
 * gives layer 20, width 16384, nominal L0 58, model gemma-2-9b and hook blocks.20.hook_resid_post. Each part is
 * optional; a part that is present but malformed (width_abc) is an InputError rather than silently ignored.
 */
export function parseGemmaScopePath(p: string): PathConvention {
  const parts = path.resolve(p).split(path.sep);
  const out: PathConvention = {};
  let site: string | undefined;
  for (const part of parts) {
    let m: RegExpExecArray | null;
    if ((m = /^layer_(\d+)$/.exec(part))) out.layer = Number(m[1]);
    else if ((m = /^width_(.+)$/.exec(part))) {
      const w = parseWidth(m[1]);
      if (w === undefined) throw new InputError(p, `folder "${part}" does not name a width (expected e.g. width_16k, width_1m)`);
      out.width = w;
    } else if ((m = /^average_l0_(.+)$/.exec(part))) {
      const k = Number(m[1]);
      if (!/^\d+$/.test(m[1]) || !Number.isSafeInteger(k)) throw new InputError(p, `folder "${part}" does not name an average L0`);
      out.nominalL0 = k;
    } else if ((m = /^gemma-scope-(2b|9b|27b)-pt-(res|mlp|att)(?:-canonical)?$/.exec(part))) {
      out.modelName = GEMMA_MODELS[m[1]];
      site = m[2];
    }
  }
  if (site !== undefined && out.layer !== undefined) {
    out.hookName = site === "res" ? `blocks.${out.layer}.hook_resid_post`
      : site === "mlp" ? `blocks.${out.layer}.hook_mlp_out` : `blocks.${out.layer}.attn.hook_z`;
  }
  return out;
}

/** The block index inside a hook or module name: blocks.12.hook_resid_post → 12, model.layers.10 → 10, layers.3.mlp → 3. */
export function layerFromHookName(hook: string): number | undefined {
  const m = /(?:^|\.)(?:blocks|layers|layer|h)\.(\d+)(?:\.|$)/.exec(hook);
  return m ? Number(m[1]) : undefined;
}
