// Published reports must not carry the paths of the machine that made them: paths under the project root are shown
// relative to it, paths under the home folder as ~/…, and the user's own inputs elsewhere by name.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { projectRoot } from "../backend/native";
import { writeFileAtomic } from "../io/atomic";

/** One replacement: an absolute path prefix and how it is shown instead. */
export interface PathRule { from: string; to: string }

function spellings(p: string): string[] {
  const out = [path.resolve(p)];
  try {
    out.push(fs.realpathSync(p));
  } catch { /* does not exist (yet) */ }
  return [...new Set(out)].filter((s) => s !== path.parse(s).root);
}

/**
 * The rules for a report: each of `named` (the user's inputs, the report folder) that lies outside the project and
 * the home folder is shown by its name; then the project root as relative paths, then the home folder as `~`.
 */
export function pathRules(named: string[] = [], opts: { root?: string; home?: string } = {}): PathRule[] {
  const root = opts.root ?? projectRoot;
  const home = opts.home ?? os.homedir();
  const inside = (p: string, dir: string) => spellings(dir).some((d) => p === d || p.startsWith(d + path.sep));
  const rules: PathRule[] = [];
  for (const p of named.filter((n) => path.isAbsolute(n))) {
    for (const s of spellings(p)) if (!inside(s, root) && !inside(s, home)) rules.push({ from: s, to: path.basename(s) });
  }
  // Longest first, so a user's folder inside another named folder keeps its own name.
  rules.sort((a, b) => b.from.length - a.from.length);
  for (const s of spellings(root)) rules.push({ from: s, to: "." });
  for (const s of spellings(home)) rules.push({ from: s, to: "~" });
  return rules;
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** `text` with every path the rules name replaced (a prefix matches only at a path boundary). */
export function scrubPaths(text: string, rules: PathRule[]): string {
  let out = text;
  for (const { from, to } of rules) {
    // "<from>/x" becomes "x" for the project root ("./x" would read oddly in prose), "<to>/x" otherwise.
    out = out.replace(new RegExp(`${escapeRe(from)}/(?=[^\\s"'<>])|${escapeRe(from)}(?![\\w-]|\\.\\w)`, "g"),
      (m) => (m.endsWith("/") ? (to === "." ? "" : `${to}/`) : to));
  }
  return out;
}

/** Rewrites a text file (notebook, HTML, JSON) in place without the rules' paths; returns whether it changed. */
export function scrubFile(file: string, rules: PathRule[]): boolean {
  const text = fs.readFileSync(file, "utf8");
  const out = scrubPaths(text, rules);
  if (out === text) return false;
  writeFileAtomic(file, out);
  return true;
}

/** Scrubs every .ipynb, .html and .json file under a report folder; returns the files changed. */
export function scrubReportDir(dir: string, rules: PathRule[]): string[] {
  const changed: string[] = [];
  const visit = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) visit(p);
      else if (/\.(ipynb|html|json|csv|md|txt)$/.test(e.name) && scrubFile(p, rules)) changed.push(p);
    }
  };
  visit(dir);
  return changed;
}
