// The tslab kernel's display channel, below everything in viz/ that shows output (outside a kernel: nothing).
interface TslabDisplay { html(s: string): void; markdown(s: string): void }
interface TslabModule { display: TslabDisplay; newDisplay(): TslabDisplay }
type WriteDisplayData = (content: { data: Record<string, unknown>; metadata: Record<string, unknown>; transient: Record<string, unknown> }, update: boolean) => void;

/** tslab's channel for display_data: its public display API sends one MIME type per output, a chart needs several. */
export function writeDisplayData(): WriteDisplayData | null {
  if (!tslab()) return null;
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  return (require("tslab/dist/jupyter") as { lastWriteDisplayData: WriteDisplayData }).lastWriteDisplayData;
}

export function tslab(): TslabModule | null {
  try {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const kernel = require("tslab/dist/jupyter") as { lastWriteDisplayData?: unknown };
    if (kernel.lastWriteDisplayData == null) return null; // not inside a running tslab kernel
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    return require("tslab") as TslabModule;
  } catch {
    return null;
  }
}

/** Displays raw HTML in the current cell (nothing outside a kernel). */
export function show(html: string): void {
  tslab()?.display.html(html);
}
