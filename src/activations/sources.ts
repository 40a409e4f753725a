// Activations from anywhere a user keeps them, as one streaming row source: an activation store folder (one of its
// hooks) or a tensor file (.npy/.npz/safetensors, rows = the product of the leading axes).
import * as fs from "fs";
import { InputError } from "../errors";
import { openTensorFile } from "../io/index";
import { generatedSource, RowSource } from "../linalg/rows";
import { openActivationStore } from "./store";

export interface ActivationSource { source: RowSource; hook: string | undefined; close: () => void }

/** Activations as a row source: a tensor file (rows = product of the leading axes) or an activation store. */
export function openActivationSource(p: string, hook?: string, tensor?: string): ActivationSource {
  if (!fs.existsSync(p)) throw new InputError(p, "does not exist");
  if (fs.statSync(p).isDirectory()) {
    if (!fs.existsSync(`${p}/manifest.json`)) throw new InputError(p, "is a folder but not an activation store (no manifest.json)");
    const store = openActivationStore(p);
    const h = hook ?? (store.hooks.length === 1 ? store.hooks[0] : undefined);
    if (!h) { store.close(); throw new InputError("--hook", `the store has several hooks (${store.hooks.join(", ")}); choose one`); }
    if (!store.hooks.includes(h)) { store.close(); throw new InputError("--hook", `the store has no hook ${h} (it has ${store.hooks.join(", ")})`); }
    const name = `${p} (${h})`;
    const source: RowSource = {
      ...generatedSource(store.rows, store.d, function* (rowsPerChunk) {
        for (const c of store.chunks(h, rowsPerChunk)) yield c.x;
      }, name),
      slice: (start, end) => generatedSource(end - start, store.d, function* (rowsPerChunk) {
        const step = Math.max(1, Math.floor(rowsPerChunk));
        for (let r = start; r < end; r += step) yield store.readRows(h, r, Math.min(step, end - r)).x;
      }, name),
    };
    return { source, hook: h, close: () => store.close() };
  }
  if (hook !== undefined) throw new InputError("--hook", "applies to activation-store folders only");
  const file = openTensorFile(p);
  try {
    const name = tensor ?? (file.entries.length === 1 ? file.entries[0].name : undefined);
    if (name === undefined) throw new InputError("--tensor", `${p} holds several tensors (${file.entries.map((e) => e.name).join(", ")}); choose one`);
    const entry = file.entries.find((e) => e.name === name);
    if (!entry) throw new InputError("--tensor", `${p} has no tensor ${JSON.stringify(name)}`);
    if (entry.shape.length < 2) throw new InputError(p, `activations need shape [..., d], got [${entry.shape.join(", ")}]`);
    const d = entry.shape[entry.shape.length - 1];
    const inner = entry.shape.slice(1, -1).reduce((a, b) => a * b, 1); // rows per first-axis slice
    const outer = entry.shape[0];
    if (d < 1 || outer * inner < 1) throw new InputError(p, `has no activations (shape [${entry.shape.join(", ")}])`);
    // Rows [start, end) read a first-axis slice at a time, trimmed to the range at both ends.
    const rowsIn = (start: number, end: number) => generatedSource(end - start, d, function* (rowsPerChunk) {
      const step = Math.max(1, Math.floor(rowsPerChunk / inner)), last = Math.ceil(end / inner);
      for (let s = Math.floor(start / inner); s < last; s += step) {
        const n = Math.min(step, last - s), first = s * inner;
        const block = file.readRowsFloat32(name, s, n);
        yield block.subarray((Math.max(start, first) - first) * d, (Math.min(end, first + n * inner) - first) * d);
      }
    }, p);
    const source: RowSource = { ...rowsIn(0, outer * inner), slice: rowsIn };
    return { source, hook: undefined, close: () => file.close() };
  } catch (err) {
    file.close();
    throw err;
  }
}
