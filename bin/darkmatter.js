#!/usr/bin/env node
// The `darkmatter` command: runs the TypeScript CLI through tsx, so there is no build step.
"use strict";
require("tsx/cjs/api").register();
require("../src/cli/main.ts").main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err) => { console.error(`darkmatter: ${err && err.message ? err.message : err}`); process.exitCode = 1; },
);
