#!/usr/bin/env node
// Writes the project's Jupyter kernel spec (darkmatter-ts) in two places, idempotently:
//   - project-locally, kernel/share/jupyter/kernels/ (the project's own scripts find it through JUPYTER_PATH);
//   - for the current user, in Jupyter's user data folder (~/.local/share/jupyter/kernels on Linux,
//     ~/Library/Jupyter on macOS, %APPDATA%\jupyter on Windows, or $JUPYTER_DATA_DIR), where a plain
//     `jupyter lab`, `jupyter notebook`, `jupyter nbconvert` and VS Code find it with no environment variables.
// The spec is written directly (no `jupyter` needed) and only when it changed. `--local-only` skips the user copy.
// Absolute paths, because Jupyter starts kernels from the notebook's folder; the spec points at this checkout, so
// running setup in another checkout re-points it there.
"use strict";
const fs = require("fs");
const os = require("os");
const path = require("path");

const root = path.resolve(__dirname, "..");
const name = "darkmatter-ts";
const spec = {
  argv: [process.execPath, path.join(root, "kernel", "launch.js"), "{connection_file}"],
  display_name: "TypeScript (dark matter)",
  language: "typescript",
  interrupt_mode: "message",
  env: { DARKMATTER_ROOT: root },
  metadata: { debugger: false },
};

/** Jupyter's user data folder, as jupyter_core.paths.jupyter_data_dir() computes it. */
function jupyterDataDir() {
  if (process.env.JUPYTER_DATA_DIR) return path.resolve(process.env.JUPYTER_DATA_DIR);
  const home = os.homedir();
  if (process.platform === "darwin") return path.join(home, "Library", "Jupyter");
  if (process.platform === "win32") return path.join(process.env.APPDATA || path.join(home, "AppData", "Roaming"), "jupyter");
  const xdg = process.env.XDG_DATA_HOME || path.join(home, ".local", "share");
  return path.join(xdg, "jupyter");
}

/** Writes kernel.json into dir (atomically) unless it already holds exactly this spec; returns whether it wrote. */
function writeSpec(dir) {
  const text = JSON.stringify(spec, null, 2) + "\n";
  const target = path.join(dir, "kernel.json");
  if (fs.existsSync(target) && fs.readFileSync(target, "utf8") === text) return { target, wrote: false };
  fs.mkdirSync(dir, { recursive: true });
  const tmp = `${target}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, target);
  return { target, wrote: true };
}

const local = writeSpec(path.join(root, "kernel", "share", "jupyter", "kernels", name));
console.log(`kernel spec "${spec.display_name}" (${name}) ${local.wrote ? "written to" : "up to date in"} ${local.target}`);
if (!process.argv.includes("--local-only")) {
  try {
    const user = writeSpec(path.join(jupyterDataDir(), "kernels", name));
    console.log(`kernel spec for this user ${user.wrote ? "written to" : "up to date in"} ${user.target} (jupyter lab/notebook/nbconvert and VS Code find it)`);
  } catch (err) {
    console.error(`could not write the user kernel spec (${err.message}); use JUPYTER_PATH=${path.join(root, "kernel", "share", "jupyter")} instead`);
  }
}
