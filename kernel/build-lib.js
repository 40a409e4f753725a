#!/usr/bin/env node
// Keeps build/ (src/ compiled to JavaScript + declarations) current. Notebooks import the library from build/:
// tslab type-checks every imported .ts file at each kernel start (~15–30 s for src/ on a 2-core machine), but only
// parses declarations. A stamp of src/'s file names, sizes and times says when to rebuild; a lock folder keeps two
// kernels starting at once from building over each other.
"use strict";
const { execFileSync } = require("child_process");
const crypto = require("crypto");
const fs = require("fs");
const path = require("path");

const root = path.resolve(__dirname, "..");
const buildDir = path.join(root, "build");
const stampFile = path.join(buildDir, ".source-stamp");
// The sources as compiled (module id → sha256), from which src/code-version.ts fingerprints cached artifacts.
const hashesFile = path.join(buildDir, ".source-hashes.json");
const lockDir = path.join(root, ".build.lock");

function sourceStamp() {
  const h = crypto.createHash("sha256");
  const visit = (dir) => {
    for (const name of fs.readdirSync(dir).sort()) {
      const p = path.join(dir, name);
      const st = fs.statSync(p);
      if (st.isDirectory()) visit(p);
      else if (name.endsWith(".ts")) h.update(`${path.relative(root, p)}:${st.size}:${st.mtimeMs}\n`);
    }
  };
  visit(path.join(root, "src"));
  for (const f of ["tsconfig.json", "tsconfig.build.json"]) h.update(fs.readFileSync(path.join(root, f)));
  return h.digest("hex");
}

const isCurrent = (stamp) => fs.existsSync(stampFile) && fs.existsSync(hashesFile) && fs.readFileSync(stampFile, "utf8") === stamp;

/** sha256 of every src/*.ts file's content, keyed "pipeline/cache" for src/pipeline/cache.ts. */
function sourceHashes() {
  const out = {};
  const visit = (dir) => {
    for (const name of fs.readdirSync(dir).sort()) {
      const p = path.join(dir, name);
      if (fs.statSync(p).isDirectory()) visit(p);
      else if (name.endsWith(".ts") && !name.endsWith(".d.ts")) {
        out[path.relative(path.join(root, "src"), p).slice(0, -3).split(path.sep).join("/")] = crypto.createHash("sha256").update(fs.readFileSync(p)).digest("hex");
      }
    }
  };
  visit(path.join(root, "src"));
  return JSON.stringify(out, null, 1);
}
const sleep = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/** Rebuilds build/ when src/ changed since the last build; returns true when it built. Throws with tsc's output. */
function ensureLibraryBuilt() {
  const stamp = sourceStamp();
  if (isCurrent(stamp)) return false;
  for (let waited = 0; ; waited += 200) {
    try {
      fs.mkdirSync(lockDir);
      break;
    } catch (e) {
      if (e.code !== "EEXIST") throw e;
      // Another process is building: wait for it (a lock older than 5 minutes is left over from a crash).
      const age = Date.now() - fs.statSync(lockDir).mtimeMs;
      if (age > 300_000) fs.rmSync(lockDir, { recursive: true, force: true });
      else sleep(200);
      if (isCurrent(stamp)) return false;
    }
  }
  try {
    if (isCurrent(stamp)) return false;
    // Compile until the sources did not change during the compilation, so the hashes describe what was compiled.
    for (let hashes = sourceHashes(), before = null; hashes !== before; before = hashes, hashes = sourceHashes()) {
      try {
        execFileSync(process.execPath, [path.join(root, "node_modules", "typescript", "bin", "tsc"), "-p", path.join(root, "tsconfig.build.json")],
          { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
      } catch (e) {
        throw new Error(`compiling src/ into build/ failed:\n${(e.stdout || "").toString()}${(e.stderr || "").toString()}`);
      }
      const tmpHashes = `${hashesFile}.${process.pid}.tmp`;
      fs.writeFileSync(tmpHashes, hashes);
      fs.renameSync(tmpHashes, hashesFile);
    }
    const tmp = `${stampFile}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, stamp);
    fs.renameSync(tmp, stampFile);
    return true;
  } finally {
    fs.rmSync(lockDir, { recursive: true, force: true });
  }
}

module.exports = { ensureLibraryBuilt };

if (require.main === module) {
  try {
    console.log(ensureLibraryBuilt() ? "build/: compiled from src/" : "build/: up to date");
  } catch (e) {
    console.error(e.message);
    process.exit(1);
  }
}
