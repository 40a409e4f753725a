// Pure-JS Cholesky that sets aside numerically dependent columns instead of failing. It is the fallback when the
// native bridge is missing and the way rank deficiency is located when a plain Cholesky fails.

/**
 * Factorises the symmetric matrix a[n,n] (row-major; only the upper triangle is read) in place into the upper
 * factor U with a = UᵀU (right-looking, row-contiguous updates). A column whose pivot, i.e. the part of its
 * diagonal not explained by the kept columns before it, is ≤ `tol` times its original diagonal (or not finite) is
 * dropped: its row of U is zeroed and it takes no part in later updates. Dropping column k is exactly least squares
 * on the remaining columns, so the fitted values stay the least-squares projection.
 */
export function choleskyInPlace(n: number, a: Float64Array, tol: number): { dropped: number[]; pivots: Float64Array } {
  const diag0 = new Float64Array(n);
  for (let i = 0; i < n; i++) diag0[i] = a[i * n + i];
  const pivots = new Float64Array(n);
  const dropped: number[] = [];
  for (let k = 0; k < n; k++) {
    const rk = k * n;
    const pivot = a[rk + k];
    pivots[k] = pivot;
    if (!(pivot > tol * diag0[k]) || !(pivot > 0) || !Number.isFinite(pivot)) {
      dropped.push(k);
      for (let j = k; j < n; j++) a[rk + j] = 0;
      continue;
    }
    const r = Math.sqrt(pivot);
    a[rk + k] = r;
    const inv = 1 / r;
    for (let j = k + 1; j < n; j++) a[rk + j] *= inv;
    for (let i = k + 1; i < n; i++) {
      const f = a[rk + i];
      if (f === 0) continue;
      const ri = i * n;
      for (let j = i; j < n; j++) a[ri + j] -= f * a[rk + j];
    }
  }
  return { dropped, pivots };
}

/**
 * Solves UᵀU x = b in place (b[n,nrhs] row-major) with the factor from `choleskyInPlace`; rows flagged in
 * `dropped` get x = 0.
 */
export function solveWithFactor(n: number, nrhs: number, u: Float64Array, b: Float64Array, dropped: Uint8Array): void {
  // Forward: Uᵀ z = b, row by row; each finished z_k is subtracted from the rows below it.
  for (let k = 0; k < n; k++) {
    const bk = k * nrhs;
    if (dropped[k]) { b.fill(0, bk, bk + nrhs); continue; }
    const inv = 1 / u[k * n + k];
    for (let c = 0; c < nrhs; c++) b[bk + c] *= inv;
    for (let i = k + 1; i < n; i++) {
      const f = u[k * n + i];
      if (f === 0) continue;
      const bi = i * nrhs;
      for (let c = 0; c < nrhs; c++) b[bi + c] -= f * b[bk + c];
    }
  }
  // Back: U x = z.
  for (let k = n - 1; k >= 0; k--) {
    const bk = k * nrhs;
    if (dropped[k]) continue;
    for (let j = k + 1; j < n; j++) {
      const f = u[k * n + j];
      if (f === 0) continue;
      const bj = j * nrhs;
      for (let c = 0; c < nrhs; c++) b[bk + c] -= f * b[bj + c];
    }
    const inv = 1 / u[k * n + k];
    for (let c = 0; c < nrhs; c++) b[bk + c] *= inv;
  }
}
