// Warnings a researcher must see (a cache entry found corrupt and recomputed, an SAE that fits its activations
// suspiciously badly): each names what it is about and suggests a cause. Printed on stderr by default; a notebook
// shows them as a visible box instead (viz's setupNotebook installs that listener).
export interface DmWarning {
  /** What the warning is about: a file, a cache entry, an SAE. */
  subject: string;
  /** What was found. */
  problem: string;
  /** The likely cause or what to do about it. */
  hint?: string;
  /** A stable identifier of the check (e.g. "cache-corrupt", "fvu-above-1"). */
  code: string;
}

type Listener = (w: DmWarning) => void;
const listeners = new Set<Listener>();

/** Routes every warning to `listener` (instead of stderr) until the returned function is called. */
export function onWarning(listener: Listener): () => void {
  listeners.add(listener);
  return () => { listeners.delete(listener); };
}

/** One line: "warning: SUBJECT: PROBLEM (hint: HINT)". */
export function formatWarning(w: DmWarning): string {
  return `warning: ${w.subject}: ${w.problem}${w.hint ? ` (hint: ${w.hint})` : ""}`;
}

/** Reports a warning to the listeners, or on stderr when there are none. */
export function warn(w: DmWarning): void {
  if (listeners.size === 0) console.warn(formatWarning(w));
  for (const l of listeners) l(w);
}
