// tslab compiles the library files a notebook imports and resolves each relative import by appending ".js",
// so `import "./backend"` (a folder) fails inside the kernel although Node and tsx accept it. Every relative
// import in src/ must therefore name a file: "./backend/index", not "./backend".
import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";

const root = path.resolve(__dirname, "..", "..");

function tsFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? tsFiles(p) : e.name.endsWith(".ts") ? [p] : [];
  });
}

test("relative imports in src/ name files, not folders (tslab cannot resolve folder imports)", () => {
  const bad: string[] = [];
  const pattern = /(?:from\s+|require\(\s*|import\(\s*)["'](\.{1,2}\/[^"']*|\.{1,2})["']/g;
  for (const file of tsFiles(path.join(root, "src"))) {
    const text = fs.readFileSync(file, "utf8");
    for (const m of text.matchAll(pattern)) {
      const target = path.resolve(path.dirname(file), m[1]);
      if (fs.existsSync(target) && fs.statSync(target).isDirectory()) bad.push(`${path.relative(root, file)}: "${m[1]}"`);
    }
  }
  assert.deepEqual(bad, [], `use "<folder>/index" instead:\n${bad.join("\n")}`);
});
