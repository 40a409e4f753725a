// The analysis notebooks executed once per test run on the "ci" profile, shared by the test files that need them:
// notebooks.test.ts executes them into CI_OUT (their headline records land in CI_OUT/headline), and numbers.test.ts
// reads those records back. A record older than the notebook or than any file of src/ is stale and is re-made, so
// a test file run on its own still checks the current code.
import * as fs from "fs";
import * as path from "path";
import { executeNotebook } from "../../src/publish/index";

const root = path.resolve(__dirname, "..", "..");
export const CI_OUT = path.join(root, ".cache", "test-notebooks", "ci");

export interface HeadlineRecord {
  numbers: Record<string, unknown>;
  claims: { claim: string; measured: string; holds: boolean | null }[];
}

function newestMtime(p: string): number {
  const st = fs.statSync(p);
  if (!st.isDirectory()) return st.mtimeMs;
  return Math.max(st.mtimeMs, ...fs.readdirSync(p).map((e) => newestMtime(path.join(p, e))));
}

export function headlinePath(notebook: string): string {
  return path.join(CI_OUT, "headline", `${path.basename(notebook, ".ipynb")}.json`);
}

/** Executes `notebook` on the ci profile into CI_OUT (its headline record included); returns the executed file. */
export function executeCi(notebook: string): Promise<string> {
  return executeNotebook(notebook, CI_OUT, { env: { DARKMATTER_PROFILE: "ci", DARKMATTER_REPORTS: CI_OUT }, cellTimeoutS: 900 });
}

/** The notebook's headline record from this run, executing the notebook first when there is none or it is stale. */
export async function ciHeadline(notebook: string): Promise<HeadlineRecord> {
  const file = headlinePath(notebook);
  const fresh = fs.existsSync(file) &&
    fs.statSync(file).mtimeMs > Math.max(newestMtime(notebook), newestMtime(path.join(root, "src")));
  if (!fresh) await executeCi(notebook);
  return JSON.parse(fs.readFileSync(file, "utf8")) as HeadlineRecord;
}
