// The API reference (TypeDoc, `npm run docs`) builds with no warnings but known ones, and lists every library symbol
// notebook 11 ("Exploring by hand") uses: each function, class, method, property and option the notebook's cells
// touch, found with the TypeScript checker, has a documented entry in TypeDoc's JSON output.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as ts from "typescript";

const root = path.resolve(__dirname, "..", "..");
const src = path.join(root, "src");
const NOTEBOOK = path.join(root, "notebooks", "11-explore-by-hand.ipynb");
/** Warnings that do not matter: no git remote for source links; warnings.ts's private Listener type (exporting it would change every cache key). */
const KNOWN_WARNINGS = [/git remote "origin" was not valid/, /^Listener, defined in \.\/src\/warnings\.ts/];

/** Used but left without a comment: a comment in activations/store.ts would change every activation store's cache key. */
const UNDOCUMENTED_OK = ["activations/store.ts close"];

interface Reflection { name: string; comment?: unknown; signatures?: Reflection[]; sources?: { fileName: string; line: number }[] }

/**
 * "activations/table.ts:123 withValues" for every reflection, and whether it (or a signature of it) has a comment.
 * Walks the whole JSON: inline types (an option in a parameter's object type) hold reflections too.
 */
function reflections(project: unknown): Map<string, boolean> {
  const out = new Map<string, boolean>();
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) return v.forEach(walk);
    if (!v || typeof v !== "object") return;
    const r = v as Reflection;
    if (typeof r.name === "string" && Array.isArray(r.sources)) {
      const documented = !!r.comment || (r.signatures ?? []).some((s) => !!s.comment);
      for (const s of r.sources) out.set(`${s.fileName}:${s.line} ${r.name}`, documented || (out.get(`${s.fileName}:${s.line} ${r.name}`) ?? false));
    }
    Object.values(v).forEach(walk);
  };
  walk(project);
  return out;
}

/** The library symbols notebook 11's code uses, as "file:line name" of their declarations in src/. */
function notebookSymbols(): Set<string> {
  const nb = JSON.parse(fs.readFileSync(NOTEBOOK, "utf8")) as { cells: { cell_type: string; source: string | string[] }[] };
  // The cells as one module, importing the sources (the kernel imports their compiled declarations, the same API).
  const code = nb.cells.filter((c) => c.cell_type === "code").map((c) => [c.source].flat().join("")).join("\n")
    .replace(/"\.\/build\/index"/g, "\"./src/index\"") + "\nexport {};\n";
  const file = path.join(root, "notebook-11.ts");
  const options: ts.CompilerOptions = { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, moduleResolution: ts.ModuleResolutionKind.NodeJs,
    esModuleInterop: true, skipLibCheck: true, types: ["node"], resolveJsonModule: true, noEmit: true };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host), fileExists = host.fileExists.bind(host), readFile = host.readFile.bind(host);
  host.getSourceFile = (f, v, ...rest) => (f === file ? ts.createSourceFile(f, code, v) : getSourceFile(f, v, ...rest));
  host.fileExists = (f) => f === file || fileExists(f);
  host.readFile = (f) => (f === file ? code : readFile(f));
  const program = ts.createProgram([file], options, host);
  const sf = program.getSourceFile(file)!;
  const errors = ts.getPreEmitDiagnostics(program, sf).map((d) => ts.flattenDiagnosticMessageText(d.messageText, "\n"));
  assert.deepEqual(errors, [], "notebook 11's cells do not type-check");
  const checker = program.getTypeChecker();
  const used = new Set<string>();
  const add = (symbol: ts.Symbol | undefined) => {
    if (!symbol) return;
    const s = symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
    for (const d of s.declarations ?? []) {
      const name = ts.getNameOfDeclaration(d);
      const f = d.getSourceFile().fileName;
      if (!name || !f.startsWith(src + path.sep) || ts.isSourceFile(d)) continue; // dm.<folder> namespaces are modules
      const line = d.getSourceFile().getLineAndCharacterOfPosition(name.getStart()).line + 1;
      used.add(`${path.relative(src, f).split(path.sep).join("/")}:${line} ${s.name}`);
    }
  };
  const visit = (node: ts.Node): void => {
    if (ts.isPropertyAccessExpression(node)) add(checker.getSymbolAtLocation(node.name));
    else if (ts.isQualifiedName(node)) add(checker.getSymbolAtLocation(node.right));
    else if ((ts.isPropertyAssignment(node) || ts.isShorthandPropertyAssignment(node)) && ts.isObjectLiteralExpression(node.parent)) {
      // An option passed in an object literal: the property of the parameter's type it fills.
      const t = checker.getContextualType(node.parent);
      if (t && ts.isIdentifier(node.name)) add(checker.getPropertyOfType(checker.getNonNullableType(t), node.name.text));
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return used;
}

test("the API reference builds with only known warnings and documents every library symbol notebook 11 uses", { timeout: 300_000 }, (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dm-api-docs-"));
  try {
    const json = path.join(dir, "api.json");
    const r = spawnSync(process.execPath, [path.join(root, "node_modules", "typedoc", "bin", "typedoc"), "--options", path.join(root, "typedoc.json"),
      "--out", path.join(dir, "html"), "--json", json], { cwd: root, encoding: "utf8", timeout: 280_000 });
    const output = `${r.stdout}${r.stderr}`.replace(/\x1b\[[0-9;]*m/g, "");
    assert.equal(r.status, 0, output);
    const warnings = output.split("\n").filter((l) => l.startsWith("[warning] ")).map((l) => l.slice(10));
    assert.deepEqual(warnings.filter((w) => !KNOWN_WARNINGS.some((k) => k.test(w))), [], "new TypeDoc warnings");

    const documented = reflections(JSON.parse(fs.readFileSync(json, "utf8")));
    const used = notebookSymbols();
    const names = new Set([...used].map((s) => s.split(" ")[1]));
    for (const n of ["run", "withValues", "loadSae", "forward", "decomposeSaeError", "errorComponents", "latentPages", "showLatentsOn", "latentsOn",
      "trainSae", "toSae", "table", "plot", "hooks", "caption", "nLatents", "linearMap", "entries"]) assert.ok(names.has(n), `notebook 11's ${n} was not found`);
    t.diagnostic(`${used.size} library symbols used by notebook 11, ${documented.size} entries in the reference`);
    const missing = [...used].filter((s) => !documented.has(s)).sort();
    const undocumented = [...used].filter((s) => documented.get(s) === false && !UNDOCUMENTED_OK.includes(s.replace(/:\d+ /, " "))).sort();
    assert.deepEqual(missing, [], "used by notebook 11 but absent from the API reference");
    assert.deepEqual(undocumented, [], "used by notebook 11 but without a doc comment");
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
