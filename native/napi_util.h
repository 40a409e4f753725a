/* Shared by the addon's C files: the OpenBLAS entry points it uses and N-API argument checks. */
#ifndef DARKMATTER_NAPI_UTIL_H
#define DARKMATTER_NAPI_UTIL_H
#include <node_api.h>
#include <stdint.h>
#include <stdio.h>

/* Declared here instead of including cblas.h/lapack.h, whose install paths differ between distributions. */
enum { RowMajor = 101, NoTrans = 111, Trans = 112, Upper = 121, Lower = 122, Left = 141, NonUnit = 131 };
void cblas_sgemm(int, int, int, int, int, int, float, const float *, int, const float *, int, float, float *, int);
void cblas_dgemm(int, int, int, int, int, int, double, const double *, int, const double *, int, double, double *, int);
void cblas_dsyrk(int, int, int, int, int, double, const double *, int, double, double *, int);
void cblas_dtrsm(int, int, int, int, int, int, int, double, const double *, int, double *, int);
void dpotrf_(const char *, const int *, double *, const int *, int *);
int openblas_get_num_threads(void);
void openblas_set_num_threads(int);
char *openblas_get_config(void);
char *openblas_get_corename(void);

#define CHECK(call) do { if ((call) != napi_ok) { napi_throw_error(env, NULL, "darkmatter-blas: N-API call failed: " #call); return NULL; } } while (0)

static inline int get_int(napi_env env, napi_value v, int64_t *out, const char *name) {
  if (napi_get_value_int64(env, v, out) != napi_ok) {
    char msg[128]; snprintf(msg, sizeof msg, "darkmatter-blas: argument %s must be an integer", name);
    napi_throw_type_error(env, NULL, msg); return 0;
  }
  return 1;
}
static inline int get_double(napi_env env, napi_value v, double *out, const char *name) {
  if (napi_get_value_double(env, v, out) != napi_ok) {
    char msg[128]; snprintf(msg, sizeof msg, "darkmatter-blas: argument %s must be a number", name);
    napi_throw_type_error(env, NULL, msg); return 0;
  }
  return 1;
}
/* Returns a pointer to the view's first element if it is a typed array of the wanted type with at least
 * `need` elements; otherwise throws. */
static inline void *get_array(napi_env env, napi_value v, napi_typedarray_type want, int64_t need, const char *name) {
  bool is; napi_typedarray_type type; size_t len; void *data; napi_value ab; size_t off;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is ||
      napi_get_typedarray_info(env, v, &type, &len, &data, &ab, &off) != napi_ok || type != want) {
    char msg[160]; snprintf(msg, sizeof msg, "darkmatter-blas: argument %s must be a %s", name,
                            want == napi_float32_array ? "Float32Array" : want == napi_int32_array ? "Int32Array" : want == napi_uint16_array ? "Uint16Array" : "Float64Array");
    napi_throw_type_error(env, NULL, msg); return NULL;
  }
  if (need < 0 || (int64_t)len < need) {
    char msg[160]; snprintf(msg, sizeof msg, "darkmatter-blas: argument %s has %zu elements, needs %lld", name, len, (long long)need);
    napi_throw_range_error(env, NULL, msg); return NULL;
  }
  return data;
}

/* Adds the LM forward kernels of lm_kernels.c to the addon's exports. */
napi_status register_lm_kernels(napi_env env, napi_value exports);

#endif
