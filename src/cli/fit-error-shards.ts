// `darkmatter fit-error --rows A:B --stats-out F.json` and `fit-error --merge F…`: the decomposition computed on
// shards of the rows (each on its own machine) and merged into what one run over all rows prints. What a shard
// stores and why a merge equals a single run: src/darkmatter/decomposition-shards.ts; the workflow:
// docs/distributed-fit.md.
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { InputError } from "../errors";
import { canonicalJson } from "../io/hash";
import { sampledFingerprint } from "../io/fingerprint";
import type { RowSource } from "../linalg/rows";
import type { AnySae } from "../sae/index";
import { BootstrapPlan, bootstrapShard, evaluationFit, mergeBootstrapShards, shardRows, ShardRows } from "../darkmatter/bootstrap-shards";
import { decompositionShard, finishDecomposition, mergeDecompositionShards, ShardOptions, ShardRange } from "../darkmatter/decomposition-shards";
import { NormAccumulator, saeFitWarnings } from "../darkmatter/sanity";
import {
  decodeBootstrapShard, decodeDecompositionShard, decodeEvaluationFit, readStatsFile, shardHeader, StatsFile, StatsReader, writeBootstrapShard,
  writeDecompositionShard, writeEvaluationFit,
} from "../darkmatter/shard-file";
import { contentFingerprint } from "../pipeline/cache";
import { warn } from "../warnings";
import { summarize, table } from "./fit-error-output";

/** --rows A:B as a half-open range of row indices. */
export function parseRange(v: string): ShardRange {
  const m = /^(\d+):(\d+)$/.exec(v.trim());
  const start = m ? Number(m[1]) : NaN, end = m ? Number(m[2]) : NaN;
  if (!m || !Number.isSafeInteger(start) || !Number.isSafeInteger(end) || end <= start) {
    throw new InputError("--rows", `must be A:B with integers 0 ≤ A < B (rows A … B−1), got ${JSON.stringify(v)}`);
  }
  return { start, end };
}

export interface ShardRun {
  source: RowSource;
  sae: AnySae;
  options: Required<Pick<ShardOptions, "intercept" | "fitOn" | "seed" | "dropNonFinite" | "rowsPerChunk">> & ShardOptions;
  bootstrap: { resamples: number; seed: number; level: number } | null;
  range: ShardRange;
  statsOut: string;
  saePath: string;
  activationsPath: string;
  hook: string | null;
  tensor: string | null;
  /** Fingerprint of the code that computes the shard (fit-error and all it runs). */
  code: string;
  /** The merged fit of the first round (--bootstrap-fit): compute the bootstrap round's sums instead. */
  bootstrapFit?: string;
}

/** Which activations: a store by its manifest (it lists every chunk's sha256), a file by sampled bytes. */
function activationsFingerprint(p: string): string {
  if (fs.statSync(p).isDirectory()) return createHash("sha256").update(fs.readFileSync(path.join(p, "manifest.json"))).digest("hex").slice(0, 24);
  return sampledFingerprint(p);
}

/** What a shard file says about where it came from: compared between the shards of one merge. */
function identityOf(r: ShardRun) {
  return {
    sae: { fingerprint: contentFingerprint(r.saePath), d_in: r.sae.d_in, d_sae: r.sae.d_sae },
    activations: { fingerprint: activationsFingerprint(r.activationsPath), rows: r.source.rows, d: r.source.cols, hook: r.hook, tensor: r.tensor },
    bootstrap: r.bootstrap,
  };
}

/** Computes rows [A, B) and writes their statistics (or, with --bootstrap-fit, their bootstrap sums). */
export async function runShard(r: ShardRun): Promise<number> {
  const n = r.source.rows;
  if (r.range.end > n) throw new InputError("--rows", `${r.range.start}:${r.range.end} reaches past the ${n} rows of ${r.activationsPath}`);
  const origin = { code: r.code, identity: identityOf(r), paths: { sae: r.saePath, activations: r.activationsPath } };
  if (r.bootstrapFit !== undefined) return runBootstrapShard(r, origin);
  // L0 and norms of the range's own rows, for the merged run's sanity checks.
  const norms = new NormAccumulator(r.sae.d_in);
  let l0 = new Int32Array(0), l0Sum = 0, l0Rows = 0;
  const reconstruct = (x: Float32Array) => {
    const f = r.sae.forward(x, { latents: false });
    l0 = f.l0;
    return f.reconstruction;
  };
  const shard = decompositionShard({ activations: r.source, sae: { reconstruct } }, r.range, {
    ...r.options,
    observe: (c, own) => {
      if (own.length === 0) return;
      const d = r.sae.d_in, x = new Float64Array(own.length * d), s = new Float64Array(own.length * d);
      own.forEach((t, i) => { x.set(c.x.subarray(t * d, t * d + d), i * d); s.set(c.sae.subarray(t * d, t * d + d), i * d); l0Sum += l0[t]; });
      l0Rows += own.length;
      norms.add(x, s, own.length);
    },
  });
  writeDecompositionShard(r.statsOut, shard, {
    ...origin, sanity: { l0Sum, l0Rows, l0Nominal: r.sae.metadata.nominalL0 ?? r.sae.k ?? null, norms: norms.sums },
  });
  console.error(`fit-error: rows ${r.range.start}:${r.range.end} of ${n} → ${r.statsOut} (${shard.fit.rows} fitting, ` +
    `${shard.evaluated?.rows ?? shard.fit.rows} evaluated rows)`);
  return 0;
}

type Origin = { code: string; identity: Record<string, unknown>; paths: { sae: string; activations: string } };

/** The bootstrap round's shard: rows [A, B) scored with the merged fit of the first round. */
async function runBootstrapShard(r: ShardRun, origin: Origin): Promise<number> {
  const file = r.bootstrapFit as string;
  const f = readStatsFile(file);
  const fit = decodeEvaluationFit(f);
  checkSameOrigin([{ name: "this run's options", ...origin }, { name: file, ...readOrigin(f) }]);
  const reconstruct = (x: Float32Array) => r.sae.forward(x, { latents: false }).reconstruction;
  const shard = bootstrapShard({ activations: r.source, sae: { reconstruct } }, r.range, fit, r.options);
  writeBootstrapShard(r.statsOut, shard, origin);
  console.error(`fit-error: bootstrap of rows ${r.range.start}:${r.range.end} → ${r.statsOut} (${shard.rows} evaluated rows, ${fit.bootstrap.resamples} resamples)`);
  return 0;
}

function readOrigin(f: StatsFile): Origin {
  const r = new StatsReader(f), m = f.meta;
  if (typeof m.code !== "string") r.fail("has no code version");
  const identity = r.object(m.identity, "identity");
  const paths = r.object(m.paths, "paths");
  if (typeof paths.sae !== "string" || typeof paths.activations !== "string") r.fail("paths must name the SAE and the activations");
  return { code: m.code as string, identity, paths: paths as Origin["paths"] };
}

type Sanity = { l0Sum: number; l0Rows: number; l0Nominal: number | null; norms: { sumX: number; sumR: number; rows: number } };

function readSanity(f: StatsFile): Sanity {
  const r = new StatsReader(f), s = r.object(f.meta.sanity, "sanity"), nm = r.object(s.norms, "sanity.norms");
  return {
    l0Sum: r.num(s.l0Sum, "sanity.l0Sum"), l0Rows: r.int(s.l0Rows, "sanity.l0Rows"), l0Nominal: s.l0Nominal === null ? null : r.num(s.l0Nominal, "sanity.l0Nominal"),
    norms: { sumX: r.num(nm.sumX, "sanity.norms.sumX"), sumR: r.num(nm.sumR, "sanity.norms.sumR"), rows: r.int(nm.rows, "sanity.norms.rows") },
  };
}

/** Every shard must come from the same code, SAE, activations and bootstrap options as the first. */
function checkSameOrigin(shards: readonly (Origin & { name: string })[]): void {
  const [first] = shards;
  const what: Record<string, string> = { sae: "another SAE", activations: "other activations", bootstrap: "other bootstrap options" };
  for (const s of shards.slice(1)) {
    if (s.code !== first.code) {
      throw new InputError(s.name, `was computed by code version ${s.code}, ${first.name} by ${first.code}: compute every shard with one version of darkmatter`);
    }
    for (const key of new Set([...Object.keys(first.identity), ...Object.keys(s.identity)])) {
      const a = canonicalJson(first.identity[key]), b = canonicalJson(s.identity[key]);
      if (a !== b) throw new InputError(s.name, `is from ${what[key] ?? `another ${key}`} than ${first.name} (${key}: ${b} vs ${a})`);
    }
  }
}

/**
 * Merges shard statistics files (and the bootstrap round's, when given) and prints the decomposition as a single
 * run would; with `fitOut`, also writes the merged fit the bootstrap round needs.
 */
export async function runMerge(files: string[], opts: { json: boolean; fitOut?: string }): Promise<number> {
  if (files.length === 0) throw new InputError("--merge", "give the shards' statistics files (F1.json F2.json …)");
  // Every header first (cheap): origins, settings and coverage are checked before any sums are read.
  const all = files.map((file) => {
    const f = readStatsFile(file);
    return { f, name: file, ...shardHeader(f), ...readOrigin(f) };
  });
  const stats = all.filter((s) => s.f.kind === "stats").map((s) => ({ ...s, sanity: readSanity(s.f), load: () => decodeDecompositionShard(s.f) }));
  const boots = all.filter((s) => s.f.kind === "bootstrap").map((s) => ({ ...s, load: () => decodeBootstrapShard(s.f) }));
  if (stats.length === 0) throw new InputError(boots[0].name, "is a bootstrap shard; the merge needs the first round's statistics files too");
  checkSameOrigin([...stats, ...boots]);
  const first = [...stats].sort((a, b) => a.range.start - b.range.start)[0];
  const plan = first.identity.bootstrap as BootstrapPlan | null;
  if (!plan && (boots.length > 0 || opts.fitOut)) {
    throw new InputError(boots.length > 0 ? boots[0].name : "--fit-out", `the shards were computed with --bootstrap 0 (${first.name}): there are no intervals to compute`);
  }
  const rowsOf: ShardRows[] = []; // for the bootstrap round's starts
  const merged = mergeDecompositionShards(stats.map((s) => ({ ...s, load: () => {
    const shard = s.load();
    rowsOf.push(shardRows(shard));
    return shard;
  } })));
  const fit = plan ? evaluationFit(merged, rowsOf, plan) : null;
  if (opts.fitOut && fit) writeEvaluationFit(opts.fitOut, fit, { code: first.code, identity: first.identity, paths: first.paths });
  const bootstrap = fit && boots.length > 0 ? { plan: fit.bootstrap, sums: mergeBootstrapShards(boots, fit.id) } : undefined;
  const result = finishDecomposition(merged, { bootstrap });
  if (plan && !bootstrap) {
    result.warnings.push(`no bootstrap intervals: the ${plan.resamples} resamples of a single run weigh each test row's error under the fitted b*, ` +
      "which the shards could not know; add them with the bootstrap round (docs/distributed-fit.md)");
  }
  const sorted = [...stats].sort((a, b) => a.range.start - b.range.start); // side sums in row order too
  const norms = new NormAccumulator(merged.settings.d);
  let l0Sum = 0, l0Rows = 0;
  for (const s of sorted) { l0Sum += s.sanity.l0Sum; l0Rows += s.sanity.l0Rows; norms.merge(s.sanity.norms); }
  const sanity = saeFitWarnings({
    sae: first.paths.sae, fvu: result.fvu.value, l0Measured: l0Rows ? l0Sum / l0Rows : undefined, l0Nominal: first.sanity.l0Nominal ?? undefined,
    inputNorm: norms.inputNorm, reconstructionNorm: norms.reconstructionNorm,
    droppedNonFinite: result.rows.droppedNonFinite, rows: result.rows.total,
    testRows: result.rows.evaluated, regressors: result.d + (result.intercept ? 1 : 0),
  });
  console.log(opts.json ? JSON.stringify({ ...summarize(result), sanity }, null, 2) : table(result, first.paths.activations, first.paths.sae));
  for (const w of sanity) warn(w);
  return 0;
}
