// Static chart images cached by what they show. Drawing them costs a Chromium start and a plotly.js parse (2–4 s per
// notebook on a loaded 2-core machine), and a rerun of a notebook whose analyses come from cache draws exactly the
// same figures again. The key is the figure as drawn (data, layout, size, scale) and the plotly.js source; only
// images that were drawn are stored, so a missing Chromium or a failed drawing is retried next time.
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { projectRoot } from "../backend/native";
import { writeFileAtomic } from "../io/atomic";
import { plotlySource, StaticImage } from "../viz/plotly";

/** Where drawn chart images are kept (ignored by git). */
export const CHART_IMAGE_CACHE = path.join(projectRoot, ".cache", "chart-images");

const PNG_SIGNATURE = 0x89504e47;
let plotlyHash: string | undefined;

/** The cache key of one chart as drawn: its JSON, the scale and the plotly.js that draws it. */
export function chartImageKey(item: unknown, scale: number): string {
  if (plotlyHash === undefined) plotlyHash = createHash("sha256").update(plotlySource()).digest("hex");
  return createHash("sha256").update(`${plotlyHash}\n${scale}\n${JSON.stringify(item)}`).digest("hex").slice(0, 32);
}

/**
 * Images for `items`: those in `dir` are read back, the rest come from `draw` (given only the missing items, in
 * order) and are stored when they are PNGs. A file that is not a PNG (truncated, overwritten) is drawn again.
 */
export function cachedChartImages<T>(items: T[], scale: number, dir: string, draw: (missing: T[]) => StaticImage[]): StaticImage[] {
  const files = items.map((item) => path.join(dir, `${chartImageKey(item, scale)}.png`));
  const found: (StaticImage | undefined)[] = files.map((f) => {
    try {
      const png = fs.readFileSync(f);
      return png.length > 24 && png.readUInt32BE(0) === PNG_SIGNATURE ? { png: png.toString("base64") } : undefined;
    } catch {
      return undefined;
    }
  });
  const missing = items.map((_, i) => i).filter((i) => !found[i]);
  if (missing.length) {
    const drawn = draw(missing.map((i) => items[i]));
    missing.forEach((i, j) => {
      const image = drawn[j];
      found[i] = image;
      try {
        if ("png" in image) writeFileAtomic(files[i], Buffer.from(image.png, "base64"));
      } catch { /* a cache that cannot be written (full disk, read-only checkout) only costs the next run a drawing */ }
    });
  }
  return found as StaticImage[];
}
