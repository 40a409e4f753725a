/** A progress callback for long work: `done` of `total` units finished, with a short label of what runs. */
export type Progress = (done: number, total: number, label: string) => void;

/** A terminal progress line that updates in place on a TTY and prints occasional lines otherwise (CI logs). */
export function terminalProgress(stream: NodeJS.WriteStream = process.stderr): Progress {
  let lastPrint = 0;
  return (done, total, label) => {
    const now = Date.now();
    const finished = done >= total;
    if (!finished && now - lastPrint < (stream.isTTY ? 100 : 5000)) return;
    lastPrint = now;
    const pct = total > 0 ? ((100 * done) / total).toFixed(0).padStart(3) : "  ?";
    const line = `${label} ${pct}% (${done}/${total})`;
    if (stream.isTTY) stream.write(`\r${line}\x1b[K${finished ? "\n" : ""}`);
    else stream.write(line + "\n");
  };
}

/** A progress callback that does nothing. */
export const silentProgress: Progress = () => undefined;
