// The shared folder with real test data (../shared next to the project), or null when absent.
import * as fs from "fs";
import * as path from "path";

const projectRoot = path.resolve(__dirname, "..", "..");

export function sharedDir(): string | null {
  const dir = path.resolve(projectRoot, "..", "shared");
  return fs.existsSync(path.join(dir, "data", "stories260K", "stories260K.bin")) ? dir : null;
}
