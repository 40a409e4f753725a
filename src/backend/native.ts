// The optional native OpenBLAS bridge built at install time by native/build.js. Loading never throws: when the
// addon is missing the reason recorded at build time is kept so the backend can say which path runs and why.
import * as fs from "fs";
import * as path from "path";

/** Row-major BLAS/LAPACK entry points of native/blas.c. Arrays may be views into any buffer (e.g. the wasm heap). */
export interface NativeBlas {
  sgemm(transA: boolean, transB: boolean, m: number, n: number, k: number, alpha: number, a: Float32Array, lda: number,
    b: Float32Array, ldb: number, beta: number, c: Float32Array, ldc: number): void;
  dgemm(transA: boolean, transB: boolean, m: number, n: number, k: number, alpha: number, a: Float64Array, lda: number,
    b: Float64Array, ldb: number, beta: number, c: Float64Array, ldc: number): void;
  /** c[n,n] (upper triangle) += aᵀa for row-major a[k,n]. */
  dsyrkT(n: number, k: number, a: Float64Array, c: Float64Array): void;
  /** Solves a x = b in place (a SPD [n,n], overwritten; b [n,nrhs] row-major). Returns LAPACK info (0 = success). */
  cholSolve(n: number, nrhs: number, a: Float64Array, b: Float64Array): number;
  config(): { config: string; core: string; threads: number };
}

export interface NativeStatus { blas: NativeBlas | null; reason: string }

export const projectRoot = path.resolve(__dirname, "..", "..");
const buildDir = path.join(projectRoot, "native", "build");

let cached: NativeStatus | undefined;

/** The native BLAS addon, or null with the reason it is unavailable. DARKMATTER_NO_NATIVE=1 disables it. */
export function loadNativeBlas(): NativeStatus {
  if (cached) return cached;
  if (process.env.DARKMATTER_NO_NATIVE === "1") return (cached = { blas: null, reason: "disabled by DARKMATTER_NO_NATIVE=1" });
  const file = path.join(buildDir, "darkmatter_blas.node");
  if (!fs.existsSync(file)) {
    let reason = "native/build/darkmatter_blas.node was not built (run `node native/build.js`)";
    try {
      const status = JSON.parse(fs.readFileSync(path.join(buildDir, "status.json"), "utf8")) as { reason?: string };
      if (status.reason) reason = status.reason;
    } catch { /* no status file: the build never ran */ }
    return (cached = { blas: null, reason });
  }
  try {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const blas = require(file) as NativeBlas;
    const cfg = blas.config();
    return (cached = { blas, reason: `${cfg.config.trim()}, core ${cfg.core}, ${cfg.threads} threads` });
  } catch (err) {
    return (cached = { blas: null, reason: `loading ${file} failed: ${(err as Error).message}` });
  }
}
