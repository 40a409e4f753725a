// A bad environment gets a clear message: without the native BLAS the CLI says which backend runs instead, and
// without Jupyter and without root the setup script says exactly what to install.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import { spawnSync } from "child_process";
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

test("setup without Jupyter and without root says exactly what to install and stops", { skip: process.getuid?.() !== 0 && "needs root to drop privileges" }, () => {
  const hasSetpriv = spawnSync("setpriv", ["--version"]).status === 0;
  if (!hasSetpriv) return;
  const r = spawnSync("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "bash", path.join(root, "scripts", "setup.sh")],
    { encoding: "utf8", env: { ...process.env, JUPYTER: "/nonexistent/jupyter", HOME: "/tmp" } });
  assert.equal(r.status, 1, r.stdout + r.stderr);
  assert.match(r.stdout, /apt-get install -y --no-install-recommends .*jupyter-nbconvert jupyter-client jupyter-notebook/);
  assert.match(r.stdout, /pip install --user nbconvert nbclient notebook/);
  assert.match(r.stderr, /nbconvert is required/);
});
