// Executing notebooks headlessly through the project kernel and exporting them to offline HTML, using Jupyter's
// own nbconvert (the standard tool; Debian packages it).
import { execFile, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { projectRoot } from "../backend/native";
import { InputError } from "../errors";
import { writeFileAtomic } from "../io/atomic";
import { Figure, PLOTLY_MIME, plotHtml, plotlyBundleHtml } from "../viz/plotly";
import { finishNotebook, FinishReport } from "./finish";
import { pathRules } from "./paths";

export const KERNEL_NAME = "darkmatter-ts";
const kernelShare = path.join(projectRoot, "kernel", "share", "jupyter");
const templates = path.join(projectRoot, "kernel", "nbconvert", "templates");

/** The environment for Jupyter commands: finds the project-local kernel spec through JUPYTER_PATH. */
export function jupyterEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const jp = [kernelShare, process.env.JUPYTER_PATH].filter(Boolean).join(path.delimiter);
  return { ...process.env, JUPYTER_PATH: jp, PYDEVD_DISABLE_FILE_VALIDATION: "1", ...extra };
}

/** Whether `jupyter nbconvert --version` worked once in this process (a Python start-up, ~1 s, spared per notebook). */
let nbconvertFound = false;

/** What is missing to run notebooks here, or null when Jupyter's nbconvert and the kernel spec are ready. */
export function jupyterProblem(): string | null {
  const r = nbconvertFound ? null : spawnSync("jupyter", ["nbconvert", "--version"], { encoding: "utf8", env: jupyterEnv() });
  if (r && (r.error || r.status !== 0)) {
    return "Jupyter's nbconvert is not installed. As root on Debian/Ubuntu: apt-get install -y --no-install-recommends " +
      "jupyter-nbconvert jupyter-client jupyter-notebook; without root: pip install --user nbconvert nbclient notebook " +
      "(or jupyterlab), then make sure `jupyter` is on PATH.";
  }
  nbconvertFound = true;
  if (!fs.existsSync(path.join(kernelShare, "kernels", KERNEL_NAME, "kernel.json"))) {
    return `the project kernel spec is not installed: run \`node kernel/install.js\` in ${projectRoot}`;
  }
  return null;
}

/** Runs a Jupyter command without blocking, so the main job can execute notebooks side by side. */
function runJupyter(args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile("jupyter", args, { env, timeout: timeoutMs, maxBuffer: 1 << 26 }, (err, _stdout, stderr) => {
      if (!err) return resolve();
      const text = String(stderr || err.message);
      reject(new Error(`jupyter ${args[0]} ${args.slice(1, 3).join(" ")} failed:\n${text.split("\n").filter((l) => !/Debugger|frozen modules|PYDEVD/.test(l)).slice(-30).join("\n")}`));
    });
  });
}

export interface ExecuteOptions {
  /** Environment variables for the kernel (e.g. DARKMATTER_PROFILE=ci). */
  env?: Record<string, string>;
  /** Per-cell timeout in seconds (nbclient has none by default). */
  cellTimeoutS?: number;
  /** Whole-notebook timeout in seconds. */
  timeoutS?: number;
  /**
   * Values for the notebook's parameter cell (the cell tagged "parameters", which defines `const params`): set by a
   * cell inserted after it, as papermill does, so the executed notebook shows what was changed.
   */
  parameters?: Record<string, string | number | boolean | null>;
  /** Told how the finishing pass went (charts, static images, seconds spent drawing them). */
  onFinish?: (report: FinishReport) => void;
}

interface NotebookCell { cell_type: string; id?: string; metadata?: { tags?: string[] }; source: string | string[]; outputs?: unknown[]; execution_count?: number | null }

const isParameterCell = (c: NotebookCell) => c.cell_type === "code" && (c.metadata?.tags ?? []).includes("parameters");

/** Whether the notebook has a cell tagged "parameters" (so it can run on a user's data). */
export function hasParameterCell(notebook: string): boolean {
  return (JSON.parse(fs.readFileSync(notebook, "utf8")) as { cells: NotebookCell[] }).cells.some(isParameterCell);
}

/** A copy of the notebook with a cell after its parameter cell that assigns `values` to `params`. */
export function withParameters(notebook: string, values: Record<string, unknown>, target: string): string {
  const nb = JSON.parse(fs.readFileSync(notebook, "utf8")) as { cells: NotebookCell[] };
  const at = nb.cells.findIndex(isParameterCell);
  if (at < 0) throw new InputError(notebook, "has no cell tagged \"parameters\"");
  nb.cells.splice(at + 1, 0, {
    cell_type: "code", id: "injected-parameters", metadata: { tags: ["injected-parameters"] }, execution_count: null, outputs: [],
    source: `// Injected parameters\nObject.assign(params, ${JSON.stringify(values, null, 1)});`,
  });
  fs.writeFileSync(target, JSON.stringify(nb, null, 1) + "\n");
  return target;
}

/** Executes a notebook through the project kernel into outDir (same file name); throws with the failing cell's error. */
export async function executeNotebook(notebook: string, outDir: string, opts: ExecuteOptions = {}): Promise<string> {
  if (!fs.existsSync(notebook)) throw new InputError(notebook, "notebook not found");
  const problem = jupyterProblem();
  if (problem) throw new Error(problem);
  fs.mkdirSync(outDir, { recursive: true });
  const name = path.basename(notebook);
  const tmpName = `.${name}.${process.pid}.tmp.ipynb`;
  const tmpPath = path.join(outDir, tmpName);
  const input = opts.parameters ? withParameters(notebook, opts.parameters, path.join(outDir, `.${name}.${process.pid}.input.ipynb`)) : notebook;
  try {
    // --allow-errors: the notebook is written even when a cell fails, so the real message (tslab puts it on the
    // cell's stderr; nbconvert's own summary shows only "<Error>:") can be reported below.
    await runJupyter(["nbconvert", "--to", "notebook", "--execute", "--allow-errors", `--ExecutePreprocessor.kernel_name=${KERNEL_NAME}`,
      `--ExecutePreprocessor.timeout=${opts.cellTimeoutS ?? 900}`, "--output-dir", outDir, "--output", tmpName, input],
      jupyterEnv(opts.env), (opts.timeoutS ?? 3600) * 1000);
    const problems = notebookProblems(tmpPath);
    if (problems.length) throw new Error(`${name}: ${problems.join("\n")}`);
    // Static images for the charts, no plotly.js, no paths of this machine (the user's inputs shown by name).
    const named = [...Object.values(opts.parameters ?? {}).filter((v): v is string => typeof v === "string"), path.resolve(outDir)];
    const report = finishNotebook(tmpPath, { rules: pathRules(named) });
    opts.onFinish?.(report);
    const target = path.join(outDir, name);
    fs.renameSync(tmpPath, target);
    return target;
  } finally {
    fs.rmSync(tmpPath, { force: true });
    if (input !== notebook) fs.rmSync(input, { force: true });
  }
}

/** Exports an executed notebook to self-contained HTML that needs no network (no CDN scripts). */
export async function exportHtml(executed: string, outDir = path.dirname(executed)): Promise<string> {
  const base = path.basename(executed, ".ipynb");
  const { source, cleanup } = withInteractiveCharts(executed);
  try {
    await runJupyter(["nbconvert", "--to", "html", "--template", "offline", `--TemplateExporter.extra_template_basedirs=${templates}`,
      "--output-dir", outDir, "--output", `${base}.html`, source], jupyterEnv(), 300_000);
  } finally {
    cleanup();
  }
  const file = path.join(outDir, `${base}.html`);
  // plotly.js once per page, so the charts are interactive offline (the executed notebook does not carry it).
  const html = fs.readFileSync(file, "utf8");
  if (html.includes('class="dm-chart"') && html.includes("</head>")) {
    writeFileAtomic(file, html.replace("</head>", () => `${plotlyBundleHtml()}\n</head>`));
  }
  return file;
}

/**
 * The notebook to export: the executed one, or, where large charts were stored with only their static image in
 * text/html, a temporary copy whose charts draw interactively from their Plotly data on the exported page.
 */
function withInteractiveCharts(executed: string): { source: string; cleanup: () => void } {
  const nb = JSON.parse(fs.readFileSync(executed, "utf8")) as { cells: { outputs?: { data?: Record<string, unknown> }[] }[] };
  let changed = false;
  nb.cells.forEach((cell, c) => (cell.outputs ?? []).forEach((o, i) => {
    const fig = o.data?.[PLOTLY_MIME] as Figure | undefined;
    const html = o.data?.["text/html"];
    if (!fig || !(Array.isArray(html) ? html.join("") : String(html ?? "")).includes("dm-static-only")) return;
    const png = o.data?.["image/png"];
    o.data!["text/html"] = plotHtml(fig, { id: `dm-chart-${c}-${i}`, image: typeof png === "string" ? { png } : undefined });
    changed = true;
  }));
  if (!changed) return { source: executed, cleanup: () => undefined };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dm-export-"));
  const source = path.join(dir, path.basename(executed));
  fs.writeFileSync(source, JSON.stringify(nb));
  return { source, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

interface NotebookJson { cells: { cell_type: string; outputs?: { output_type: string; name?: string; text?: string | string[]; ename?: string; evalue?: string }[] }[] }

/** Error outputs and stderr text of an executed notebook (tslab reports failures, compile errors included, on stderr). */
export function notebookProblems(executed: string): string[] {
  const nb = JSON.parse(fs.readFileSync(executed, "utf8")) as NotebookJson;
  const problems: string[] = [];
  nb.cells.forEach((cell, i) => {
    for (const o of cell.outputs ?? []) {
      if (o.output_type === "error") problems.push(`cell ${i}: ${o.ename}: ${o.evalue}`);
      if (o.output_type === "stream" && o.name === "stderr") {
        const text = Array.isArray(o.text) ? o.text.join("") : o.text ?? "";
        // Any stderr counts: tslab reports compile errors there without the word "error".
        if (text.trim()) problems.push(`cell ${i} (stderr): ${text.slice(0, 2000)}`);
      }
    }
  });
  return problems;
}
