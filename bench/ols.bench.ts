// Streaming least squares x → SaeError (d × d coefficients, no intercept on either side) at the paper's scale:
// N = 150,000 tokens, d = 1024 and 2304, against numpy's normal equations (float64 and float32) and numpy's lstsq
// (float64, at d = 1024 and N = 50,000 only: it is ~15× slower than the normal equations and needs ~6 GB at
// N = 150,000, which would blow the benchmark's time budget). Each fit runs in its own process so the reported peak
// RSS is that fit's alone. Both sides read the same raw float32 files, written here in chunks. Rows of N = 50,000 are
// the first rows of the same files: our peak memory should not move with N.
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { loadNativeBlas } from "../src/backend/native";
import { fitLeastSquares, generatedSource, RowSource } from "../src/linalg";
import { printTable, runPython } from "./harness";

const FILE_ROWS = 150_000;
type Route = "ours" | "normal64" | "normal32" | "lstsq64";
const CASES: { d: number; rows: number; routes: Route[] }[] = [
  { d: 1024, rows: 50_000, routes: ["ours", "normal64", "normal32", "lstsq64"] },
  { d: 1024, rows: 150_000, routes: ["ours", "normal64", "normal32"] },
  { d: 2304, rows: 50_000, routes: ["ours"] },
  { d: 2304, rows: 150_000, routes: ["ours", "normal64", "normal32"] },
];

/** Raw float32 [rows, cols] file as a row source, read with one reusable buffer per chunk. */
function rawFileSource(file: string, rows: number, cols: number): RowSource {
  return generatedSource(rows, cols, function* (rowsPerChunk) {
    const fd = fs.openSync(file, "r");
    try {
      const buf = new Float32Array(rowsPerChunk * cols);
      const bytes = new Uint8Array(buf.buffer);
      for (let r = 0; r < rows; r += rowsPerChunk) {
        const k = Math.min(rowsPerChunk, rows - r);
        const len = k * cols * 4;
        let got = 0;
        while (got < len) got += fs.readSync(fd, bytes, got, len - got, r * cols * 4 + got);
        yield buf.subarray(0, k * cols);
      }
    } finally {
      fs.closeSync(fd);
    }
  }, file);
}

// ---------------------------------------------------------------------------------------------------------------
// Worker: one fit, then its time and peak RSS as JSON on stdout.

function worker(args: string[]): void {
  const [xFile, yFile, rowsS, dS, outFile] = args;
  const rows = Number(rowsS), d = Number(dS);
  const before = process.memoryUsage().rss;
  const t0 = process.hrtime.bigint();
  const fit = fitLeastSquares(rawFileSource(xFile, rows, d), rawFileSource(yFile, rows, d), { intercept: false, rowsPerChunk: 2048 });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  fs.writeFileSync(outFile, new Uint8Array(fit.coefficients.buffer));
  console.log(JSON.stringify({
    seconds, baseRssMb: before / 2 ** 20, maxRssMb: process.resourceUsage().maxRSS / 1024,
    rank: fit.rank, warnings: fit.warnings, native: loadNativeBlas().blas !== null,
  }));
}

// ---------------------------------------------------------------------------------------------------------------
// Data: residual-stream-like x (a few dims with 100× the spread, large means, shared factors, a decaying spectrum)
// and a synthetic SaeError = a rank-32 linear function of x plus noise. Deterministic xorshift generator.

function generate(dir: string, d: number): { x: string; y: string } {
  const blas = loadNativeBlas().blas;
  if (!blas) throw new Error("the benchmark needs the native BLAS addon (node native/build.js)");
  let s = 0x9e3779b9 ^ d;
  const uniform = () => { s ^= s << 13; s ^= s >>> 17; s ^= s << 5; return (s >>> 0) / 4294967296; };
  const normalish = () => (uniform() + uniform() + uniform() + uniform() - 2) * Math.sqrt(3); // mean 0, variance 1
  const k = 16, r = 32;
  const sigma = Float32Array.from({ length: d }, (_, j) => (j % (d / 8) === 0 ? 100 : 1 / Math.sqrt(1 + j / 64)));
  const mean = Float32Array.from({ length: d }, (_, j) => (j % (d / 8) === 0 ? 400 : 4 * (uniform() - 0.5)));
  const loadings = Float32Array.from({ length: k * d }, () => normalish() * 0.5);
  const u = Float32Array.from({ length: d * r }, () => normalish() / Math.sqrt(d));
  const v = Float32Array.from({ length: r * d }, () => normalish() / Math.sqrt(r));
  const paths = { x: path.join(dir, `x-${d}.f32`), y: path.join(dir, `y-${d}.f32`) };
  const fx = fs.openSync(paths.x, "w"), fy = fs.openSync(paths.y, "w");
  const rows = 4096;
  const x = new Float32Array(rows * d), y = new Float32Array(rows * d), z = new Float32Array(rows * k), xu = new Float32Array(rows * r);
  for (let start = 0; start < FILE_ROWS; start += rows) {
    const n = Math.min(rows, FILE_ROWS - start);
    for (let i = 0; i < n * k; i++) z[i] = normalish();
    blas.sgemm(false, false, n, d, k, 1, z, k, loadings, d, 0, x, d);
    for (let t = 0; t < n; t++) for (let j = 0; j < d; j++) x[t * d + j] += mean[j] + sigma[j] * normalish();
    blas.sgemm(false, false, n, r, d, 1, x, d, u, r, 0, xu, r);
    blas.sgemm(false, false, n, d, r, 1, xu, r, v, d, 0, y, d);
    for (let i = 0; i < n * d; i++) y[i] += 0.5 * normalish();
    fs.writeSync(fx, new Uint8Array(x.buffer, 0, n * d * 4));
    fs.writeSync(fy, new Uint8Array(y.buffer, 0, n * d * 4));
  }
  fs.closeSync(fx); fs.closeSync(fy);
  return paths;
}

// ---------------------------------------------------------------------------------------------------------------

interface Ours { seconds: number; baseRssMb: number; maxRssMb: number; rank: number; warnings: string[]; native: boolean }
interface Theirs { seconds: number; max_rss_mb: number; max_rel_diff_vs_ours: number | null }

function main(): void {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "darkmatter-bench-ols-"));
  const rows: (string | number)[][] = [];
  try {
    for (const d of [...new Set(CASES.map((c) => c.d))]) {
      const t0 = Date.now();
      const files = generate(dir, d);
      console.error(`generated ${FILE_ROWS} × ${d} (x and y) in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      for (const { rows: n, routes } of CASES.filter((c) => c.d === d)) {
        const coefFile = path.join(dir, `coef-${d}-${n}.f64`);
        const out = execFileSync(process.execPath, ["--import", "tsx", __filename, "--worker", files.x, files.y, String(n), String(d), coefFile],
          { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
        const ours = JSON.parse(out) as Ours;
        if (ours.warnings.length) console.error(`warnings at d=${d}, N=${n}: ${ours.warnings.join("; ")}`);
        rows.push([d, n, "ours: streaming normal eq. (float64)", ours.seconds, ours.maxRssMb, "—"]);
        for (const route of routes.filter((r) => r !== "ours")) {
          const label = { normal64: "numpy normal eq. float64", normal32: "numpy normal eq. float32", lstsq64: "numpy lstsq float64" }[route as Exclude<Route, "ours">];
          const res = runPython<Theirs>("ols.py", { x: files.x, y: files.y, rows: n, file_rows: FILE_ROWS, d, p: d, route, ours: coefFile });
          if (!res) { rows.push([d, n, label, "no numpy", "", ""]); continue; }
          rows.push([d, n, label, res.seconds, res.max_rss_mb, res.max_rel_diff_vs_ours === null ? "" : res.max_rel_diff_vs_ours.toExponential(1)]);
        }
      }
      fs.rmSync(files.x); fs.rmSync(files.y);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  printTable("least squares x → SaeError, d×d outputs, no intercept (time s, peak RSS MB of the fitting process)",
    ["d", "N", "route", "seconds", "peak RSS MB", "max |Δcoef|/max|coef| vs ours"], rows);
}

if (process.argv[2] === "--worker") worker(process.argv.slice(3));
else main();
