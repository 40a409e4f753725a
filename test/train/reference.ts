// A float64 reference of the TopK / BatchTopK SAE loss, written for clarity (sorts, no kernels), to check the
// hand-written forward and backward passes against finite differences.
export interface RefParams {
  /** [n, d] (the encoder transposed), [n, d], [n], [d]. */
  WencT: ArrayLike<number>;
  Wdec: ArrayLike<number>;
  benc: ArrayLike<number>;
  bdec: ArrayLike<number>;
}

export interface RefOptions {
  d: number;
  n: number;
  k: number;
  architecture: "topk" | "batchtopk";
  /** AuxK: dead latents, kAux, coefficient, and the residual x − x̂ held fixed (it is detached in training). */
  aux?: { dead: boolean[]; kAux: number; coef: number; residual?: Float64Array };
}

export interface RefResult {
  fvu: number;
  auxk: number;
  loss: number;
  xhat: Float64Array;
  /** Active (row, latent, value) triples. */
  active: [number, number, number][];
}

export function refLoss(p: RefParams, x: ArrayLike<number>, rows: number, o: RefOptions): RefResult {
  const { d, n, k } = o;
  const pre: number[][] = [];
  for (let b = 0; b < rows; b++) {
    const row: number[] = [];
    for (let j = 0; j < n; j++) {
      let s = p.benc[j];
      for (let t = 0; t < d; t++) s += (x[b * d + t] - p.bdec[t]) * p.WencT[j * d + t];
      row.push(Math.max(0, s));
    }
    pre.push(row);
  }
  const active: [number, number, number][] = [];
  if (o.architecture === "topk") {
    for (let b = 0; b < rows; b++) {
      const order = pre[b].map((v, j) => [v, j]).filter(([v]) => v > 0).sort((a, c) => c[0] - a[0] || a[1] - c[1]);
      for (const [v, j] of order.slice(0, k)) active.push([b, j, v]);
    }
  } else {
    const all: [number, number, number][] = [];
    for (let b = 0; b < rows; b++) for (let j = 0; j < n; j++) if (pre[b][j] > 0) all.push([b, j, pre[b][j]]);
    all.sort((a, c) => c[2] - a[2] || a[0] * n + a[1] - (c[0] * n + c[1]));
    active.push(...all.slice(0, k * rows));
  }
  const mean = new Float64Array(d);
  for (let b = 0; b < rows; b++) for (let t = 0; t < d; t++) mean[t] += x[b * d + t] / rows;
  let denom = 0;
  for (let b = 0; b < rows; b++) for (let t = 0; t < d; t++) denom += (x[b * d + t] - mean[t]) ** 2;
  const xhat = new Float64Array(rows * d);
  for (let b = 0; b < rows; b++) for (let t = 0; t < d; t++) xhat[b * d + t] = p.bdec[t];
  for (const [b, j, v] of active) for (let t = 0; t < d; t++) xhat[b * d + t] += v * p.Wdec[j * d + t];
  let sse = 0;
  for (let i = 0; i < rows * d; i++) sse += (xhat[i] - x[i]) ** 2;
  const fvu = sse / denom;

  let auxk = 0;
  const aux = o.aux;
  const nDead = aux ? aux.dead.filter(Boolean).length : 0;
  if (aux && nDead > 0) {
    const kEff = Math.min(aux.kAux, nDead), scale = Math.min(nDead / aux.kAux, 1);
    const residual = aux.residual ?? Float64Array.from({ length: rows * d }, (_, i) => x[i] - xhat[i]);
    let s = 0;
    for (let b = 0; b < rows; b++) {
      const order = pre[b].map((v, j) => [v, j]).filter(([v, j]) => aux.dead[j] && v > 0).sort((a, c) => c[0] - a[0] || a[1] - c[1]);
      const ehat = new Float64Array(d);
      for (const [v, j] of order.slice(0, kEff)) for (let t = 0; t < d; t++) ehat[t] += v * p.Wdec[j * d + t];
      for (let t = 0; t < d; t++) s += (ehat[t] - residual[b * d + t]) ** 2;
    }
    auxk = (scale * s) / denom;
  }
  return { fvu, auxk, loss: fvu + (aux ? aux.coef * auxk : 0), xhat, active };
}
