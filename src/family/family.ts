// An SAE family: one SAE per (hook, width, k) on one activation store and one target, saved in SAELens format under
// Gemma Scope folders `<out>/layer_L/width_W/average_l0_K/`. Each folder's train-config.json holds the full request
// and its hash; a folder whose hash matches is reused, any other is retrained, and since train-config.json is
// written last (atomically, after the weights) an interrupted build resumes without retraining finished SAEs.
// summary.json and summary.md list every SAE's held-out numbers.
import * as fs from "fs";
import * as path from "path";
import type { ActivationStore } from "../activations/index";
import { codeFingerprint } from "../code-version";
import { InputError } from "../errors";
import { formatNumber, withSummary } from "../inspect";
import { writeFileAtomic } from "../io/atomic";
import { lockOrDoneAsync, removeTempFiles, writeError } from "../io/entry";
import { silentProgress, type Progress } from "../progress";
import { loadSae, parseWidth, type Sae } from "../sae/index";
import {
  ActivationRows, checkTargetKind, heldOutSplit, LinearMapOptions, LinearMapReport, makeTarget,
  resolveLinearMapOptions, RowSplit, saeFingerprint, storeRows, TargetKind, TargetRows,
} from "./targets";
import {
  hashOf, readCompleteRecord, resolveRecipe, saveTrainedSae, SaeRecipe, SaeResult, trainConfigFor, TrainedOnTarget, trainOnTarget,
} from "./train-target";

export interface FamilyConfig {
  /** Latent counts. */
  widths: number[];
  /** Active latents per token (each is also the folder's nominal average L0). */
  ks: number[];
  /** Store hooks (default: every hook of the store). */
  hooks: string[];
  /** What the SAEs are trained on (default x). */
  target: TargetKind;
  /** Reference SAE per hook, as a path to an SAE in any supported format (every target but x). */
  references: Record<string, string>;
  /** How b* is fitted (linear and nonlinear targets). */
  linearMap: LinearMapOptions;
  /** Rows held out for evaluation (default min(8192, 10 % of the rows)); the rest train. */
  heldOutRows: number;
  splitSeed: number;
  recipe: SaeRecipe;
}

export type FamilyRequest = Partial<Omit<FamilyConfig, "recipe">> & { widths: number[]; ks: number[]; recipe?: Partial<SaeRecipe> };

/** One SAE of a family: its numbers, where it lies, and whether this run reused it. */
export interface FamilyEntry extends SaeResult {
  /** The hook the SAE reads (blocks.3.hook_resid_post). */
  hook: string;
  layer: number;
  /** Folder relative to the family folder (layer_3/width_1k/average_l0_16). */
  folder: string;
  hash: string;
  reused: boolean;
}

export interface FamilySummary {
  format: "darkmatter-sae-family";
  version: 1;
  dir: string;
  store: { dir: string; key: string; rows: number; d: number };
  config: FamilyConfig;
  /** The b* fit per hook, for the linear and nonlinear targets (only for hooks where an SAE was trained this run). */
  linearMaps: Record<string, LinearMapReport>;
  /** One per SAE, in hook, width, k order. */
  entries: FamilyEntry[];
  trained: number;
  reused: number;
  wallTimeS: number;
  finishedAt: string;
}

export interface FamilyOptions {
  /** Progress in training steps over the whole family; a step label per SAE, then "saved <folder>" / "reused <folder>". */
  progress?: Progress;
}

export const SUMMARY_JSON = "summary.json";
export const SUMMARY_MD = "summary.md";
/** Bumped when a change to training makes old SAEs stale. */
const FAMILY_VERSION = 1;

/** Gemma Scope's width label (16k = 16384, 1m = 2^20) for powers of two ≥ 1024, else the plain number. */
export function widthLabel(width: number): string {
  const isPow2 = width >= 1024 && (width & (width - 1)) === 0;
  const label = !isPow2 ? String(width) : width >= 1e6 ? `${Math.floor(width / 1e6)}m` : `${Math.floor(width / 1000)}k`;
  return parseWidth(label) === width ? label : String(width);
}

/** The folder of a hook: layer_L for resid_post (Gemma Scope's res), `<point>/layer_L` for other hook points. */
export function hookFolder(hook: string): { layer: number; folder: string } {
  const m = /^blocks\.(\d+)\.hook_([a-z_]+)$/.exec(hook);
  if (!m) throw new InputError("hooks", `'${hook}' is not a hook name of the form blocks.<layer>.hook_<point>`);
  const layer = Number(m[1]);
  return { layer, folder: m[2] === "resid_post" ? `layer_${layer}` : path.join(m[2], `layer_${layer}`) };
}

/** The folder of one SAE relative to the family folder. */
export function saeFolder(hook: string, width: number, k: number): string {
  return path.join(hookFolder(hook).folder, `width_${widthLabel(width)}`, `average_l0_${k}`);
}

function positiveInts(name: string, v: unknown): number[] {
  if (!Array.isArray(v) || v.length === 0) throw new InputError(name, "must be a non-empty list of positive integers");
  for (const x of v) if (!Number.isSafeInteger(x) || x < 1) throw new InputError(name, `must hold positive integers, got ${JSON.stringify(x)}`);
  if (new Set(v).size !== v.length) throw new InputError(name, `lists a value twice: ${v.join(", ")}`);
  return [...v] as number[];
}

/** Fills in defaults and validates a family request against the store. */
export function resolveFamilyConfig(store: { rows: number; hooks: string[] }, request: FamilyRequest): FamilyConfig {
  const widths = positiveInts("widths", request.widths), ks = positiveInts("ks", request.ks);
  for (const k of ks) if (k > Math.min(...widths)) throw new InputError("ks", `k = ${k} exceeds the smallest width ${Math.min(...widths)}`);
  const hooks = request.hooks ?? store.hooks;
  if (!Array.isArray(hooks) || hooks.length === 0) throw new InputError("hooks", "name at least one hook");
  for (const h of hooks) {
    if (!store.hooks.includes(h)) throw new InputError("hooks", `the store has no hook ${h} (it has ${store.hooks.join(", ")})`);
    hookFolder(h);
  }
  if (new Set(hooks).size !== hooks.length) throw new InputError("hooks", `a hook is listed twice: ${hooks.join(", ")}`);
  const target = checkTargetKind(request.target ?? "x");
  const references = { ...(request.references ?? {}) };
  if (target === "x" && Object.keys(references).length > 0) throw new InputError("references", "apply only to the error targets (error, linear, nonlinear)");
  if (target !== "x") {
    for (const h of hooks) if (!references[h]) throw new InputError("references", `target ${target} needs a reference SAE for hook ${h}`);
  }
  const heldOutRows = request.heldOutRows ?? Math.min(8192, Math.max(1, Math.round(0.1 * store.rows)));
  const splitSeed = request.splitSeed ?? 0;
  heldOutSplit(store.rows, heldOutRows, splitSeed); // validates both
  return {
    widths, ks, hooks, target, references, linearMap: resolveLinearMapOptions(request.linearMap),
    heldOutRows, splitSeed, recipe: resolveRecipe(request.recipe),
  };
}

/** The fields that determine one SAE: its train-config.json request, hashed to key the cache. */
function saeRequest(c: FamilyConfig, store: ActivationStore, hook: string, width: number, k: number, referenceSha: string | null): Record<string, unknown> {
  return {
    familyVersion: FAMILY_VERSION,
    // The code that trains and evaluates SAEs (this module and what it imports): an edit there retrains.
    code: codeFingerprint(__filename),
    store: { key: store.manifest.key, rows: store.rows, d: store.d },
    hook, width, k, target: c.target,
    // The reference by content: moving its files does not retrain (its path is in each SAE's provenance).
    ...(c.target !== "x" ? { reference: { sha256: referenceSha } } : {}),
    ...(c.target === "linear" || c.target === "nonlinear" ? { linearMap: c.linearMap } : {}),
    split: { heldOutRows: c.heldOutRows, seed: c.splitSeed },
    recipe: c.recipe,
    trainConfig: trainConfigFor(width, k, c.recipe),
  };
}

/** Per hook: the rows, the reference SAE and the target, set up on first need and released when the hook is done. */
class HookTargets {
  private rows: ActivationRows | null = null;
  private reference: Sae | null = null;
  private target: TargetRows | null = null;
  referenceSha: string | null = null;
  linearMap: LinearMapReport | null = null;

  constructor(private store: ActivationStore, private c: FamilyConfig, readonly hook: string, private split: RowSplit) {}

  /** Loads the reference SAE (needed to hash it even when nothing is trained). */
  async loadReference(): Promise<void> {
    if (this.c.target === "x" || this.reference) return;
    const p = this.c.references[this.hook];
    this.reference = await loadSae(p);
    if (this.reference.d_in !== this.store.d) throw new InputError(p, `has d_in = ${this.reference.d_in} but ${this.hook} has d = ${this.store.d}`);
    this.referenceSha = saeFingerprint(this.reference);
  }

  get(progress: Progress, done: number, total: number): TargetRows {
    if (this.target) return this.target;
    this.rows = storeRows(this.store, this.hook);
    if (this.c.target === "linear" || this.c.target === "nonlinear") progress(done, total, `fitting b* (x → SaeError) for ${this.hook}`);
    this.target = makeTarget(this.rows, {
      target: this.c.target, split: this.split, reference: this.reference ?? undefined,
      referencePath: this.c.references[this.hook], linearMapOptions: this.c.linearMap,
    });
    this.linearMap = this.target.provenance.linearMap ?? null;
    return this.target;
  }

  release(): void {
    this.reference?.dispose();
    this.reference = this.rows = this.target = null;
  }
}

/**
 * Trains (or reuses) every SAE of the family into `out` and writes summary.json and summary.md there.
 * SAEs are trained hook by hook, then by width and k, in the order given.
 */
export async function trainFamily(store: ActivationStore, request: FamilyRequest, out: string, options: FamilyOptions = {}): Promise<FamilySummary> {
  const started = Date.now();
  const c = resolveFamilyConfig(store, request);
  const progress = options.progress ?? silentProgress;
  const split = heldOutSplit(store.rows, c.heldOutRows, c.splitSeed);
  const stepsPerSae = trainConfigFor(c.widths[0], c.ks[0], c.recipe).steps!;
  const total = c.hooks.length * c.widths.length * c.ks.length * stepsPerSae;
  let done = 0;
  const entries: FamilyEntry[] = [];
  const linearMaps: Record<string, LinearMapReport> = {};
  fs.mkdirSync(out, { recursive: true });
  for (const hook of c.hooks) {
    const { layer } = hookFolder(hook);
    const targets = new HookTargets(store, c, hook, split);
    try {
      await targets.loadReference();
      for (const width of c.widths) {
        for (const k of c.ks) {
          const folder = saeFolder(hook, width, k);
          const dir = path.join(out, folder);
          const req = saeRequest(c, store, hook, width, k, targets.referenceSha);
          const hash = hashOf(req);
          // Another process training the same SAE: wait for it and reuse its result.
          const got = await lockOrDoneAsync(`${dir}.lock`, () => readCompleteRecord(dir, hash));
          if ("value" in got) {
            done += stepsPerSae;
            entries.push({ ...got.value.result, hook, layer, folder, hash, reused: true });
            progress(done, total, `reused ${folder}`);
            continue;
          }
          const base = done;
          let trained: TrainedOnTarget;
          try {
            removeTempFiles(dir);
            const target = targets.get(progress, done, total);
            trained = await trainOnTarget(target, width, k, c.recipe, {
              hook, progress: (step, steps, label) => { got.lock.refresh(); progress(base + step, total, `${folder}: ${label}`); },
            });
            try {
              saveTrainedSae(dir, trained, req);
            } catch (err) {
              throw writeError(`the trained SAE ${dir}`, err);
            } finally {
              trained.sae.dispose();
            }
          } finally {
            got.lock.release();
          }
          done = base + stepsPerSae;
          entries.push({ ...trained!.result, hook, layer, folder, hash, reused: false });
          progress(done, total, `saved ${folder}`);
        }
      }
      if (targets.linearMap) linearMaps[hook] = targets.linearMap;
    } finally {
      targets.release();
    }
  }
  const summary: FamilySummary = {
    format: "darkmatter-sae-family", version: 1, dir: path.resolve(out),
    store: { dir: path.resolve(store.dir), key: store.manifest.key, rows: store.rows, d: store.d },
    config: c, linearMaps, entries,
    trained: entries.filter((e) => !e.reused).length, reused: entries.filter((e) => e.reused).length,
    wallTimeS: (Date.now() - started) / 1000, finishedAt: new Date().toISOString(),
  };
  writeFileAtomic(path.join(out, SUMMARY_JSON), JSON.stringify(summary, null, 1) + "\n");
  writeFileAtomic(path.join(out, SUMMARY_MD), summaryMarkdown(summary));
  return readableFamily(summary);
}

/** Reads a family's summary.json (written at the end of every trainFamily run). */
export function readFamilySummary(dir: string): FamilySummary {
  const file = path.join(dir, SUMMARY_JSON);
  let s: FamilySummary;
  try {
    s = JSON.parse(fs.readFileSync(file, "utf8")) as FamilySummary;
  } catch (err) {
    throw new InputError(file, `cannot read the family summary (${(err as Error).message}); build the family first`);
  }
  if (!s || s.format !== "darkmatter-sae-family" || !Array.isArray(s.entries)) throw new InputError(file, "is not an SAE family summary");
  return readableFamily(s);
}

/** A family entry in one line: where it lies and its measured numbers. */
export function entryLine(e: FamilyEntry): string {
  const dead = Number.isFinite(e.deadFraction) ? `, dead ${formatNumber(100 * e.deadFraction, 3)} %` : "";
  return `${e.folder}: width ${e.width}, k ${e.k}, L0 ${formatNumber(e.l0, 3)}, fvu ${formatNumber(e.fvu, 3)}${dead}`;
}

/** Gives a family summary and its entries short printed forms (util.inspect; non-enumerable, so JSON is unchanged). */
export function readableFamily(s: FamilySummary): FamilySummary {
  for (const e of s.entries) withSummary(e, (x) => [`FamilyEntry ${entryLine(x)}`]);
  const widths = [...new Set(s.entries.map((e) => e.width))].sort((a, b) => a - b);
  const ks = [...new Set(s.entries.map((e) => e.k))].sort((a, b) => a - b);
  return withSummary(s, (x) => [
    `SAE family ${x.dir}: ${x.entries.length} SAEs (widths ${widths.join(", ")}; k ${ks.join(", ")})`,
    `  store ${x.store.dir} (${x.store.rows} rows, d ${x.store.d}); hooks ${[...new Set(x.entries.map((e) => e.hook))].join(", ")}`,
    `  .entries[i] for one SAE (its folder is relative to the family folder); dm.viz.show(family) lists them all`,
  ]);
}

const fmt = (v: number | null, digits: number) => (v !== null && Number.isFinite(v) ? v.toFixed(digits) : "n/a");

/** The summary as a Markdown table, one row per SAE. */
export function summaryMarkdown(s: FamilySummary): string {
  const r = s.config.recipe;
  const lines = [
    `# SAE family (${s.entries.length} SAEs, target ${s.config.target})`,
    "",
    `Store ${s.store.key} (${s.store.rows.toLocaleString("en-US")} rows, d = ${s.store.d}); ${s.config.heldOutRows} rows held out ` +
      `(seed ${s.config.splitSeed}). Recipe: ${r.tokens.toLocaleString("en-US")} tokens per SAE, batch ${r.batchSize}, ` +
      `lr = ${r.lrScale} × 2e-4/√(n/2^14), seed ${r.seed}. This run trained ${s.trained} and reused ${s.reused} SAEs in ${s.wallTimeS.toFixed(1)} s.`,
    "",
    "L0, FVU and the dead fraction are measured on the held-out rows (dead = fires on none of them; the window is the " +
      "held-out rows). Train dead = did not fire in the last `window` training tokens (n/a when training saw fewer tokens).",
    "",
    "| layer | hook | width | k | L0 | held-out FVU | dead (window) | train dead (window) | tokens | wall s | reused |",
    "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
  ];
  for (const e of s.entries) {
    lines.push(`| ${e.layer} | ${e.hook} | ${e.width} | ${e.k} | ${fmt(e.l0, 2)} | ${fmt(e.fvu, 4)} | ` +
      `${fmt(e.deadFraction, 3)} (${e.deadWindowTokens}) | ${fmt(e.trainDeadFraction, 3)} (${e.trainDeadWindowTokens}) | ` +
      `${e.tokensSeen} | ${fmt(e.wallTimeS, 1)} | ${e.reused ? "yes" : "no"} |`);
  }
  for (const [hook, m] of Object.entries(s.linearMaps)) {
    lines.push("", `b* for ${hook}: ${m.intercept ? "with" : "without"} intercept, fitted on ${m.fitOn} (${m.fitRows} rows); ` +
      `on ${m.evaluatedOn} rows the reference SAE has FVU ${fmt(m.referenceFvu, 4)}, FVU_nonlinear ${fmt(m.referenceFvuNonlinear, 4)}, ` +
      `vector R² ${fmt(m.vectorR2, 4)}.`);
  }
  return lines.join("\n") + "\n";
}
