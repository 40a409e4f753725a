#!/usr/bin/env node
// Starts the tslab kernel in the project root, whatever folder Jupyter starts it in, so that notebooks can
// `import * as dm from "./build/index"` (the library compiled from src/, rebuilt here when src/ changed).
"use strict";
const path = require("path");
const root = path.resolve(__dirname, "..");
const tslab = path.join(root, "node_modules", "tslab", "dist", "main.js");
process.chdir(root);
process.env.DARKMATTER_ROOT = root;
const connectionFile = process.argv[2];
if (!connectionFile) {
  console.error("usage: kernel/launch.js CONNECTION_FILE (Jupyter passes it)");
  process.exit(2);
}
// Notebooks import the compiled library (build/index): bring it up to date with src/ first.
try {
  require("./build-lib").ensureLibraryBuilt();
} catch (e) {
  console.error(`darkmatter kernel: ${e.message}`);
  process.exit(1);
}
// Fixes to tslab (object shorthand across cells, execution counts): see kernel/tslab-patches.js.
require("./tslab-patches").applyTslabPatches(root);
process.argv = [process.argv[0], "tslab", "kernel", "--config-path", connectionFile];
require(tslab).main();
