export { executeNotebook, exportHtml, withParameters, notebookProblems, jupyterProblem, jupyterEnv, KERNEL_NAME } from "./jupyter";
export type { ExecuteOptions } from "./jupyter";
export { renderHtml, findChromium } from "./browser";
export type { RenderReport } from "./browser";
export { reproduce, listNotebooks } from "./reports";
export type { NotebookReport, ReproduceOptions } from "./reports";
export { claimRows, recordHeadline, profile } from "./headline";
export type { Claim } from "./headline";
