// Downstream cross-entropy of the error components (paper §3.9, v1 Figure 9) over an analysis context: splice
// Sae(x), Sae(x) + LinearError(x) and Sae(x) + NonlinearError(x) into the language model at the analysed hook, over
// the store's own positions (the first `skip` and the last are left as they are), for a width sweep at one L0 and an
// L0 sweep at one width, and compare each component's share of the SAE's CE increase with its share of the error.
import { downstreamCe, DownstreamCeResult } from "../darkmatter/downstream-ce";
import { HookName } from "../lm/hooks";
import { Progress, silentProgress } from "../progress";
import type { Claim } from "./claim";
import { openSae } from "../sae/index";
import type { CeSweep } from "../viz/figures/downstream-ce";
import { widthLabels } from "../viz/figures/common";
import { cached, contentFingerprint } from "./cache";
import { AnalysisContext } from "./context";
import { decomposeFamily, FAMILY_DECOMPOSITION } from "./decompose-family";
import { middleWidth, mostSharedL0, SaeEntry } from "./saes";

/** The SAEs of the paper's two sweeps: every width at one nominal L0, and every L0 at one width. */
export interface SaeSweeps {
  /** The nominal L0 of the width sweep: the one most widths share (ties: the smallest), as in widthScaling. */
  l0: number | null;
  /** The width of the L0 sweep: the middle one of the distinct widths. */
  width: number | null;
  byWidth: SaeEntry[];
  byL0: SaeEntry[];
}

/** Picks the two sweeps from a context's SAEs (`l0`/`width` override the defaults). */
export function saeSweeps(saes: readonly SaeEntry[], choice: { l0?: number; width?: number } = {}): SaeSweeps {
  if (saes.length === 0) return { l0: null, width: null, byWidth: [], byL0: [] };
  const l0 = choice.l0 ?? mostSharedL0(saes.map((s) => s.l0));
  const atL0 = saes.filter((s) => s.l0 === (l0 ?? undefined));
  const byWidth = [...new Map(atL0.sort((a, b) => a.width - b.width).map((s) => [s.width, s] as const)).values()];
  const width = choice.width ?? middleWidth(saes);
  const atWidth = saes.filter((s) => s.width === width && s.l0 !== undefined).sort((a, b) => (a.l0 as number) - (b.l0 as number));
  const byL0 = [...new Map(atWidth.map((s) => [s.l0, s] as const)).values()];
  return { l0, width, byWidth, byL0 };
}

export interface DownstreamCeOptions {
  /** Contexts of the store to splice into (default: 8 in the ci profile, 12 in full; the paper uses 300). */
  contexts?: number;
  /** The width sweep's nominal L0 and the L0 sweep's width (defaults: see saeSweeps). */
  l0?: number;
  width?: number;
  /** Contexts per forward pass (default 12). */
  batchSize?: number;
}

export interface DownstreamCeRun {
  sae: SaeEntry;
  result: DownstreamCeResult;
  /** Seconds the splice runs took when computed (a cached result keeps the original time). */
  seconds: number;
}

export interface DownstreamCeAnalysis {
  /** Why nothing was measured (no language model or no store), or null. */
  missing: string | null;
  hook: string | null;
  /** The store's contexts that were spliced (evenly spaced over all of them) and how many the store has. */
  contexts: number[];
  storeContexts: number;
  /** Spliced positions and evaluated loss indices, inclusive (the store's kept positions). */
  from: number;
  to: number;
  l0: number | null;
  width: number | null;
  /** One run per distinct SAE. */
  runs: DownstreamCeRun[];
  /** The figure's panels: the width sweep, then the L0 sweep (when there are several L0s). */
  sweeps: CeSweep[];
  /** What is smaller here than in the paper. */
  scaledDown: string;
}

const DEFAULT_CONTEXTS = { ci: 8, full: 12 } as const;

/** Why downstream CE cannot run on this context, or null when it can. */
export function downstreamCeMissing(ctx: AnalysisContext): string | null {
  if (!ctx.model) {
    return "downstream cross-entropy needs the language model, and these activations came without one (a tensor file or a " +
      "store folder was given). Set `model`, `tokenizer` and `text` instead of `activations`, so the store is built from the model.";
  }
  if (!ctx.store) return "downstream cross-entropy needs the activation store's token contexts; the activations came from a tensor file.";
  if (!ctx.hook) return "downstream cross-entropy needs to know the hook the activations come from; set `hook`.";
  if (ctx.model.params.config.dim !== ctx.d) return `the model's width ${ctx.model.params.config.dim} differs from the activations' d = ${ctx.d}`;
  return null;
}

/** `n` context indices evenly spaced over `total` (all of them when n ≥ total). */
export function spreadIndices(total: number, n: number): number[] {
  const k = Math.min(total, Math.max(1, Math.floor(n)));
  return Array.from({ length: k }, (_, i) => Math.floor((i * total) / k));
}

/**
 * §3.9 on a context: the width sweep at one L0 and the L0 sweep at one width (see saeSweeps), each SAE spliced into
 * the model with b* from decomposeFamily (shared with the other notebooks' cache). Cached per SAE.
 */
export async function downstreamCeSweeps(ctx: AnalysisContext, options: DownstreamCeOptions = {},
  progress: Progress = silentProgress): Promise<DownstreamCeAnalysis> {
  const sweeps = saeSweeps(ctx.saes, options);
  const want = options.contexts ?? DEFAULT_CONTEXTS[ctx.profile];
  const base = { hook: ctx.hook ?? null, l0: sweeps.l0, width: sweeps.width, runs: [], sweeps: [] };
  const missing = downstreamCeMissing(ctx);
  if (missing || !ctx.model || !ctx.store || !ctx.hook) {
    return { ...base, missing, contexts: [], storeContexts: 0, from: 0, to: 0, scaledDown: "" };
  }
  const { model, store } = ctx;
  const hook = ctx.hook as HookName;
  const { contexts: total, ctx: T } = store.manifest.config;
  const ids = spreadIndices(total, want);
  const from = store.manifest.positions.first, to = T - 2;
  const tokens = store.tokens();
  const contexts = ids.map((c) => tokens.subarray(c * T, (c + 1) * T));

  const distinct = [...new Map([...sweeps.byWidth, ...sweeps.byL0].map((s) => [s.path, s] as const)).values()];
  const settings = FAMILY_DECOMPOSITION; // the cached decomposition the other notebooks share: its b* is reused here
  const decomps = await decomposeFamily(ctx, { ...settings, saes: distinct }, progress);
  const runs: DownstreamCeRun[] = [];
  for (const [i, entry] of distinct.entries()) {
    progress(i, distinct.length, `downstream CE: width ${entry.width}, L0 ${entry.l0 ?? "?"}`);
    const linearMap = decomps[i].result.linearMap;
    const key = { sae: contentFingerprint(entry.path), activations: ctx.activationsKey, contexts: ids, from, to, decomposition: settings };
    const run = await cached("downstream-ce", key, async () => {
      const t0 = Date.now();
      const sae = await openSae(entry.path);
      try {
        const result = downstreamCe({
          params: model.params, contexts, hook, linearMap,
          reconstruct: (x) => sae.forward(x, { latents: false }).reconstruction,
        }, { from, to, batchSize: options.batchSize ?? 12 });
        return { result, seconds: (Date.now() - t0) / 1000 };
      } finally {
        sae.dispose();
      }
    }, __filename);
    runs.push({ sae: entry, ...run });
  }
  progress(distinct.length, distinct.length, "downstream CE done");

  const resultOf = (s: SaeEntry) => runs.find((r) => r.sae.path === s.path)!.result;
  const panels: CeSweep[] = [];
  if (sweeps.byWidth.length > 0) {
    const labels = widthLabels(sweeps.byWidth.map((s) => s.width));
    panels.push({ title: `Width sweep (L0 = ${sweeps.l0 ?? "?"})`, xTitle: "SAE width", points: sweeps.byWidth.map((s, i) => ({ label: labels[i], result: resultOf(s) })) });
  }
  if (sweeps.byL0.length > 1) {
    panels.push({ title: `L0 sweep (width ${sweeps.width})`, xTitle: "nominal L0", points: sweeps.byL0.map((s) => ({ label: String(s.l0), result: resultOf(s) })) });
  }
  return {
    ...base, missing: null, contexts: ids, storeContexts: total, from, to, runs, sweeps: panels,
    scaledDown: `${ids.length} of the store's ${total} contexts (the paper: 300 contexts of 1024 tokens), positions ${from}…${to} of ${T} ` +
      `(the paper: 200…1022 of 1024), ${ids.length * (to - from + 1)} evaluated tokens per SAE; b* fitted on the store's training split`,
  };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const pct = (x: number) => `${(100 * x).toFixed(1)} %`;
/** "Proportional": the CE share lies within this factor of the error share. */
export const PROPORTIONAL_FACTOR = 2;

/**
 * §3.9: NonlinearError's share of the SAE's CE increase is proportional to its share of the error, compared with the
 * variance share (R² percent recovered) and with the norm fraction. Holds when the median ratio over the SAEs lies
 * within a factor of PROPORTIONAL_FACTOR of 1.
 */
export function downstreamCeClaims(a: DownstreamCeAnalysis): Claim[] {
  const claims = [
    { claim: "Nonlinear error causes a proportional share of the downstream CE increase: splicing in Sae(x) + NonlinearError recovers about " +
        "its share of the error variance (R² percent recovered), within a factor of 2", share: (r: DownstreamCeResult) => r.errorShares.r2Recovered.nonlinear, what: "variance share" },
    { claim: "… and about its share of the error norm (‖NonlinearError‖/‖SaeError‖), within a factor of 2", share: (r: DownstreamCeResult) => r.errorShares.norm.nonlinear, what: "norm fraction" },
  ];
  if (a.missing || a.runs.length === 0) {
    return claims.map((c) => ({ claim: c.claim, measured: `not measured: ${a.missing ?? "no SAE to splice"}`, holds: null }));
  }
  return claims.map((c) => {
    const ratios = a.runs.map((r) => r.result.errorCeRecovered.nonlinear / c.share(r.result));
    const m = median(ratios);
    const ex = a.runs.reduce((best, r) => (r.sae.width === a.width && r.sae.l0 === a.l0 ? r : best), a.runs[0]);
    return {
      claim: c.claim,
      measured: `CE share / ${c.what}: median ${m.toFixed(2)} over ${a.runs.length} SAEs (range ${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}); ` +
        `e.g. width ${ex.sae.width}, L0 ${ex.sae.l0 ?? "?"}: ${pct(ex.result.errorCeRecovered.nonlinear)} of the CE gap vs ${pct(c.share(ex.result))} ${c.what}`,
      holds: Number.isFinite(m) ? m >= 1 / PROPORTIONAL_FACTOR && m <= PROPORTIONAL_FACTOR : null,
    };
  });
}

/** The headline numbers: per SAE, the CE shares and the error shares. */
export function downstreamCeNumbers(a: DownstreamCeAnalysis): Record<string, unknown> {
  return {
    contexts: a.contexts.length, from: a.from, to: a.to, l0: a.l0, width: a.width, missing: a.missing,
    perSae: a.runs.map((r) => ({
      width: r.sae.width, l0: r.sae.l0, ceClean: r.result.clean, ceSae: r.result.sae.ce,
      ceRecovered: r.result.errorCeRecovered, r2Recovered: r.result.errorShares.r2Recovered, norm: r.result.errorShares.norm,
    })),
  };
}
