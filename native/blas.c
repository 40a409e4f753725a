/* A thin N-API bridge to the system OpenBLAS (BLAS + LAPACK), so that tfjs matmuls and the float64
 * least-squares code run at native speed. Every function works on typed-array views (which may point
 * into the wasm backend's heap), checks that each view is large enough, and never allocates. The same
 * addon also exports the fused kernels of the LM forward pass (lm_kernels.c). */
#include <string.h>
#include "napi_util.h"

/* gemm(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc), row-major, C := alpha op(A) op(B) + beta C. */
static napi_value gemm(napi_env env, napi_callback_info info, int dbl) {
  size_t argc = 13; napi_value a[13];
  CHECK(napi_get_cb_info(env, info, &argc, a, NULL, NULL));
  if (argc != 13) { napi_throw_type_error(env, NULL, "darkmatter-blas: gemm takes 13 arguments"); return NULL; }
  bool ta, tb; int64_t M, N, K, lda, ldb, ldc; double alpha, beta;
  if (napi_get_value_bool(env, a[0], &ta) != napi_ok || napi_get_value_bool(env, a[1], &tb) != napi_ok) {
    napi_throw_type_error(env, NULL, "darkmatter-blas: transA/transB must be booleans"); return NULL;
  }
  if (!get_int(env, a[2], &M, "M") || !get_int(env, a[3], &N, "N") || !get_int(env, a[4], &K, "K") ||
      !get_double(env, a[5], &alpha, "alpha") || !get_int(env, a[7], &lda, "lda") || !get_int(env, a[9], &ldb, "ldb") ||
      !get_double(env, a[10], &beta, "beta") || !get_int(env, a[12], &ldc, "ldc")) return NULL;
  if (M < 0 || N < 0 || K < 0 || M > INT32_MAX || N > INT32_MAX || K > INT32_MAX) {
    napi_throw_range_error(env, NULL, "darkmatter-blas: gemm dimensions must be in [0, 2^31)"); return NULL;
  }
  int64_t rowsA = ta ? K : M, colsA = ta ? M : K, rowsB = tb ? N : K, colsB = tb ? K : N;
  if (lda < (colsA > 1 ? colsA : 1) || ldb < (colsB > 1 ? colsB : 1) || ldc < (N > 1 ? N : 1)) {
    napi_throw_range_error(env, NULL, "darkmatter-blas: gemm leading dimension too small"); return NULL;
  }
  napi_typedarray_type t = dbl ? napi_float64_array : napi_float32_array;
  void *A = get_array(env, a[6], t, rowsA ? (rowsA - 1) * lda + colsA : 0, "A"); if (!A) return NULL;
  void *B = get_array(env, a[8], t, rowsB ? (rowsB - 1) * ldb + colsB : 0, "B"); if (!B) return NULL;
  void *C = get_array(env, a[11], t, M ? (M - 1) * ldc + N : 0, "C"); if (!C) return NULL;
  if (M == 0 || N == 0) return NULL;
  if (dbl) cblas_dgemm(RowMajor, ta ? Trans : NoTrans, tb ? Trans : NoTrans, (int)M, (int)N, (int)K, alpha,
                       A, (int)lda, B, (int)ldb, beta, C, (int)ldc);
  else cblas_sgemm(RowMajor, ta ? Trans : NoTrans, tb ? Trans : NoTrans, (int)M, (int)N, (int)K, (float)alpha,
                   A, (int)lda, B, (int)ldb, (float)beta, C, (int)ldc);
  return NULL;
}
static napi_value sgemm(napi_env env, napi_callback_info info) { return gemm(env, info, 0); }
static napi_value dgemm(napi_env env, napi_callback_info info) { return gemm(env, info, 1); }

/* dsyrkT(N, K, A, C): C[N,N] (row-major, upper triangle) += A[K,N]^T A[K,N]. The Gram accumulation of least squares. */
static napi_value dsyrkT(napi_env env, napi_callback_info info) {
  size_t argc = 4; napi_value a[4];
  CHECK(napi_get_cb_info(env, info, &argc, a, NULL, NULL));
  int64_t N, K;
  if (argc != 4 || !get_int(env, a[0], &N, "N") || !get_int(env, a[1], &K, "K")) return NULL;
  if (N < 0 || K < 0 || N > INT32_MAX || K > INT32_MAX) { napi_throw_range_error(env, NULL, "darkmatter-blas: bad dsyrk sizes"); return NULL; }
  double *A = get_array(env, a[2], napi_float64_array, N * K, "A"); if (!A) return NULL;
  double *C = get_array(env, a[3], napi_float64_array, N * N, "C"); if (!C) return NULL;
  if (N && K) cblas_dsyrk(RowMajor, Upper, Trans, (int)N, (int)K, 1.0, A, (int)N, 1.0, C, (int)N);
  return NULL;
}

/* cholSolve(N, NRHS, A, B): solves A X = B in place for symmetric positive definite A[N,N] (row-major; overwritten by
 * its Cholesky factor) and B[N,NRHS] (row-major). Returns LAPACK's info: 0 on success, k > 0 if the leading minor k is
 * not positive definite. */
static napi_value cholSolve(napi_env env, napi_callback_info info) {
  size_t argc = 4; napi_value a[4];
  CHECK(napi_get_cb_info(env, info, &argc, a, NULL, NULL));
  int64_t N, R;
  if (argc != 4 || !get_int(env, a[0], &N, "N") || !get_int(env, a[1], &R, "NRHS")) return NULL;
  if (N < 1 || R < 0 || N > INT32_MAX || R > INT32_MAX) { napi_throw_range_error(env, NULL, "darkmatter-blas: bad cholSolve sizes"); return NULL; }
  double *A = get_array(env, a[2], napi_float64_array, N * N, "A"); if (!A) return NULL;
  double *B = get_array(env, a[3], napi_float64_array, N * R, "B"); if (!B) return NULL;
  /* LAPACK is column-major: factoring the row-major matrix as 'L' leaves, in row-major terms, U = L^T in the upper
   * triangle with A = U^T U. Then solve U^T Y = B and U X = Y with row-major triangular solves. */
  int n = (int)N, r = (int)R, infoi = 0;
  dpotrf_("L", &n, A, &n, &infoi);
  napi_value out;
  if (infoi != 0 || r == 0) { CHECK(napi_create_int32(env, infoi, &out)); return out; }
  cblas_dtrsm(RowMajor, Left, Upper, Trans, NonUnit, n, r, 1.0, A, n, B, r);
  cblas_dtrsm(RowMajor, Left, Upper, NoTrans, NonUnit, n, r, 1.0, A, n, B, r);
  CHECK(napi_create_int32(env, 0, &out));
  return out;
}

static napi_value config(napi_env env, napi_callback_info info) {
  (void)info; napi_value obj, v;
  CHECK(napi_create_object(env, &obj));
  CHECK(napi_create_string_utf8(env, openblas_get_config(), NAPI_AUTO_LENGTH, &v));
  CHECK(napi_set_named_property(env, obj, "config", v));
  CHECK(napi_create_string_utf8(env, openblas_get_corename(), NAPI_AUTO_LENGTH, &v));
  CHECK(napi_set_named_property(env, obj, "core", v));
  CHECK(napi_create_int32(env, openblas_get_num_threads(), &v));
  CHECK(napi_set_named_property(env, obj, "threads", v));
  return obj;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"sgemm", NULL, sgemm, NULL, NULL, NULL, napi_enumerable, NULL},
    {"dgemm", NULL, dgemm, NULL, NULL, NULL, napi_enumerable, NULL},
    {"dsyrkT", NULL, dsyrkT, NULL, NULL, NULL, napi_enumerable, NULL},
    {"cholSolve", NULL, cholSolve, NULL, NULL, NULL, napi_enumerable, NULL},
    {"config", NULL, config, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof *props, props) != napi_ok) return NULL;
  if (register_lm_kernels(env, exports) != napi_ok) return NULL;
  return exports;
}
NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
