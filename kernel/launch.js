#!/usr/bin/env node
// Starts the tslab kernel in the project root, whatever folder Jupyter starts it in, so that notebooks can
// `import … from "../src"` and tslab compiles the library with rootDir = the project.
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
process.argv = [process.argv[0], "tslab", "kernel", "--config-path", connectionFile];
require(tslab).main();
