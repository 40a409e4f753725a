#!/usr/bin/env node
// Writes the project's Jupyter kernel spec. By default it goes project-locally to kernel/share/jupyter/kernels/
// (found by Jupyter through JUPYTER_PATH=<project>/kernel/share/jupyter, which the project's scripts set);
// `--user` also installs it for the current user (~/.local/share/jupyter/kernels) so a plain `jupyter notebook`
// started anywhere lists it. Absolute paths, because Jupyter starts kernels from the notebook's folder.
"use strict";
const fs = require("fs");
const path = require("path");
const { execFileSync } = require("child_process");

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

function writeSpec(dir) {
  fs.mkdirSync(dir, { recursive: true });
  const target = path.join(dir, "kernel.json");
  const tmp = `${target}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(spec, null, 2) + "\n");
  fs.renameSync(tmp, target);
  return target;
}

const local = writeSpec(path.join(root, "kernel", "share", "jupyter", "kernels", name));
console.log(`kernel spec "${spec.display_name}" (${name}) written to ${local}`);
if (process.argv.includes("--user")) {
  try {
    execFileSync("jupyter", ["kernelspec", "install", "--user", "--replace", "--name", name, path.dirname(local)], { stdio: "inherit" });
  } catch (err) {
    console.error(`could not run \`jupyter kernelspec install --user\`: ${err.message}. Is Jupyter installed?`);
    process.exit(1);
  }
}
