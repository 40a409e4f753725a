// Headline numbers and the "paper's claim | measured here | holds?" table that closes every notebook. Notebooks
// record them; the main job merges every notebook's record into reports/summary.json.
import * as path from "path";
import { writeFileAtomic } from "../io/atomic";
import type { Claim } from "../pipeline/claim";
import { Row } from "../viz/table";

export type { Claim } from "../pipeline/claim";

/** The claims as table rows (the notebook shows them with dm.viz.table). */
export function claimRows(claims: Claim[]): Row[] {
  return claims.map((c) => ({ "paper's claim": c.claim, "measured here": c.measured, "holds?": c.holds === null ? "undecided" : c.holds ? "yes" : "no" }));
}

/**
 * Saves a notebook's headline numbers and claims as <reports>/headline/<name>.json when the main job runs it
 * (DARKMATTER_REPORTS is set); returns the path, or null when run interactively.
 */
export function recordHeadline(name: string, numbers: Record<string, unknown>, claims: Claim[] = []): string | null {
  const dir = process.env.DARKMATTER_REPORTS;
  if (!dir) return null;
  const file = path.join(dir, "headline", `${name}.json`);
  writeFileAtomic(file, JSON.stringify({ numbers, claims }, null, 2) + "\n");
  return file;
}

/** The run profile notebooks read in their parameter cell: "full" (default), "ci" (reduced, for tests) or "paper" (hours). */
export function profile(): "full" | "ci" | "paper" {
  const p = process.env.DARKMATTER_PROFILE ?? "full";
  if (p !== "full" && p !== "ci" && p !== "paper") throw new Error(`DARKMATTER_PROFILE=${p}: expected full, ci or paper`);
  return p;
}
