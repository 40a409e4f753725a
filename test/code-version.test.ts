// Code-versioned caches: an edit to an analysis's code recomputes its cached results, an unrelated edit does not,
// and the fingerprint is the same under tsx (src/) and from the compiled build/ the notebooks import.
import { before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { initBackend } from "../src/backend/index";
import { codeClosure, codeFingerprint } from "../src/code-version";
import { writeNpy } from "../src/io/index";
import { normals } from "./helpers/random";
import { featureSae } from "./pipeline/fixtures";

const root = path.resolve(__dirname, "..");
const tsx = ["--import", "tsx"];

/** A copy of the project's sources (node_modules and the native addon linked) that a test may edit. */
function copyProject(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dm-project-copy-"));
  fs.cpSync(path.join(root, "src"), path.join(dir, "src"), { recursive: true });
  for (const f of ["package.json", "tsconfig.json"]) fs.copyFileSync(path.join(root, f), path.join(dir, f));
  for (const d of ["node_modules", "native"]) fs.symlinkSync(path.join(root, d), path.join(dir, d));
  return dir;
}

// The analysis run in the copy: the family decomposition (notebook 02's table) of one SAE on a .npy of activations.
const RUN = `
import { initBackend } from "./src/backend/index";
import { openContext } from "./src/pipeline/context";
import { decomposeFamily } from "./src/pipeline/decompose-family";
(async () => {
  await initBackend();
  const ctx = await openContext({ profile: "ci", saeDir: process.argv[2], activations: process.argv[3] });
  const [d] = await decomposeFamily(ctx, { bootstrap: false });
  console.log(JSON.stringify({ evaluated: d.result.rows.evaluated, fvu: d.result.fvu.value }));
  ctx.close();
})();
`;

describe("code-versioned caches", () => {
  let data: string;
  before(async () => {
    await initBackend();
    data = fs.mkdtempSync(path.join(os.tmpdir(), "dm-code-version-"));
    featureSae(8, 16, 2, 4, "blocks.0.hook_resid_post", path.join(data, "saes"));
    writeNpy(path.join(data, "acts.npy"), { dtype: "float32", shape: [1000, 8], data: normals(8000, 3) });
  });

  it("an edit to an analysis module recomputes its cached result with the new code; an unrelated edit reuses it", () => {
    const copy = copyProject();
    try {
      fs.writeFileSync(path.join(copy, "run.ts"), RUN);
      const cache = path.join(data, "cache");
      const run = () => JSON.parse(execFileSync(process.execPath, [...tsx, "run.ts", path.join(data, "saes"), path.join(data, "acts.npy")],
        { cwd: copy, encoding: "utf8", env: { ...process.env, DARKMATTER_ANALYSIS_CACHE: cache } }).trim().split("\n").pop()!) as { evaluated: number; fvu: number };
      const entries = () => fs.readdirSync(path.join(cache, "decomposition")).filter((n) => !n.startsWith(".") && !n.endsWith(".lock")).length;
      const edit = (file: string, from: string, to: string) => {
        const p = path.join(copy, "src", file);
        const text = fs.readFileSync(p, "utf8");
        assert.ok(text.includes(from), `${file} no longer contains ${from}`);
        fs.writeFileSync(p, text.replace(from, to));
      };

      const first = run();
      assert.equal(first.evaluated, 400); // 60 % of the 1000 rows fit b*, 40 % are evaluated
      assert.equal(entries(), 1);
      assert.deepEqual(run(), first);
      assert.equal(entries(), 1, "an unchanged project recomputed");

      // Unrelated: the text generator is not imported by the decomposition.
      edit("lm/generate.ts", "export function", "// an unrelated edit\nexport function");
      assert.deepEqual(run(), first);
      assert.equal(entries(), 1, "an edit outside the decomposition's code recomputed it");

      // The analysis's own constant: the default share of rows that fit b* (imported by the decomposition).
      edit("darkmatter/common.ts", "Math.round(0.6 * rows)", "Math.round(0.5 * rows)");
      const second = run();
      assert.equal(second.evaluated, 500, "the cached result of the old code was returned");
      assert.notEqual(second.fvu, first.fvu);
      assert.equal(entries(), 2);
    } finally {
      fs.rmSync(copy, { recursive: true, force: true });
    }
  });

  it("a module's closure holds what it imports at run time, not what it imports only as types", () => {
    const ids = (f: string) => codeClosure(require.resolve(f)).map((m) => m.id);
    const decompose = ids("../src/pipeline/decompose-family");
    assert.ok(decompose.includes("darkmatter/decomposition") && decompose.includes("darkmatter/common"));
    // context.ts is imported for its AnalysisContext type only; the LM, the trainer and the store builder not at all.
    for (const absent of ["pipeline/context", "lm/model", "train/trainer", "activations/build"]) assert.ok(!decompose.includes(absent), absent);
    const store = ids("../src/activations/build");
    assert.ok(store.includes("lm/model") && !store.includes("train/trainer") && !store.includes("darkmatter/decomposition"));
    assert.match(codeFingerprint(require.resolve("../src/activations/build")), /^[0-9a-f]{20}$/);
  });

  it("is the same under tsx and from build/, so a notebook reuses what the command line cached", { timeout: 600_000 }, () => {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const { ensureLibraryBuilt } = require("../kernel/build-lib.js") as { ensureLibraryBuilt(): boolean };
    ensureLibraryBuilt();
    const modules = ["pipeline/decompose-family", "activations/build", "family/family", "pipeline/error-saes"];
    const fromBuild = JSON.parse(execFileSync(process.execPath, ["-e", `
      require(${JSON.stringify(path.join(root, "build", "index.js"))});
      const cv = require(${JSON.stringify(path.join(root, "build", "code-version.js"))});
      console.log(JSON.stringify(${JSON.stringify(modules)}.map((m) => cv.codeFingerprint(require.resolve(${JSON.stringify(path.join(root, "build"))} + "/" + m + ".js")))));
    `], { encoding: "utf8" })) as string[];
    require("../src/index");
    const fromSrc = modules.map((m) => codeFingerprint(require.resolve(`../src/${m}`)));
    assert.deepEqual(fromBuild, fromSrc);
    assert.equal(new Set(fromSrc).size, modules.length);
  });
});
