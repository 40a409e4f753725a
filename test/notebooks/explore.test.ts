// Kernel friction: after the set-up command (kernel/install.js), a plain `jupyter nbconvert --execute` with no
// JUPYTER_PATH finds the kernel through the user's Jupyter data folder; executed notebooks carry execution counts; the
// object shorthand `({ a })` for an earlier cell's variable works (kernel/tslab-patches.js); chart specs are checked
// against Plotly's types in the kernel. (Notebook 11 itself runs with the others in notebooks.test.ts.)
import { test } from "node:test";
import * as assert from "node:assert/strict";
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const root = path.resolve(__dirname, "..", "..");
// kernel/ is plain JavaScript (it runs before anything is compiled).
// eslint-disable-next-line @typescript-eslint/no-var-requires
const { patchConverterSource } = require("../../kernel/tslab-patches") as { patchConverterSource(src: string): string | null };
const hasJupyter = spawnSync("jupyter", ["nbconvert", "--version"]).status === 0;

test("the shorthand patch finds its anchor in the installed tslab", () => {
  const src = fs.readFileSync(require.resolve("tslab/dist/converter.js"), "utf8");
  const patched = patchConverterSource(src);
  assert.ok(patched !== null, "tslab's converter changed: update kernel/tslab-patches.js");
  assert.match(patched!, /getShorthandAssignmentValueSymbol/);
  assert.equal(patchConverterSource("something else"), null);
});

test("a new notebook runs under plain nbconvert after install.js: counts, shorthand, typed charts", { skip: !hasJupyter && "jupyter is not installed", timeout: 600_000 }, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dm-kernel-"));
  const data = path.join(dir, "jupyter-data");
  const env: NodeJS.ProcessEnv = { ...process.env, JUPYTER_DATA_DIR: data };
  delete env.JUPYTER_PATH;
  execFileSync(process.execPath, [path.join(root, "kernel", "install.js")], { env });
  assert.ok(fs.existsSync(path.join(data, "kernels", "darkmatter-ts", "kernel.json")));
  // Idempotent: a second run leaves the spec as it is.
  assert.match(execFileSync(process.execPath, [path.join(root, "kernel", "install.js")], { env, encoding: "utf8" }), /up to date in .*jupyter-data/);
  const sources = [
    "const a = 41;",
    "const o = ({ a });\no.a + 1",
    "import * as dm from \"./build/index\";\nconst ok: dm.viz.Data = { type: \"bar\", x: [\"a\"], y: [1] };\nok.type",
    "const bad: dm.viz.Data = { type: \"no-such-trace\" };",
  ];
  const nb = {
    cells: sources.map((source, i) => ({ cell_type: "code", id: `c${i}`, metadata: {}, execution_count: null, outputs: [], source })),
    metadata: { kernelspec: { name: "darkmatter-ts", display_name: "TypeScript (dark matter)", language: "typescript" } },
    nbformat: 4, nbformat_minor: 5,
  };
  fs.writeFileSync(path.join(dir, "new.ipynb"), JSON.stringify(nb));
  execFileSync("jupyter", ["nbconvert", "--to", "notebook", "--execute", "--allow-errors", "--ExecutePreprocessor.kernel_name=darkmatter-ts",
    "--ExecutePreprocessor.timeout=300", "--output", "out.ipynb", "new.ipynb"], { cwd: dir, env, stdio: "pipe" });
  const out = JSON.parse(fs.readFileSync(path.join(dir, "out.ipynb"), "utf8")) as { cells: { execution_count: number | null; outputs: { name?: string; text?: string | string[] }[] }[] };
  const text = (i: number, name: string) => out.cells[i].outputs.filter((o) => o.name === name).map((o) => [o.text ?? ""].flat().join("")).join("");
  assert.deepEqual(out.cells.slice(0, 3).map((c) => c.execution_count), [1, 2, 3], "execution counts");
  assert.equal(text(1, "stdout").trim(), "42", `shorthand: ${text(1, "stderr")}`);
  assert.equal(text(2, "stdout").trim(), "bar", text(2, "stderr"));
  assert.match(text(3, "stderr"), /no-such-trace/, "a wrong trace type is a compile error in the kernel");
  fs.rmSync(dir, { recursive: true, force: true });
});
