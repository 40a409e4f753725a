// `darkmatter inspect PATH [--json]`: says what a file or folder is and what is in it. Each kind of artifact is an
// inspector in INSPECTORS; the first whose `detect` accepts the path describes it. Add a new kind with one line
// (specific kinds before generic ones: the plain tensor-file inspector stays last).
import * as fs from "fs";
import * as path from "path";
import { parseArgs } from "util";
import { InputError } from "../errors";
import { detectTensorFormat, openTensorFile } from "../io/index";
import type { Inspector } from "../io/inspector";
import { describeSae, detectSae } from "../sae/index";
import { LM_INSPECTORS } from "../lm/inspect";
import { STORE_INSPECTORS } from "../activations/inspect";

function quietly(f: () => boolean): boolean {
  try {
    return f();
  } catch (e) {
    if (e instanceof InputError) return false;
    throw e;
  }
}

const saeInspector: Inspector = {
  name: "sae",
  detect: (p) => quietly(() => {
    const loc = detectSae(p);
    if (!loc) return false;
    if (loc.format !== "gemma-scope") return true;
    // Any .npz could be a Gemma Scope file; only one with an encoder matrix is.
    const file = openTensorFile(loc.path);
    try {
      return file.entries.some((e) => e.name === "W_enc" || e.name === "w_enc");
    } finally {
      file.close();
    }
  }),
  describe: (p) => describeSae(p),
};

const tensorFileInspector: Inspector = {
  name: "tensor-file",
  detect: (p) => quietly(() => fs.statSync(p).isFile() && detectTensorFormat(p) !== undefined),
  describe: (p) => {
    const file = openTensorFile(p);
    try {
      return { kind: "tensor-file", format: file.format, path: path.resolve(p), tensors: file.entries, metadata: file.metadata };
    } finally {
      file.close();
    }
  },
};

/** Tried in order; keep the generic tensor-file inspector last. */
export const INSPECTORS: Inspector[] = [
  ...LM_INSPECTORS,
  ...STORE_INSPECTORS,
  saeInspector,
  tensorFileInspector,
];

/** Describes `p` with the first inspector that recognises it. */
export function inspectPath(p: string): Record<string, unknown> {
  if (!fs.existsSync(p)) throw new InputError(p, "does not exist");
  const inspector = INSPECTORS.find((i) => i.detect(p));
  if (!inspector) {
    throw new InputError(p, `is not something inspect recognises (known: ${INSPECTORS.map((i) => i.name).join(", ")})`);
  }
  return { kind: inspector.name, ...inspector.describe(p) };
}

// ---------------------------------------------------------------------------------------------------------------
// Plain-text rendering

function isTensorList(v: unknown): v is { name: string; dtype: string; shape: number[] }[] {
  return Array.isArray(v) && v.length > 0 && v.every((e) => e && typeof e === "object" && "name" in e && "dtype" in e && "shape" in e);
}

function render(value: unknown, indent: string, lines: string[]): void {
  for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
    if (v === undefined) continue;
    if (isTensorList(v)) {
      lines.push(`${indent}${key}: ${v.length}`);
      const width = Math.max(...v.map((t) => t.name.length));
      for (const t of v) lines.push(`${indent}  ${t.name.padEnd(width)}  ${t.dtype.padEnd(8)}  [${t.shape.join(", ")}]`);
    } else if (Array.isArray(v) && v.every((e) => e !== null && typeof e === "object")) {
      lines.push(`${indent}${key}:`);
      v.forEach((e, i) => { lines.push(`${indent}  [${i}]`); render(e, indent + "    ", lines); });
    } else if (v !== null && typeof v === "object" && !Array.isArray(v)) {
      if (Object.keys(v).length === 0) continue;
      lines.push(`${indent}${key}:`);
      render(v, indent + "  ", lines);
    } else {
      lines.push(`${indent}${key}: ${typeof v === "string" ? v : JSON.stringify(v)}`);
    }
  }
}

export function renderDescription(d: Record<string, unknown>): string {
  const lines: string[] = [];
  render(d, "", lines);
  return lines.join("\n");
}

const USAGE = "usage: darkmatter inspect PATH [--json]\n\n" +
  "Prints what PATH is: an SAE (folder or file, any supported format) with its architecture and sizes, or a\n" +
  "tensor file (.npy, .npz, safetensors) with its tensors and metadata.";

export async function run(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args, allowPositionals: true, options: { json: { type: "boolean" }, help: { type: "boolean", short: "h" } } });
  } catch (e) {
    console.error(`darkmatter inspect: ${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (positionals.length !== 1) {
    console.error(USAGE);
    return 2;
  }
  const description = inspectPath(positionals[0]);
  console.log(values.json ? JSON.stringify(description, null, 2) : renderDescription(description));
  return 0;
}
