// GEMM backends: oneDNN's sgemm (the default: fastest on the measured shapes) and OpenBLAS
// (CFORMER_GEMM=openblas). OpenBLAS is loaded with dlopen (the OpenMP build, so its threads are
// our threads and it runs single-threaded inside our parallel regions) after clearing
// OPENBLAS_CORETYPE: a forced core type such as Haswell would select AVX2 kernels on an AVX-512
// machine and halve the speed. CFORMER_OPENBLAS_CORETYPE forces one deliberately.
// See Note [gemm backend] in docs/notes/gemm.md.
#include <cblas.h>
#include <dlfcn.h>

#include <cstdlib>
#include <mutex>
#include <string>

#include "ops/cpu/gemm.h"
#include "util/check.h"

#ifdef CFORMER_WITH_ONEDNN
#include <dnnl.h>
#endif

namespace cf::ops::cpu {
namespace {

using SgemmFn = void (*)(CBLAS_ORDER, CBLAS_TRANSPOSE, CBLAS_TRANSPOSE, blasint, blasint, blasint,
                         float, const float*, blasint, const float*, blasint, float, float*,
                         blasint);

struct OpenBlas {
  void* handle = nullptr;
  SgemmFn sgemm = nullptr;
  void (*set_num_threads)(int) = nullptr;
  int (*get_num_threads)() = nullptr;
  char* (*get_corename)() = nullptr;
  char* (*get_config)() = nullptr;
  std::string library;
  std::string overridden;  // the OPENBLAS_CORETYPE value that was cleared, if any
};

enum class Backend { openblas, onednn };

struct State {
  std::once_flag loaded;
  OpenBlas ob;
#ifdef CFORMER_WITH_ONEDNN
  Backend backend = Backend::onednn;
#else
  Backend backend = Backend::openblas;
#endif
  int threads = 0;
};

State& state() {
  static State s;
  return s;
}

void load_openblas(OpenBlas& ob) {
  const char* env = std::getenv("OPENBLAS_CORETYPE");
  std::string saved = env ? env : "";
  const char* forced = std::getenv("CFORMER_OPENBLAS_CORETYPE");
  if (forced && *forced) {
    setenv("OPENBLAS_CORETYPE", forced, 1);
  } else if (env) {
    unsetenv("OPENBLAS_CORETYPE");
    ob.overridden = saved;
  }
  const char* candidates[] = {"/usr/lib/x86_64-linux-gnu/openblas-openmp/libopenblas.so.0",
                              "/usr/lib/aarch64-linux-gnu/openblas-openmp/libopenblas.so.0",
                              "libopenblas.so.0", "libopenblas.so"};
  for (const char* c : candidates) {
    ob.handle = dlopen(c, RTLD_NOW | RTLD_LOCAL);
    if (ob.handle) {
      ob.library = c;
      break;
    }
  }
  if (env) setenv("OPENBLAS_CORETYPE", saved.c_str(), 1);
  else unsetenv("OPENBLAS_CORETYPE");
  CF_CHECK(ob.handle != nullptr, IoError,
           "gemm: cannot load OpenBLAS (libopenblas.so.0); install libopenblas0-openmp "
           "(scripts/setup.sh does)");
  ob.sgemm = reinterpret_cast<SgemmFn>(dlsym(ob.handle, "cblas_sgemm"));
  ob.set_num_threads = reinterpret_cast<void (*)(int)>(dlsym(ob.handle, "openblas_set_num_threads"));
  ob.get_num_threads = reinterpret_cast<int (*)()>(dlsym(ob.handle, "openblas_get_num_threads"));
  ob.get_corename = reinterpret_cast<char* (*)()>(dlsym(ob.handle, "openblas_get_corename"));
  ob.get_config = reinterpret_cast<char* (*)()>(dlsym(ob.handle, "openblas_get_config"));
  CF_CHECK(ob.sgemm != nullptr, IoError, "gemm: ", ob.library, " has no cblas_sgemm");
}

State& loaded_state() {
  State& s = state();
  std::call_once(s.loaded, [&s] {
    load_openblas(s.ob);
    const char* want = std::getenv("CFORMER_GEMM");
    if (want && *want) select_backend(want);
    if (s.threads > 0 && s.ob.set_num_threads) s.ob.set_num_threads(s.threads);
  });
  return s;
}

}  // namespace

template <class T>
void gemm_ref(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
              int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
  for (int64_t i = 0; i < M; ++i) {
    for (int64_t j = 0; j < N; ++j) {
      double acc = 0.0;
      for (int64_t k = 0; k < K; ++k) {
        const double a = trans_a ? A[k * lda + i] : A[i * lda + k];
        const double b = trans_b ? B[j * ldb + k] : B[k * ldb + j];
        acc += a * b;
      }
      T& c = C[i * ldc + j];
      c = static_cast<T>(alpha * acc + (beta == T(0) ? 0.0 : static_cast<double>(beta) * c));
    }
  }
}
template void gemm_ref<float>(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t,
                              const float*, int64_t, float, float*, int64_t);
template void gemm_ref<double>(bool, bool, int64_t, int64_t, int64_t, double, const double*,
                               int64_t, const double*, int64_t, double, double*, int64_t);

void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
          int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  if (M == 0 || N == 0) return;
  State& s = loaded_state();
#ifdef CFORMER_WITH_ONEDNN
  if (s.backend == Backend::onednn) {
    const dnnl_status_t st = dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', M, N, K, alpha,
                                        A, lda, B, ldb, beta, C, ldc);
    CF_CHECK(st == dnnl_success, ValueError, "gemm: dnnl_sgemm failed with status ",
             static_cast<int>(st));
    return;
  }
#endif
  if (K == 0) {  // BLAS leaves C untouched for K = 0 only when beta = 1; make it well defined
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) C[i * ldc + j] = beta == 0.0f ? 0.0f : beta * C[i * ldc + j];
    return;
  }
  s.ob.sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
             static_cast<blasint>(M), static_cast<blasint>(N), static_cast<blasint>(K), alpha, A,
             static_cast<blasint>(lda), B, static_cast<blasint>(ldb), beta, C,
             static_cast<blasint>(ldc));
}

void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, double alpha,
          const double* A, int64_t lda, const double* B, int64_t ldb, double beta, double* C,
          int64_t ldc) {
  gemm_ref<double>(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void select_backend(const std::string& name) {
  State& s = state();
  if (name == "openblas") {
    s.backend = Backend::openblas;
    return;
  }
#ifdef CFORMER_WITH_ONEDNN
  if (name == "onednn") {
    s.backend = Backend::onednn;
    return;
  }
#endif
#ifdef CFORMER_WITH_ONEDNN
  const char* choices = "openblas, onednn";
#else
  const char* choices = "openblas";
#endif
  CF_THROW(ValueError, "gemm backend: unknown or not compiled in: '", name, "' (choices: ", choices, ")");
}

std::string backend_name() {
  return loaded_state().backend == Backend::openblas ? "openblas" : "onednn";
}

std::string backend_description() {
  State& s = loaded_state();
  std::string d;
  if (s.backend == Backend::openblas) {
    d = "openblas";
    if (s.ob.get_config) d += std::string(" [") + s.ob.get_config() + "]";
    if (s.ob.get_corename) d += std::string(" core=") + s.ob.get_corename();
    if (s.ob.get_num_threads) d += " threads=" + std::to_string(s.ob.get_num_threads());
    if (!s.ob.overridden.empty())
      d += " (environment OPENBLAS_CORETYPE=" + s.ob.overridden + " ignored)";
  } else {
#ifdef CFORMER_WITH_ONEDNN
    const dnnl_version_t* v = dnnl_version();
    d = "onednn " + std::to_string(v->major) + "." + std::to_string(v->minor) + "." +
        std::to_string(v->patch) + " sgemm";
#endif
  }
  return d;
}

void backend_set_num_threads(int n) {
  State& s = loaded_state();
  s.threads = n;
  if (s.ob.set_num_threads) s.ob.set_num_threads(n);
}

}  // namespace cf::ops::cpu
