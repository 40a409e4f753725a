// The float64 kernels least squares needs, on the native OpenBLAS bridge when it loaded and in plain JS otherwise.
// Both paths compute the same sums; the JS one is for machines without the addon (and for tests of that path).
import { loadNativeBlas, NativeBlas } from "../backend/native";
import { choleskyInPlace, solveWithFactor } from "./cholesky";

export interface Kernels {
  /** True when the native OpenBLAS bridge runs these. */
  readonly native: boolean;
  /** c[n,n] (upper triangle, row-major) += aᵀa for row-major a[k,n]. */
  syrk(n: number, k: number, a: Float64Array, c: Float64Array): void;
  /** c[m,n] += aᵀb for row-major a[k,m], b[k,n]. */
  gemmTN(m: number, n: number, k: number, a: Float64Array, b: Float64Array, c: Float64Array): void;
  /** c[m,n] = a·b (or += when `accumulate`) for row-major a[m,k], b[k,n]. */
  gemmNN(m: number, n: number, k: number, a: Float64Array, b: Float64Array, c: Float64Array, accumulate: boolean): void;
  /**
   * Solves a·x = b in place for symmetric positive definite a[n,n] (row-major; overwritten by the upper factor U
   * with a = UᵀU, whose diagonal the caller reads) and b[n,nrhs]. Returns 0, or k > 0 when leading minor k is not PD.
   */
  cholSolve(n: number, nrhs: number, a: Float64Array, b: Float64Array): number;
}

function nativeKernels(blas: NativeBlas): Kernels {
  return {
    native: true,
    syrk: (n, k, a, c) => blas.dsyrkT(n, k, a, c),
    gemmTN: (m, n, k, a, b, c) => { if (k > 0) blas.dgemm(true, false, m, n, k, 1, a, m, b, n, 1, c, n); },
    gemmNN: (m, n, k, a, b, c, accumulate) => {
      if (k === 0) { if (!accumulate) c.fill(0, 0, m * n); return; }
      blas.dgemm(false, false, m, n, k, 1, a, k, b, n, accumulate ? 1 : 0, c, n);
    },
    cholSolve: (n, nrhs, a, b) => blas.cholSolve(n, nrhs, a, b),
  };
}

const jsKernels: Kernels = {
  native: false,
  syrk(n, k, a, c) {
    for (let t = 0; t < k; t++) {
      const row = t * n;
      for (let i = 0; i < n; i++) {
        const ai = a[row + i];
        if (ai === 0) continue;
        const ci = i * n;
        for (let j = i; j < n; j++) c[ci + j] += ai * a[row + j];
      }
    }
  },
  gemmTN(m, n, k, a, b, c) {
    for (let t = 0; t < k; t++) {
      const ra = t * m, rb = t * n;
      for (let i = 0; i < m; i++) {
        const ai = a[ra + i];
        if (ai === 0) continue;
        const ci = i * n;
        for (let j = 0; j < n; j++) c[ci + j] += ai * b[rb + j];
      }
    }
  },
  gemmNN(m, n, k, a, b, c, accumulate) {
    if (!accumulate) c.fill(0, 0, m * n);
    for (let i = 0; i < m; i++) {
      const ci = i * n, ai = i * k;
      for (let p = 0; p < k; p++) {
        const v = a[ai + p];
        if (v === 0) continue;
        const bp = p * n;
        for (let j = 0; j < n; j++) c[ci + j] += v * b[bp + j];
      }
    }
  },
  cholSolve(n, nrhs, a, b) {
    const { dropped } = choleskyInPlace(n, a, 0);
    if (dropped.length > 0) return dropped[0] + 1;
    solveWithFactor(n, nrhs, a, b, new Uint8Array(n));
    return 0;
  },
};

/** The native kernels when the addon loaded and `preferNative` (default true), else the JS ones. */
export function getKernels(preferNative = true): Kernels {
  if (preferNative) {
    const { blas } = loadNativeBlas();
    if (blas) return nativeKernels(blas);
  }
  return jsKernels;
}
