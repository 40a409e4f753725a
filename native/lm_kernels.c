/* Fused float32 kernels of the Llama forward pass (src/lm/ops.ts), on row-major typed-array views (which may point
 * into the wasm backend's heap). They replace chains of small tfjs ops whose separate passes over memory, scalar exp
 * in wasm, transposes and fully computed masked attention scores cost more than the projections around them:
 *   rmsNorm         y = x / sqrt(mean(x²) + eps) ⊙ w, per row
 *   swiglu          y = g·sigmoid(g)·u
 *   crossEntropy    loss = logsumexp(z) - z[target], per row
 *   causalAttention RoPE on q and k, then softmax(q·kᵀ) over earlier positions only, times v, for every head
 * Each checks that every view is large enough before touching memory. */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include "napi_util.h"

/* The elementwise loops are also compiled for AVX2 (x86-64-v3), chosen at load time where the CPU has it: the
 * exp-heavy loops run about 2.5× faster than with the SSE2 baseline. Without fp-contraction (-std=c11) both
 * versions do the same IEEE operations per element; only sums are grouped by a different vector width. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define VECTOR_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define VECTOR_CLONES
#endif

/* e^x to about 1e-7 relative error (Cephes' expf polynomial on x - n·ln2, scaled by 2^n through the exponent bits),
 * written without library calls or branches so that gcc vectorises the loops that use it. Inputs are clamped to
 * [-87.3, 88.37], where e^x is a normal float: below, the result is e^-87.3 ≈ 1e-38 instead of a smaller number, which
 * is negligible wherever it is used (next to a term e^0 = 1 in a sum, or next to 1 in 1 + e^x). NaN stays NaN. */
static inline float exp_approx(float x) {
  x = x < -87.3f ? -87.3f : x;
  x = x > 88.37f ? 88.37f : x;
  const float shifter = 12582912.0f; /* 1.5·2^23: adding it rounds to an integer held in the low mantissa bits */
  float t = x * 1.44269504088896341f + shifter;
  union { float f; int32_t i; } nb = { t };
  float n = t - shifter;
  float r = x - n * 0.693359375f + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  union { int32_t i; float f; } scale = { (nb.i - 0x4b400000 + 127) << 23 };
  return p * scale.f;
}

VECTOR_CLONES static float row_max(const float *x, int n) {
  float m = -INFINITY;
#pragma omp simd reduction(max : m)
  for (int i = 0; i < n; i++) m = x[i] > m ? x[i] : m;
  return m;
}

/* x[i] := e^(x[i] - shift); returns the sum. */
VECTOR_CLONES static float exp_shift_sum(float *x, int n, float shift) {
  float s = 0;
#pragma omp simd reduction(+ : s)
  for (int i = 0; i < n; i++) {
    float e = exp_approx(x[i] - shift);
    x[i] = e;
    s += e;
  }
  return s;
}

VECTOR_CLONES static float sum_exp_shift(const float *x, int n, float shift) {
  float s = 0;
#pragma omp simd reduction(+ : s)
  for (int i = 0; i < n; i++) s += exp_approx(x[i] - shift);
  return s;
}

/* ---------------------------------------------------------------------------------------------------------------- */

VECTOR_CLONES static void rms_norm_rows(int64_t rows, int n, float eps, const float *x, const float *w, float *y) {
  for (int64_t r = 0; r < rows; r++) {
    const float *xr = x + r * n; float *yr = y + r * n;
    float ss = 0;
#pragma omp simd reduction(+ : ss)
    for (int i = 0; i < n; i++) ss += xr[i] * xr[i];
    const float inv = 1.0f / sqrtf(ss / (float)n + eps);
#pragma omp simd
    for (int i = 0; i < n; i++) yr[i] = xr[i] * inv * w[i];
  }
}

/* rmsNorm(rows, d, eps, x, w, y) */
static napi_value rms_norm(napi_env env, napi_callback_info info) {
  size_t argc = 6; napi_value a[6];
  CHECK(napi_get_cb_info(env, info, &argc, a, NULL, NULL));
  int64_t rows, d; double eps;
  if (argc != 6 || !get_int(env, a[0], &rows, "rows") || !get_int(env, a[1], &d, "d") || !get_double(env, a[2], &eps, "eps")) return NULL;
  if (rows < 0 || d < 1 || rows * d > INT32_MAX) { napi_throw_range_error(env, NULL, "darkmatter-blas: bad rmsNorm sizes"); return NULL; }
  const float *x = get_array(env, a[3], napi_float32_array, rows * d, "x"); if (!x) return NULL;
  const float *w = get_array(env, a[4], napi_float32_array, d, "w"); if (!w) return NULL;
  float *y = get_array(env, a[5], napi_float32_array, rows * d, "y"); if (!y) return NULL;
  rms_norm_rows(rows, (int)d, (float)eps, x, w, y);
  return NULL;
}

VECTOR_CLONES static void swiglu_loop(int n, const float *g, const float *u, float *y) {
#pragma omp simd
  for (int i = 0; i < n; i++) y[i] = g[i] * u[i] * (1.0f / (1.0f + exp_approx(-g[i])));
}

/* swiglu(n, g, u, y): y = g·sigmoid(g)·u elementwise. */
static napi_value swiglu(napi_env env, napi_callback_info info) {
  size_t argc = 4; napi_value a[4];
  CHECK(napi_get_cb_info(env, info, &argc, a, NULL, NULL));
  int64_t n;
  if (argc != 4 || !get_int(env, a[0], &n, "n")) return NULL;
  if (n < 0 || n > INT32_MAX) { napi_throw_range_error(env, NULL, "darkmatter-blas: bad swiglu size"); return NULL; }
  const float *g = get_array(env, a[1], napi_float32_array, n, "g"); if (!g) return NULL;
  const float *u = get_array(env, a[2], napi_float32_array, n, "u"); if (!u) return NULL;
  float *y = get_array(env, a[3], napi_float32_array, n, "y"); if (!y) return NULL;
  swiglu_loop((int)n, g, u, y);
  return NULL;
}

/* crossEntropy(rows, V, z, targets, loss): loss[r] = log Σ_j e^z[r,j] - z[r, targets[r]]. */
static napi_value cross_entropy(napi_env env, napi_callback_info info) {
  size_t argc = 5; napi_value a[5];
  CHECK(napi_get_cb_info(env, info, &argc, a, NULL, NULL));
  int64_t rows, V;
  if (argc != 5 || !get_int(env, a[0], &rows, "rows") || !get_int(env, a[1], &V, "V")) return NULL;
  if (rows < 0 || V < 1 || V > INT32_MAX) { napi_throw_range_error(env, NULL, "darkmatter-blas: bad crossEntropy sizes"); return NULL; }
  const float *z = get_array(env, a[2], napi_float32_array, rows * V, "z"); if (!z) return NULL;
  const int32_t *targets = get_array(env, a[3], napi_int32_array, rows, "targets"); if (!targets) return NULL;
  float *loss = get_array(env, a[4], napi_float32_array, rows, "loss"); if (!loss) return NULL;
  for (int64_t r = 0; r < rows; r++) {
    if (targets[r] < 0 || targets[r] >= V) { napi_throw_range_error(env, NULL, "darkmatter-blas: crossEntropy target outside [0, V)"); return NULL; }
  }
  for (int64_t r = 0; r < rows; r++) {
    const float *zr = z + r * V;
    const float m = row_max(zr, (int)V);
    loss[r] = logf(sum_exp_shift(zr, (int)V, m)) + m - zr[targets[r]];
  }
  return NULL;
}

/* ---------------------------------------------------------------------------------------------------------------- */
/* Work sharing. A kernel's work is split into many independent items that the calling thread and helper threads take
 * one at a time, each calling BLAS single-threaded: as many threads as OpenBLAS would use, but dynamically balanced,
 * so a thread that the OS deschedules (other processes on a busy machine) delays nothing but its current item, where
 * OpenBLAS's own threading splits one matmul statically and waits for its slowest part. Results do not depend on the
 * thread count: each item is computed whole by one thread. */

typedef void (*item_fn)(const void *ctx, int item, float *scratch);

typedef struct {
  item_fn fn;
  const void *ctx;
  int items;
  atomic_int next;
} work_queue;

typedef struct { work_queue *queue; float *scratch; } worker_arg;

static void *work_items(void *arg) {
  const worker_arg *w = arg;
  work_queue *q = w->queue;
  for (int item; (item = atomic_fetch_add(&q->next, 1)) < q->items;) q->fn(q->ctx, item, w->scratch);
  return NULL;
}

/* Runs fn(ctx, item, scratch) for item = 0..items-1, giving each thread `scratchFloats` floats of its own. Returns 0,
 * or -1 if the scratch memory could not be allocated (nothing was run then). */
static int share_work(item_fn fn, const void *ctx, int items, size_t scratchFloats) {
  enum { MAX_THREADS = 16 };
  const int blasThreads = openblas_get_num_threads();
  int nThreads = blasThreads < items ? blasThreads : items;
  if (nThreads > MAX_THREADS) nThreads = MAX_THREADS;
  if (nThreads < 1) nThreads = 1;
  float *scratch = NULL;
  if (scratchFloats > 0 && !(scratch = malloc(scratchFloats * nThreads * sizeof(float)))) return -1;
  work_queue queue = { .fn = fn, .ctx = ctx, .items = items };
  atomic_init(&queue.next, 0);
  worker_arg args[MAX_THREADS];
  pthread_t threads[MAX_THREADS];
  for (int i = 0; i < nThreads; i++) args[i] = (worker_arg){ &queue, scratch ? scratch + scratchFloats * i : NULL };
  if (nThreads > 1) openblas_set_num_threads(1);
  int started = 0; /* threads beyond the caller's; if creating one fails, the others take its share */
  while (started + 1 < nThreads && pthread_create(&threads[started], NULL, work_items, &args[started + 1]) == 0) started++;
  work_items(&args[0]);
  for (int i = 0; i < started; i++) pthread_join(threads[i], NULL);
  if (nThreads > 1) openblas_set_num_threads(blasThreads);
  free(scratch);
  return 0;
}

/* ---------------------------------------------------------------------------------------------------------------- */
/* Causal self-attention for a batch of B sequences of T positions starting at position 0. */

typedef struct {
  int B, T, nHeads, nKv, hs;
  float softcap; /* > 0: scores become softcap·tanh(scores/softcap) before the mask (Gemma 2) */
  int window;    /* > 0: position p attends to keys p-window+1 .. p only (sliding-window layers) */
  const float *q, *k, *v, *qCos, *qSin, *kCos, *kSin;
  float *out;
} attention_job;

/* The g query heads that share a kv head are stacked position-major, [T, g, hs], so that one matmul serves them all;
 * a block of positions p0..p1-1 only needs keys 0..p1-1, which skips most of the masked upper triangle while keeping
 * each matmul (about ROW_BLOCK stacked rows) large enough for BLAS. */
#ifndef ROW_BLOCK
#define ROW_BLOCK 64
#endif

static int positions_per_block(int g) { return ROW_BLOCK / g > 1 ? ROW_BLOCK / g : 1; }

/* Floats of scratch one thread needs: stacked queries, keys, a block of scores, its outputs and row factors. */
static size_t attention_scratch(int T, int hs, int g) {
  const size_t rows = (size_t)positions_per_block(g) * g;
  return (size_t)T * g * hs + (size_t)T * hs + rows * T + rows * hs + rows;
}

/* dst row t (ldd apart) = RoPE(src row t (lds apart)) for T rows of width hs; cos/sin are [T, hs/2], already scaled. */
VECTOR_CLONES static void rotate(float *dst, int ldd, const float *src, int lds, int T, int hs, const float *cos, const float *sin) {
  const int half = hs / 2;
  for (int t = 0; t < T; t++) {
    const float *s = src + (int64_t)t * lds, *c = cos + t * half, *sn = sin + t * half;
    float *o = dst + (int64_t)t * ldd;
    for (int j = 0; j < half; j++) {
      const float a = s[2 * j], b = s[2 * j + 1];
      o[2 * j] = a * c[j] - b * sn[j];
      o[2 * j + 1] = b * c[j] + a * sn[j];
    }
  }
}

VECTOR_CLONES static void scaled_copy(float *dst, const float *src, int n, float f) {
#pragma omp simd
  for (int i = 0; i < n; i++) dst[i] = src[i] * f;
}

/* row[0..len) := e^(row - max), row[len..n) := 0 (the masked future positions); returns 1 / Σ, the factor that
 * normalises the row, applied later to the (narrower) output row instead. */
static float softmax_prefix_unnormalised(float *row, int len, int n) {
  const float inv = 1.0f / exp_shift_sum(row, len, row_max(row, len));
  memset(row + len, 0, (size_t)(n - len) * sizeof(float));
  return inv;
}

/* The general row: keys lo..pos with lo = pos - window + 1 (or 0), scores soft-capped first when softcap > 0; every
 * other entry of the row becomes 0. Returns 1 / Σ like softmax_prefix_unnormalised. */
static float softmax_window_unnormalised(float *row, int pos, int n, float softcap, int window) {
  const int lo = window > 0 && pos - window + 1 > 0 ? pos - window + 1 : 0, len = pos + 1 - lo;
  float *r = row + lo;
  if (softcap > 0) for (int i = 0; i < len; i++) r[i] = softcap * tanhf(r[i] / softcap);
  const float inv = 1.0f / exp_shift_sum(r, len, row_max(r, len));
  memset(row, 0, (size_t)lo * sizeof(float));
  memset(row + pos + 1, 0, (size_t)(n - pos - 1) * sizeof(float));
  return inv;
}

/* One (sequence, kv head) item: the attention outputs of the kv head's g query heads at every position. */
static void attention_item(const void *ctx, int item, float *scratch) {
  const attention_job *job = ctx;
  const int T = job->T, hs = job->hs, g = job->nHeads / job->nKv;
  const int d = job->nHeads * hs, kvd = job->nKv * hs, P = positions_per_block(g), rowsMax = P * g;
  const int b = item / job->nKv, kh = item % job->nKv;
  const int64_t row0 = (int64_t)b * T;
  float *qs = scratch, *ks = qs + (size_t)T * g * hs, *scores = ks + (size_t)T * hs;
  float *o = scores + (size_t)rowsMax * T, *inv = o + (size_t)rowsMax * hs;
  rotate(ks, hs, job->k + row0 * kvd + kh * hs, kvd, T, hs, job->kCos, job->kSin);
  for (int j = 0; j < g; j++) {
    rotate(qs + j * hs, g * hs, job->q + row0 * d + (kh * g + j) * hs, d, T, hs, job->qCos, job->qSin);
  }
  const float *vb = job->v + row0 * kvd + kh * hs;
  for (int p0 = 0; p0 < T; p0 += P) {
    const int p1 = p0 + P < T ? p0 + P : T, m = (p1 - p0) * g, n = p1;
    cblas_sgemm(RowMajor, NoTrans, Trans, m, n, hs, 1.0f, qs + (size_t)p0 * g * hs, hs, ks, hs, 0.0f, scores, n);
    if (job->softcap > 0 || job->window > 0) {
      for (int i = 0; i < m; i++) inv[i] = softmax_window_unnormalised(scores + (size_t)i * n, p0 + i / g, n, job->softcap, job->window);
    } else {
      for (int i = 0; i < m; i++) inv[i] = softmax_prefix_unnormalised(scores + (size_t)i * n, p0 + i / g + 1, n); /* keys 0..pos */
    }
    cblas_sgemm(RowMajor, NoTrans, NoTrans, m, hs, n, 1.0f, scores, n, vb, kvd, 0.0f, o, hs);
    /* Stacked row (position p, head j) goes to output row p, columns of head kh·g + j. */
    for (int i = 0; i < m; i++) {
      scaled_copy(job->out + (row0 + p0 + i / g) * d + (kh * g + i % g) * hs, o + (size_t)i * hs, hs, inv[i]);
    }
  }
}

/* causalAttention(B, T, nHeads, nKvHeads, headSize, q, k, v, qCos, qSin, kCos, kSin, out[, softcap, window]):
 * q [B·T, nHeads·hs], k and v [B·T, nKvHeads·hs], tables [T, hs/2] (q's carry the score scale), out [B·T, nHeads·hs];
 * softcap and window 0 mean none. The work items are (sequence, kv head) pairs. */
static napi_value causal_attention(napi_env env, napi_callback_info info) {
  size_t argc = 15; napi_value a[15];
  CHECK(napi_get_cb_info(env, info, &argc, a, NULL, NULL));
  int64_t B, T, H, KV, hs, window = 0; double softcap = 0;
  if ((argc != 13 && argc != 15) || (argc == 15 && (!get_double(env, a[13], &softcap, "softcap") || !get_int(env, a[14], &window, "window"))) || !get_int(env, a[0], &B, "B") || !get_int(env, a[1], &T, "T") || !get_int(env, a[2], &H, "nHeads") ||
      !get_int(env, a[3], &KV, "nKvHeads") || !get_int(env, a[4], &hs, "headSize")) return NULL;
  if (B < 0 || T < 1 || T > 65536 || KV < 1 || H < KV || H % KV != 0 || hs < 2 || hs % 2 != 0 || B * T * H * hs > INT32_MAX) {
    napi_throw_range_error(env, NULL, "darkmatter-blas: bad causalAttention sizes"); return NULL;
  }
  const int64_t N = B * T, d = H * hs, kvd = KV * hs, tab = T * (hs / 2);
  if (softcap < 0 || window < 0 || window > INT32_MAX) { napi_throw_range_error(env, NULL, "darkmatter-blas: bad causalAttention softcap/window"); return NULL; }
  attention_job job = { .B = (int)B, .T = (int)T, .nHeads = (int)H, .nKv = (int)KV, .hs = (int)hs, .softcap = (float)softcap, .window = (int)window };
  if (!(job.q = get_array(env, a[5], napi_float32_array, N * d, "q"))) return NULL;
  if (!(job.k = get_array(env, a[6], napi_float32_array, N * kvd, "k"))) return NULL;
  if (!(job.v = get_array(env, a[7], napi_float32_array, N * kvd, "v"))) return NULL;
  if (!(job.qCos = get_array(env, a[8], napi_float32_array, tab, "qCos"))) return NULL;
  if (!(job.qSin = get_array(env, a[9], napi_float32_array, tab, "qSin"))) return NULL;
  if (!(job.kCos = get_array(env, a[10], napi_float32_array, tab, "kCos"))) return NULL;
  if (!(job.kSin = get_array(env, a[11], napi_float32_array, tab, "kSin"))) return NULL;
  if (!(job.out = get_array(env, a[12], napi_float32_array, N * d, "out"))) return NULL;
  if (B == 0) return NULL;
  if (share_work(attention_item, &job, (int)(B * KV), attention_scratch((int)T, (int)hs, (int)(H / KV))) != 0) {
    napi_throw_error(env, NULL, "darkmatter-blas: causalAttention could not allocate scratch memory"); return NULL;
  }
  return NULL;
}

/* ---------------------------------------------------------------------------------------------------------------- */
/* Pieces of the Hugging Face forward (src/lm/hf-model.ts), on host arrays. */

/* bfloat16 / float16 bits to float32 (exact: every value of both is a float32). */
VECTOR_CLONES static void bf16_to_f32(int64_t n, const uint16_t *src, float *dst) {
  uint32_t *d = (uint32_t *)dst;
#pragma omp simd
  for (int64_t i = 0; i < n; i++) d[i] = (uint32_t)src[i] << 16;
}

static void f16_to_f32(int64_t n, const uint16_t *src, float *dst) {
  for (int64_t i = 0; i < n; i++) {
    const uint32_t h = src[i], sign = (h & 0x8000u) << 16, e = (h >> 10) & 0x1f, m = h & 0x3ff;
    union { uint32_t u; float f; } out;
    if (e == 0x1f) out.u = sign | 0x7f800000u | (m << 13);                 /* Inf / NaN */
    else if (e != 0) out.u = sign | ((e + 112) << 23) | (m << 13);           /* normal: rebias 15 → 127 */
    else { out.f = (float)m * 5.9604644775390625e-8f; out.u |= sign; }       /* subnormal: m · 2^-24 */
    dst[i] = out.f;
  }
}

/* toFloat32(kind, n, src, dst): kind 0 = bfloat16, 1 = float16; src a Uint16Array of raw bits. */
static napi_value to_float32(napi_env env, napi_callback_info info) {
  size_t argc = 4; napi_value a[4];
  CHECK(napi_get_cb_info(env, info, &argc, a, NULL, NULL));
  int64_t kind, n;
  if (argc != 4 || !get_int(env, a[0], &kind, "kind") || !get_int(env, a[1], &n, "n")) return NULL;
  if ((kind != 0 && kind != 1) || n < 0) { napi_throw_range_error(env, NULL, "darkmatter-blas: bad toFloat32 arguments"); return NULL; }
  const uint16_t *src = get_array(env, a[2], napi_uint16_array, n, "src"); if (!src) return NULL;
  float *dst = get_array(env, a[3], napi_float32_array, n, "dst"); if (!dst) return NULL;
  if (kind == 0) bf16_to_f32(n, src, dst); else f16_to_f32(n, src, dst);
  return NULL;
}

/* gegluTanh(n, g, u, y): y = gelu_tanh(g)·u with gelu_tanh(g) = ½g(1 + tanh(√(2/π)(g + 0.044715g³))). */
static napi_value geglu_tanh(napi_env env, napi_callback_info info) {
  size_t argc = 4; napi_value a[4];
  CHECK(napi_get_cb_info(env, info, &argc, a, NULL, NULL));
  int64_t n;
  if (argc != 4 || !get_int(env, a[0], &n, "n")) return NULL;
  if (n < 0) { napi_throw_range_error(env, NULL, "darkmatter-blas: bad gegluTanh size"); return NULL; }
  const float *g = get_array(env, a[1], napi_float32_array, n, "g"); if (!g) return NULL;
  const float *u = get_array(env, a[2], napi_float32_array, n, "u"); if (!u) return NULL;
  float *y = get_array(env, a[3], napi_float32_array, n, "y"); if (!y) return NULL;
  const float c = 0.7978845608028654f; /* √(2/π) */
  for (int64_t i = 0; i < n; i++) {
    const float x = g[i];
    y[i] = 0.5f * x * (1.0f + tanhf(c * (x + 0.044715f * x * x * x))) * u[i];
  }
  return NULL;
}

/* logitsLse(rows, V, v0, z, cap, targets, max, sum, picked): folds a block of logits z [rows, V] for vocabulary ids
 * v0 .. v0+V-1 into running log-sum-exp state (max[r], sum[r] = Σ e^(z - max)) and picks z[r, targets[r] - v0] into
 * picked[r] when the target lies in the block; cap > 0 soft-caps z in place first (Gemma 2's final logits). */
static napi_value logits_lse(napi_env env, napi_callback_info info) {
  size_t argc = 9; napi_value a[9];
  CHECK(napi_get_cb_info(env, info, &argc, a, NULL, NULL));
  int64_t rows, V, v0; double cap;
  if (argc != 9 || !get_int(env, a[0], &rows, "rows") || !get_int(env, a[1], &V, "V") || !get_int(env, a[2], &v0, "v0") ||
      !get_double(env, a[4], &cap, "cap")) return NULL;
  if (rows < 0 || V < 1 || V > INT32_MAX || v0 < 0) { napi_throw_range_error(env, NULL, "darkmatter-blas: bad logitsLse sizes"); return NULL; }
  float *z = get_array(env, a[3], napi_float32_array, rows * V, "z"); if (!z) return NULL;
  const int32_t *targets = get_array(env, a[5], napi_int32_array, rows, "targets"); if (!targets) return NULL;
  float *mx = get_array(env, a[6], napi_float32_array, rows, "max"); if (!mx) return NULL;
  float *sm = get_array(env, a[7], napi_float32_array, rows, "sum"); if (!sm) return NULL;
  float *picked = get_array(env, a[8], napi_float32_array, rows, "picked"); if (!picked) return NULL;
  const float c = (float)cap;
  for (int64_t r = 0; r < rows; r++) {
    float *zr = z + r * V;
    if (c > 0) for (int64_t j = 0; j < V; j++) zr[j] = c * tanhf(zr[j] / c);
    const float m = row_max(zr, (int)V);
    const int64_t t = targets[r] - v0;
    if (t >= 0 && t < V) picked[r] = zr[t];
    if (m > mx[r]) { sm[r] = sm[r] * exp_approx(mx[r] - m) + sum_exp_shift(zr, (int)V, m); mx[r] = m; }
    else sm[r] += sum_exp_shift(zr, (int)V, mx[r]);
  }
  return NULL;
}

napi_status register_lm_kernels(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"rmsNorm", NULL, rms_norm, NULL, NULL, NULL, napi_enumerable, NULL},
    {"swiglu", NULL, swiglu, NULL, NULL, NULL, napi_enumerable, NULL},
    {"crossEntropy", NULL, cross_entropy, NULL, NULL, NULL, napi_enumerable, NULL},
    {"causalAttention", NULL, causal_attention, NULL, NULL, NULL, napi_enumerable, NULL},
    {"toFloat32", NULL, to_float32, NULL, NULL, NULL, napi_enumerable, NULL},
    {"gegluTanh", NULL, geglu_tanh, NULL, NULL, NULL, napi_enumerable, NULL},
    {"logitsLse", NULL, logits_lse, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  return napi_define_properties(env, exports, sizeof props / sizeof *props, props);
}
