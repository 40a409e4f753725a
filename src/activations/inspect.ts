// `darkmatter inspect` for activation stores: a folder whose manifest.json says it is one.
import * as fs from "fs";
import * as path from "path";
import type { Inspector } from "../io/inspector";
import { MANIFEST_FILE, readManifest, STORE_FORMAT } from "./manifest";

function isActivationStore(p: string): boolean {
  const file = path.join(p, MANIFEST_FILE);
  if (!fs.existsSync(file) || !fs.statSync(p).isDirectory()) return false;
  try {
    return (JSON.parse(fs.readFileSync(file, "utf8")) as { format?: unknown }).format === STORE_FORMAT;
  } catch {
    return false;
  }
}

function describeActivationStore(p: string): Record<string, unknown> {
  const m = readManifest(p); // validates the whole manifest, throwing InputError for a broken one
  return {
    format: "activation store", path: path.resolve(p), key: m.key, complete: m.complete,
    hooks: m.config.hooks, rows: m.rows, d: m.d, contexts: m.config.contexts, ctx: m.config.ctx,
    positions: `${m.positions.first}…${m.positions.end - 1} of each context (${m.positions.perContext} per context)`,
    chunks: `${m.finished.length}/${m.chunks.length} finished`,
    model: m.model, tokenizer: m.tokenizer.file, corpus: `${m.corpus.name} (${m.corpus.part})`, created: m.created,
  };
}

export const STORE_INSPECTORS: Inspector[] = [
  { name: "activation-store", detect: isActivationStore, describe: describeActivationStore },
];
