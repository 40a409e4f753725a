// A bad environment gets a clear message: without the native BLAS the CLI says which backend runs instead, and
// without Jupyter and without root the setup script says exactly what to install.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const root = path.resolve(__dirname, "..", "..");
const { DARKMATTER_BACKEND: _ignored, ...baseEnv } = process.env;

test("without the native BLAS the backend falls back to wasm and says why", () => {
  const r = spawnSync(process.execPath, [path.join(root, "bin", "darkmatter.js"), "backend"],
    { encoding: "utf8", env: { ...process.env, DARKMATTER_NO_NATIVE: "1", } });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^backend: wasm$/m);
  assert.match(r.stdout, /wasm-blas: native BLAS unavailable: disabled by DARKMATTER_NO_NATIVE=1/);
});

test("forcing a backend that cannot run is a clear error", () => {
  const r = spawnSync(process.execPath, [path.join(root, "bin", "darkmatter.js"), "backend"],
    { encoding: "utf8", env: { ...baseEnv, DARKMATTER_NO_NATIVE: "1", DARKMATTER_BACKEND: "wasm-blas" } });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /backend wasm-blas was requested but cannot run here: native BLAS unavailable/);
});

test("setup without Jupyter and without root says exactly what to install and stops", { skip: process.getuid?.() !== 0 && "needs root to drop privileges" }, (t) => {
  if (spawnSync("setpriv", ["--version"]).status !== 0) return t.skip("needs setpriv to drop privileges");
  // The unprivileged user gets its own readable copy of the script (it stops before touching anything else), so the
  // test checks the same thing wherever the project was cloned, a private (0700) directory included.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "setup-nobody-"));
  try {
    fs.mkdirSync(path.join(dir, "scripts"));
    fs.copyFileSync(path.join(root, "scripts", "setup.sh"), path.join(dir, "scripts", "setup.sh"));
    for (const p of [dir, path.join(dir, "scripts")]) fs.chmodSync(p, 0o755);
    fs.chmodSync(path.join(dir, "scripts", "setup.sh"), 0o644);
    const r = spawnSync("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "bash", path.join(dir, "scripts", "setup.sh")],
      { encoding: "utf8", cwd: dir, env: { ...process.env, JUPYTER: "/nonexistent/jupyter", HOME: dir } });
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /apt-get install -y --no-install-recommends .*jupyter-nbconvert jupyter-client jupyter-notebook/);
    assert.match(r.stdout, /pip install --user nbconvert nbclient notebook/);
    assert.match(r.stderr, /nbconvert is required/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
