// Each analysis notebook's recorded headline (the numbers and claims it writes for reports/summary.json), read back
// from the ci run of notebooks.test.ts: every number is finite and in its valid range, and the record equals what a
// direct library call on the same SAEs and activations gives (relative 1e-9; the pipeline's analyses come from the
// same cache, so they agree exactly unless the notebook recorded the wrong thing). Notebook 01's decomposition is
// also recomputed with the analysis cache off.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as path from "path";
import { initBackend } from "../../src/backend/index";
import * as pipeline from "../../src/pipeline/index";
import type { AnalysisContext } from "../../src/pipeline/context";
import type { Claim } from "../../src/pipeline/claim";
import { listNotebooks } from "../../src/publish/index";
import { ciHeadline, HeadlineRecord } from "./executed";

type Expected = (ctx: AnalysisContext) => Promise<{ numbers: Record<string, unknown>; claims: Claim[] }>;

/** What each notebook records, computed here by the same library calls as its cells (notebooks/NN-*.ipynb). */
const EXPECTED: Record<string, Expected> = {
  "10-why-the-numbers-differ": async () => {
    const result = await pipeline.whyTheNumbersDiffer({ profile: "ci" });
    return { numbers: pipeline.whyDifferNumbers(result), claims: pipeline.whyDifferClaims(result) };
  },
  "01-tour": async (ctx) => {
    const mid = ctx.saes[Math.floor(ctx.saes.length / 2)];
    const [one] = await pipeline.decomposeFamily(ctx, { saes: [mid] });
    return { numbers: { sae: mid.path, fvu: one.result.fvu.value, fvuNonlinear: one.result.fvuNonlinear.value, vectorR2: one.result.vectorR2.value, normR2: one.result.normR2.value },
      claims: pipeline.predictabilityClaims([one]) };
  },
  "02-linear-predictability": async (ctx) => {
    const decomps = await pipeline.decomposeFamily(ctx, pipeline.FAMILY_DECOMPOSITION);
    return { numbers: { saes: decomps.length, perSae: pipeline.familyRows(decomps) }, claims: pipeline.predictabilityClaims(decomps) };
  },
  "03-width-scaling": async (ctx) => {
    const ws = pipeline.widthScaling(await pipeline.decomposeFamily(ctx, pipeline.FAMILY_DECOMPOSITION));
    return { numbers: { l0: ws.l0, widths: ws.widths, fvu: ws.fvu, fvuNonlinear: ws.fvuNonlinear, c: ws.fit?.c ?? null, a: ws.fit?.a ?? null, m: ws.fit?.m ?? null },
      claims: pipeline.widthScalingClaims(ws) };
  },
  "04-per-token-scaling": async (ctx) => {
    const pt = await pipeline.perTokenScaling(ctx, {});
    return { numbers: { l0: pt.l0, widths: pt.widths, tokens: pt.rows, r2: pt.predictability.r2, percentRemainingExplained: pt.predictability.percentRemainingExplained,
      relativeSpread: { saeError: pt.variation.saeError.relativeSpread, linearError: pt.variation.linearError?.relativeSpread ?? null, nonlinearError: pt.variation.nonlinearError?.relativeSpread ?? null } },
    claims: pipeline.perTokenClaims(pt) };
  },
  "05-norm-prediction": async (ctx) => {
    const np = await pipeline.normPredictionFamily(ctx, {});
    return { numbers: { l0: np.l0, tokens: np.rows, perSae: pipeline.normPredictionTableRows(np), baselines: pipeline.baselineTableRows(np),
      probe: { width: np.probe.sae.width, correlation: np.probe.result.correlation, runningCorrelation: np.probe.runningCorrelation, probeR2: np.probe.result.probeR2.value } },
    claims: pipeline.normPredictionClaims(np) };
  },
  "06-synthetic": async (ctx) => {
    const syn = await pipeline.syntheticTest(ctx, {});
    return { numbers: pipeline.syntheticNumbers(syn), claims: pipeline.syntheticClaims(syn) };
  },
  "07-training-on-error": async (ctx) => {
    const cmp = await pipeline.errorSaes(ctx, {});
    return { numbers: pipeline.errorSaeNumbers(cmp), claims: pipeline.errorSaeClaims(cmp) };
  },
  "08-downstream-ce": async (ctx) => {
    const ce = await pipeline.downstreamCeSweeps(ctx, {});
    return { numbers: pipeline.downstreamCeNumbers(ce), claims: pipeline.downstreamCeClaims(ce) };
  },
  "09-reducing-nonlinear-error": async (ctx) => {
    const pursuit = await pipeline.pursuitSweep(ctx, {});
    const cross = await pipeline.crossComponentErrors(ctx, {});
    return { numbers: pipeline.reduceNonlinearNumbers(pursuit, cross), claims: pipeline.reduceNonlinearClaims(pursuit, cross) };
  },
};

/** Valid ranges by the last key naming a number (the first rule that matches applies); every number must be finite. */
const RANGES: [RegExp, number, number][] = [
  [/correlation/i, -1, 1],
  [/r2|r²/i, -Infinity, 1],
  [/fvu|spread|norm|variance|ce\b|loss|dead|share|fraction|tokens|rows|width|^l0|saes|count/i, 0, Infinity],
];

/** Where a notebook records null on purpose (not a NaN): the diagonal of a width × width table has no pair. */
const ALLOWED_NULL: Record<string, RegExp> = {
  "04-per-token-scaling": /^numbers\.percentRemainingExplained\[(\d+)\]\[\1\]$/,
};

/** Problems of a recorded value: non-finite numbers (JSON writes NaN as null) and numbers out of range. */
export function numberProblems(value: unknown, allowNull: RegExp | null, at = "", key = ""): string[] {
  // A null that says "nothing missing" is text, not a number; any other null may be a NaN.
  if (value === null) return allowNull?.test(at) || /missing|problem|reason/i.test(key) ? [] : [`${at}: null (NaN or Infinity is written as null)`];
  if (typeof value === "number") {
    if (!Number.isFinite(value)) return [`${at}: ${value}`];
    // A share of the gap to the paper closed is unbounded: < 0 moves away from the paper, > 1 overshoots it.
    if (/\.closed\./.test(at)) return [];
    const rule = RANGES.find(([re]) => re.test(key));
    return rule && (value < rule[1] || value > rule[2]) ? [`${at}: ${value} outside [${rule[1]}, ${rule[2]}]`] : [];
  }
  if (Array.isArray(value)) return value.flatMap((v, i) => numberProblems(v, allowNull, `${at}[${i}]`, key));
  if (typeof value === "object" && value !== undefined) {
    return Object.entries(value as Record<string, unknown>).flatMap(([k, v]) => numberProblems(v, allowNull, `${at}.${k}`, k));
  }
  return [];
}

/** Paths where the two records differ (numbers beyond relative `rtol`, anything else not equal). */
export function differences(got: unknown, want: unknown, rtol: number, at = ""): string[] {
  if (typeof got === "number" && typeof want === "number") {
    const ok = got === want || Math.abs(got - want) <= rtol * Math.max(Math.abs(got), Math.abs(want));
    return ok ? [] : [`${at}: recorded ${got}, library ${want}`];
  }
  if (Array.isArray(got) && Array.isArray(want)) {
    if (got.length !== want.length) return [`${at}: ${got.length} entries recorded, ${want.length} from the library`];
    return got.flatMap((g, i) => differences(g, want[i], rtol, `${at}[${i}]`));
  }
  if (got && want && typeof got === "object" && typeof want === "object") {
    const keys = [...new Set([...Object.keys(got), ...Object.keys(want)])];
    return keys.flatMap((k) => differences((got as Record<string, unknown>)[k], (want as Record<string, unknown>)[k], rtol, `${at}.${k}`));
  }
  return got === want ? [] : [`${at}: recorded ${JSON.stringify(got)}, library ${JSON.stringify(want)}`];
}

let ctxPromise: Promise<AnalysisContext> | null = null;
const ciContext = () => ctxPromise ??= initBackend().then(() => pipeline.openContext({ profile: "ci" }));

// 00 checks the plumbing and 11 is a hands-on tutorial: neither records headline numbers.
const analysis = listNotebooks().filter((nb) => !/^(00|11)-/.test(path.basename(nb)));

test("every analysis notebook has a library check here", () => {
  assert.deepEqual(analysis.map((nb) => path.basename(nb, ".ipynb")).filter((n) => !(n in EXPECTED)), []);
});

for (const nb of analysis) {
  const name = path.basename(nb, ".ipynb");
  test(`notebook ${name} records finite numbers in range that equal the library's`, { timeout: 1_800_000 }, async () => {
    const record: HeadlineRecord = await ciHeadline(nb);
    assert.ok(record.claims.length > 0, "no claims recorded");
    for (const c of record.claims) {
      assert.ok([true, false, null].includes(c.holds), `holds = ${JSON.stringify(c.holds)}`);
      assert.doesNotMatch(c.measured, /NaN|undefined|Infinity/, `claim "${c.claim}" measured: ${c.measured}`);
    }
    assert.deepEqual(numberProblems(record.numbers, ALLOWED_NULL[name] ?? null, "numbers"), []);
    const want = EXPECTED[name];
    if (!want) return; // reported by the test above
    const expected = JSON.parse(JSON.stringify(await want(await ciContext()))) as HeadlineRecord;
    assert.deepEqual(differences(record.numbers, expected.numbers, 1e-9, "numbers"), []);
    assert.deepEqual(record.claims, expected.claims);
  });
}

test("notebook 01's decomposition, recomputed without the analysis cache, matches its record to 1e-9", { timeout: 1_800_000 }, async () => {
  const nb = analysis.find((n) => path.basename(n).startsWith("01-"))!;
  const record = await ciHeadline(nb);
  const ctx = await ciContext();
  const saved = process.env.DARKMATTER_ANALYSIS_CACHE;
  process.env.DARKMATTER_ANALYSIS_CACHE = "off";
  try {
    const fresh = JSON.parse(JSON.stringify(await EXPECTED["01-tour"](ctx))) as HeadlineRecord;
    assert.deepEqual(differences(record.numbers, fresh.numbers, 1e-9, "numbers"), []);
  } finally {
    if (saved === undefined) delete process.env.DARKMATTER_ANALYSIS_CACHE; else process.env.DARKMATTER_ANALYSIS_CACHE = saved;
  }
});
