// The main job: execute every notebook through the project kernel and publish reports/ — executed notebooks,
// offline HTML, an index page and a machine-readable summary.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { projectRoot } from "../backend/native";
import { writeFileAtomic } from "../io/atomic";
import { escapeHtml } from "../viz/html";
import { findChromium, renderHtml } from "./browser";
import { ensureDefaultFamily } from "../family/default-family";
import { decomposeFamily, FAMILY_DECOMPOSITION } from "../pipeline/decompose-family";
import { openContext } from "../pipeline/context";
import { terminalProgress } from "../progress";
import { tableHtml } from "../viz/table";
import { Claim, claimRows } from "./headline";
import { executeNotebook, exportHtml, hasParameterCell } from "./jupyter";
import { pathRules, scrubReportDir } from "./paths";

export interface NotebookReport {
  notebook: string;
  html: string;
  seconds: number;
  /** Charts that rendered in headless Chromium with the network off (null when Chromium is absent). */
  plots: number | null;
}

export interface ReproduceOptions {
  outDir?: string;
  /** "full" (default) or "ci" (reduced configuration, passed to notebooks as DARKMATTER_PROFILE). */
  profile?: string;
  /** Only notebooks whose file name contains one of these strings. */
  only?: string[];
  log?: (line: string) => void;
  /** Notebooks executed at once (default 2, or 1 on a single core). */
  jobs?: number;
  /** The user's data as notebook parameters (see userParameters); notebooks without a parameter cell are skipped. */
  parameters?: Record<string, string | null>;
  /**
   * Also run these notebooks (names without .ipynb) on the project's JumpReLU family, into <outDir>/jumprelu/
   * (default: JUMPRELU_NOTEBOOKS for the main job, none on a user's data; `only` filters them too).
   */
  jumprelu?: string[];
}

/** The notebooks whose claims the main job also measures on the JumpReLU family (the paper's SAE architecture). */
export const JUMPRELU_NOTEBOOKS = ["02-linear-predictability", "03-width-scaling", "05-norm-prediction"];

/** Notebooks in run order (file names sort by their numeric prefix). */
export function listNotebooks(dir = path.join(projectRoot, "notebooks")): string[] {
  return fs.readdirSync(dir).filter((f) => f.endsWith(".ipynb")).sort().map((f) => path.join(dir, f));
}

export async function reproduce(opts: ReproduceOptions = {}): Promise<NotebookReport[]> {
  const log = opts.log ?? ((l: string) => console.log(l));
  const outDir = path.resolve(opts.outDir ?? path.join(projectRoot, "reports"));
  const profile = opts.profile ?? "full";
  const started = Date.now();
  const notebooks = listNotebooks().filter((nb) => !opts.only?.length || opts.only.some((s) => path.basename(nb).includes(s)))
    .filter((nb) => !opts.parameters || hasParameterCell(nb));
  // The artifacts every notebook shares (activation store, SAE family) are built once here, with terminal progress,
  // so the notebooks find them cached.
  const familyProfile = profile === "ci" || profile === "paper" ? profile : "full";
  // Each run: a notebook, its report folder and the parameters it gets (the JumpReLU reruns name the architecture).
  const jumpreluNames = opts.jumprelu ?? (opts.parameters ? [] : JUMPRELU_NOTEBOOKS);
  const jumprelu = notebooks.filter((nb) => jumpreluNames.includes(path.basename(nb, ".ipynb")));
  const runs = [
    ...notebooks.map((nb) => ({ nb, dir: outDir, label: "", parameters: opts.parameters as Record<string, string | null> | undefined })),
    ...jumprelu.map((nb) => ({ nb, dir: path.join(outDir, "jumprelu"), label: "jumprelu/", parameters: { architecture: "jumprelu" } as Record<string, string | null> })),
  ];
  const architectures = opts.parameters ? [undefined] : jumprelu.length ? ["topk", "jumprelu"] as const : ["topk"] as const;
  for (const architecture of architectures) {
    if (architecture) {
      log(`[artifacts] activation store and ${architecture} SAE family (profile ${profile}; cached by config under .cache/) ...`);
      const family = await ensureDefaultFamily(familyProfile, { progress: terminalProgress(), architecture });
      log(`[artifacts] ready in ${((Date.now() - started) / 1000).toFixed(1)} s: ${family.summary.entries.length} SAEs in ${path.relative(process.cwd(), family.dir)}`);
    }
    // The family's error decompositions are shared by several notebooks: computed (or loaded from the cache) once here.
    const ctx = await openContext({ ...opts.parameters, ...(architecture ? { architecture } : {}), profile: familyProfile }, terminalProgress());
    try {
      await decomposeFamily(ctx, FAMILY_DECOMPOSITION, terminalProgress());
    } finally {
      ctx.close();
    }
    log(`[artifacts] decompositions${architecture ? ` (${architecture})` : ""} ready at ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }
  const chromium = findChromium();
  if (!chromium) log("reproduce: Chromium not found, so rendered charts are not counted (apt-get install chromium)");
  // Notebooks run side by side (default: two, or one on a single core): each spends much of its time in kernel
  // start-up and single-threaded work, and every shared artifact is already built above.
  const jobs = Math.max(1, Math.min(opts.jobs ?? Math.min(2, os.availableParallelism()), runs.length));
  const reports: NotebookReport[] = new Array(runs.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < runs.length; i = next++) {
      const { nb, dir, label, parameters } = runs[i], t0 = Date.now(), name = label + path.basename(nb);
      log(`[${i + 1}/${runs.length}] executing ${name} (profile ${profile}) ...`);
      const executed = await executeNotebook(nb, dir, { env: { DARKMATTER_PROFILE: profile, DARKMATTER_REPORTS: dir }, parameters });
      const html = await exportHtml(executed);
      const plots = chromium ? renderHtml(html).plots : null;
      const seconds = (Date.now() - t0) / 1000;
      reports[i] = { notebook: name, html: label + path.basename(html), seconds, plots };
      log(`[${i + 1}/${runs.length}] ${name}: ${seconds.toFixed(1)} s${plots === null ? "" : `, ${plots} charts rendered`}`);
    }
  };
  await Promise.all(Array.from({ length: jobs }, worker));
  const total = (Date.now() - started) / 1000;
  const headline = { ...collectHeadlines(outDir), ...collectHeadlines(path.join(outDir, "jumprelu"), "jumprelu/") };
  writeFileAtomic(path.join(outDir, "summary.json"), JSON.stringify({
    generated: new Date().toISOString(), profile, totalSeconds: total, ...(opts.parameters ? { data: opts.parameters } : {}), notebooks: reports, headline,
  }, null, 2) + "\n");
  writeFileAtomic(path.join(outDir, "index.html"), indexHtml(reports, total, profile, headline));
  // Nothing published names this machine: the user's inputs by name, the project relative, the home folder as ~.
  scrubReportDir(outDir, pathRules([...Object.values(opts.parameters ?? {}).filter((v): v is string => !!v), outDir]));
  log(`reproduce: wrote ${path.relative(process.cwd(), outDir) || "."}/index.html and summary.json in ${total.toFixed(1)} s`);
  return reports;
}

/** Headline numbers notebooks saved as reports/headline/<notebook>.json (merged into summary.json). */
type Headlines = Record<string, { numbers: Record<string, unknown>; claims: Claim[] }>;

function collectHeadlines(outDir: string, prefix = ""): Headlines {
  const dir = path.join(outDir, "headline");
  if (!fs.existsSync(dir)) return {};
  const out: Headlines = {};
  for (const f of fs.readdirSync(dir).filter((f) => f.endsWith(".json")).sort()) {
    out[prefix + path.basename(f, ".json")] = JSON.parse(fs.readFileSync(path.join(dir, f), "utf8"));
  }
  return out;
}

function claimsHtml(headline: Headlines): string {
  const rows = Object.entries(headline).flatMap(([nb, h]) => claimRows(h.claims ?? []).map((r) => ({ notebook: nb, ...r })));
  return rows.length ? `<h2>The paper's claims, measured here</h2>\n${tableHtml(rows)}` : "";
}

function indexHtml(reports: NotebookReport[], total: number, profile: string, headline: Headlines): string {
  const rows = reports.map((r) => `<tr><td><a href="${escapeHtml(encodeURI(r.html))}">${escapeHtml(r.notebook)}</a></td>` +
    `<td style="text-align:right">${r.seconds.toFixed(1)}</td><td style="text-align:right">${r.plots ?? "–"}</td></tr>`).join("\n");
  return `<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>Dark matter of SAEs — reports</title>
<style>body{font-family:system-ui,sans-serif;max-width:60em;margin:2em auto}table{border-collapse:collapse}td,th{padding:.3em .8em;border-bottom:1px solid #ddd}</style>
</head><body>
<h1>Decomposing the dark matter of sparse autoencoders — reproduction</h1>
<p>Profile <code>${escapeHtml(profile)}</code>; all notebooks executed in ${total.toFixed(1)} s.</p>
<table><thead><tr><th>notebook</th><th>seconds</th><th>charts</th></tr></thead><tbody>
${rows}
</tbody></table>
${claimsHtml(headline)}
</body></html>
`;
}
