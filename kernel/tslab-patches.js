// Two fixes to tslab 1.0.22, applied by kernel/launch.js before the kernel starts (node_modules stays untouched):
//
// 1. Object shorthand for a variable of an earlier cell. tslab rewrites references to earlier cells' variables into
//    `exports.name`, finding them with `checker.getSymbolAtLocation(identifier)`; for the shorthand `({ a })` that
//    returns the *property* symbol, so `a` stays bare and the cell type-checks, then fails with
//    "ReferenceError: a is not defined". The patch rewrites `{ a }` to `{ a: exports.a }` when the shorthand's value
//    symbol (`getShorthandAssignmentValueSymbol`) was declared in an earlier cell.
// 2. Execution counts. tslab never broadcasts `execute_input`, the message that carries a cell's execution count
//    to front ends; nbconvert's ExecutePreprocessor takes counts only from it, so executed notebooks had none. The
//    patch broadcasts it before each cell runs, as the Jupyter protocol asks kernels to do.
"use strict";
const fs = require("fs");
const Module = require("module");
const path = require("path");

const SHORTHAND_ANCHOR = `        function wrapPrevIdentifier(node) {
            var _a, _b;
            if (!ts.isIdentifier(node)) {`;
const SHORTHAND_PATCH = `        function wrapPrevIdentifier(node) {
            var _a, _b;
            if (ts.isShorthandPropertyAssignment(node) && !node.objectAssignmentInitializer) {
                // darkmatter patch: ({ a }) where a comes from an earlier cell.
                const valueSymbol = checker.getShorthandAssignmentValueSymbol(node);
                const earlier = ((valueSymbol && valueSymbol.declarations) || []).some((d) => d.getSourceFile() === declsFile);
                if (earlier) {
                    return ts.factory.createPropertyAssignment(ts.factory.createIdentifier(node.name.text),
                        ts.factory.createPropertyAccessExpression(ts.factory.createIdentifier("exports"), ts.factory.createIdentifier(node.name.text)));
                }
            }
            if (!ts.isIdentifier(node)) {`;

/** The converter's source with the shorthand fix, or null when tslab changed and the anchor is gone. */
function patchConverterSource(src) {
  if (!src.includes(SHORTHAND_ANCHOR)) return null;
  return src.replace(SHORTHAND_ANCHOR, SHORTHAND_PATCH);
}

/** Loads tslab's converter.js through the patch (call before tslab is required). */
function installConverterPatch(root) {
  const converter = require.resolve("tslab/dist/converter.js", { paths: [root] });
  const original = Module._extensions[".js"];
  Module._extensions[".js"] = function (module, filename) {
    if (filename === converter) {
      const patched = patchConverterSource(fs.readFileSync(filename, "utf8"));
      if (patched !== null) return module._compile(patched, filename);
      process.stderr.write("darkmatter kernel: tslab's converter changed; the object-shorthand fix is not applied\n");
    }
    return original(module, filename);
  };
}

/** Makes the kernel broadcast execute_input (with the execution count) before each cell runs. */
function installExecuteInputPatch(root) {
  const jupyter = require(require.resolve("tslab/dist/jupyter.js", { paths: [root] }));
  const server = jupyter.ZmqServer && jupyter.ZmqServer.prototype;
  const handler = jupyter.JupyterHandlerImpl && jupyter.JupyterHandlerImpl.prototype;
  if (!server || !handler || typeof server.handleExecute !== "function" || typeof handler.handleExecuteImpl !== "function") {
    process.stderr.write("darkmatter kernel: tslab's Jupyter handler changed; execution counts are not broadcast\n");
    return;
  }
  const originalExecute = server.handleExecute;
  server.handleExecute = function (sock, msg) {
    const self = this;
    // The handler below finds this on the request content it is given (the same object).
    Object.defineProperty(msg.content, "__dmExecuteInput", {
      enumerable: false,
      value: (count) => {
        const m = msg.createReply();
        m.header.msg_type = "execute_input";
        m.content = { code: msg.content.code, execution_count: count };
        m.signAndSend(self.connInfo.key, self.iopub);
      },
    });
    return originalExecute.call(this, sock, msg);
  };
  const originalImpl = handler.handleExecuteImpl;
  handler.handleExecuteImpl = function (req, writeStream, writeDisplayData) {
    // handleExecuteImpl increments execCount first thing, so the count of this cell is execCount + 1.
    if (req && typeof req.__dmExecuteInput === "function") req.__dmExecuteInput(this.execCount + 1);
    return originalImpl.call(this, req, writeStream, writeDisplayData);
  };
}

function applyTslabPatches(root) {
  installConverterPatch(root);
  installExecuteInputPatch(root);
}

module.exports = { applyTslabPatches, patchConverterSource };
