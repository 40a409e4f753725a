#!/usr/bin/env node
// Builds native/build/darkmatter_blas.node against the system OpenBLAS at install time. It never fails the install:
// when a compiler, Node's headers or OpenBLAS are missing it records why in native/build/status.json, and the
// backend then says which slower backend runs instead.
"use strict";
const { execFileSync } = require("node:child_process");
const fs = require("node:fs");
const path = require("node:path");

const here = __dirname;
const outDir = path.join(here, "build");
const target = path.join(outDir, "darkmatter_blas.node");
const statusFile = path.join(outDir, "status.json");

function writeStatus(status) {
  fs.mkdirSync(outDir, { recursive: true });
  const tmp = `${statusFile}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(status, null, 2) + "\n");
  fs.renameSync(tmp, statusFile);
}

function nodeIncludeDir() {
  const candidates = [
    process.env.npm_config_nodedir && path.join(process.env.npm_config_nodedir, "include", "node"),
    path.join(path.dirname(process.execPath), "..", "include", "node"),
    "/usr/include/node",
    "/usr/local/include/node",
  ].filter(Boolean);
  return candidates.find((d) => fs.existsSync(path.join(d, "node_api.h")));
}

function main() {
  if (process.env.DARKMATTER_SKIP_NATIVE === "1") {
    writeStatus({ ok: false, reason: "DARKMATTER_SKIP_NATIVE=1 was set at install time" });
    console.log("darkmatter: native BLAS build skipped (DARKMATTER_SKIP_NATIVE=1)");
    return;
  }
  const include = nodeIncludeDir();
  if (!include) {
    writeStatus({ ok: false, reason: "Node's C headers (node_api.h) were not found; install Node's development headers" });
    console.log("darkmatter: native BLAS not built: node_api.h not found (the wasm backend will be used)");
    return;
  }
  const cc = process.env.CC || "cc";
  const tmpOut = `${target}.${process.pid}.tmp`;
  // -O3 -fopenmp-simd -fno-trapping-math: the fused LM kernels (lm_kernels.c) are written as loops gcc vectorises
  // (branch-free exp, simd reductions); no OpenMP runtime is linked and results do not depend on FP exception flags.
  const args = ["-shared", "-fPIC", "-O3", "-fopenmp-simd", "-fno-trapping-math", "-std=c11", "-Wall", "-DNODE_GYP_MODULE_NAME=darkmatter_blas",
    `-I${include}`, path.join(here, "blas.c"), path.join(here, "lm_kernels.c"), "-o", tmpOut, "-lopenblas", "-lm", "-lpthread"];
  try {
    fs.mkdirSync(outDir, { recursive: true });
    execFileSync(cc, args, { stdio: ["ignore", "pipe", "pipe"], timeout: 120_000 });
    fs.renameSync(tmpOut, target);
    const blas = require(target);
    const cfg = blas.config();
    writeStatus({ ok: true, built: new Date().toISOString(), openblas: cfg.config, core: cfg.core });
    console.log(`darkmatter: native BLAS built (${cfg.config.trim()})`);
  } catch (err) {
    fs.rmSync(tmpOut, { force: true });
    const stderr = err && err.stderr ? String(err.stderr) : String(err && err.message ? err.message : err);
    const missingBlas = /openblas/i.test(stderr);
    const reason = missingBlas
      ? "OpenBLAS was not found: install it (Debian: apt-get install libopenblas-dev) and run `npm rebuild` or `node native/build.js`"
      : `compiling native/blas.c failed: ${stderr.split("\n").slice(0, 5).join(" ").slice(0, 500)}`;
    writeStatus({ ok: false, reason });
    console.log(`darkmatter: native BLAS not built: ${reason} (the wasm backend will be used)`);
  }
}
main();
