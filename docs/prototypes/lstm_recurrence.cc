// What a fused CPU kernel would give the LSTM rows of experiments/benchmark.py (issue 6).
//
// NOT part of the library (the design card keeps the cells in JAX, lax.scan): a measurement
// that sizes the option of an XLA FFI custom call.  It runs the two recurrences of one LSTM
// training step -- the forward scan (gates, c(t-1), h(t-1) stored for the backward) and the
// reverse scan of rnn_gnn/bptt.py (dz stored, dh carried) -- with the batch split over the
// threads (no synchronisation inside a sequence) and the per-step matmuls done by a
// register-blocked AVX-512 kernel (8 rows x 32 columns).  Not included: the weight gradients,
// the input projection, the loss and the optimizer (one large matmul each, already done well
// by XLA).  tanh is a [7/6] Pade approximant, so values are close to, not equal to, the library's.
//
//   g++ -O3 -march=native -ffast-math -fopenmp docs/prototypes/lstm_recurrence.cc -o /tmp/lstm
//   OMP_NUM_THREADS=2 /tmp/lstm 19 128 128 200     # T-1, batch, hidden, repeats: palindrome
//   OMP_NUM_THREADS=2 /tmp/lstm 30 64 128 100      # one layer of the char-LSTM 2x128
//   OMP_NUM_THREADS=2 /tmp/lstm 100 64 512 5       # one layer of the char-LSTM 2x512
#include <immintrin.h>

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace {

constexpr int kRows = 8, kVecs = 2;  // tile: 8 rows x 2 x 16 columns, 16 accumulators

// C[R x N] (+)= A[R x K] (row stride lda) @ B[K x N] (row-major); R % 8 == 0, N % 32 == 0.
void gemm(const float* A, int lda, const float* B, int N, int K, float* C, bool accumulate,
          int R) {
  for (int j = 0; j < N; j += 16 * kVecs) {
    for (int r = 0; r < R; r += kRows) {
      __m512 c[kRows][kVecs];
      for (int u = 0; u < kRows; ++u)
        for (int v = 0; v < kVecs; ++v)
          c[u][v] = accumulate ? _mm512_loadu_ps(C + (r + u) * N + j + 16 * v)
                               : _mm512_setzero_ps();
      for (int k = 0; k < K; ++k) {
        __m512 b[kVecs];
        for (int v = 0; v < kVecs; ++v) b[v] = _mm512_loadu_ps(B + k * N + j + 16 * v);
        for (int u = 0; u < kRows; ++u) {
          __m512 a = _mm512_set1_ps(A[(r + u) * lda + k]);
          for (int v = 0; v < kVecs; ++v) c[u][v] = _mm512_fmadd_ps(a, b[v], c[u][v]);
        }
      }
      for (int u = 0; u < kRows; ++u)
        for (int v = 0; v < kVecs; ++v) _mm512_storeu_ps(C + (r + u) * N + j + 16 * v, c[u][v]);
    }
  }
}

#pragma omp declare simd
inline float tanh_approx(float x) {
  x = std::min(4.97f, std::max(-4.97f, x));
  float x2 = x * x;
  float p = x * (135135.f + x2 * (17325.f + x2 * (378.f + x2)));
  float q = 135135.f + x2 * (62370.f + x2 * (3150.f + x2 * 28.f));
  return p / q;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: %s T batch hidden repeats\n", argv[0]);
    return 2;
  }
  const int T = std::atoi(argv[1]), B = std::atoi(argv[2]), n = std::atoi(argv[3]);
  const int reps = std::atoi(argv[4]), G = 4 * n;
  std::vector<float> x_proj(T * B * G), W_hT(n * G), W_h(G * n);
  std::vector<float> gates(T * B * G), c_prev(T * B * n), h_prev(T * B * n), dz(T * B * G);
  std::srand(0);
  for (float& v : x_proj) v = std::rand() / float(RAND_MAX) - 0.5f;
  for (int j = 0; j < G; ++j)
    for (int k = 0; k < n; ++k)
      W_h[j * n + k] = W_hT[k * G + j] = (std::rand() / float(RAND_MAX) - 0.5f) * 0.2f;

  std::vector<double> ms;
  for (int rep = 0; rep < reps; ++rep) {
    auto start = std::chrono::steady_clock::now();
#pragma omp parallel
    {
      const int threads = omp_get_num_threads(), id = omp_get_thread_num();
      const int b0 = B * id / threads, R = B * (id + 1) / threads - b0;
      std::vector<float> h(R * n, 0.f), c(R * n, 0.f), dh(R * n, 1.f), dc(R * n, 0.f);
      for (int t = 0; t < T; ++t) {  // forward: z = x_proj + h W_h^T, gates, c, h
        float* __restrict__ q = &gates[(t * B + b0) * G];
        std::memcpy(&c_prev[(t * B + b0) * n], c.data(), R * n * sizeof(float));
        std::memcpy(&h_prev[(t * B + b0) * n], h.data(), R * n * sizeof(float));
        std::memcpy(q, &x_proj[(t * B + b0) * G], R * G * sizeof(float));
        gemm(h.data(), n, W_hT.data(), G, n, q, true, R);
        for (int r = 0; r < R; ++r) {
          float* __restrict__ z = q + r * G;
          float* __restrict__ cr = &c[r * n];
          float* __restrict__ hr = &h[r * n];
#pragma omp simd
          for (int k = 0; k < G; ++k) {
            const float a = k < n ? 1.f : 0.5f;  // a tanh(a z) + 1 - a, as cells.gate_activations
            z[k] = a * tanh_approx(a * z[k]) + 1.f - a;
          }
#pragma omp simd
          for (int k = 0; k < n; ++k) {
            cr[k] = z[k] * z[n + k] + cr[k] * z[2 * n + k];
            hr[k] = tanh_approx(cr[k]) * z[3 * n + k];
          }
        }
      }
      for (int t = T - 1; t >= 0; --t) {  // backward: dz(t), dh(t-1) = dz W_h, dc(t-1)
        const float* __restrict__ q = &gates[(t * B + b0) * G];
        const float* __restrict__ cp = &c_prev[(t * B + b0) * n];
        float* __restrict__ d = &dz[(t * B + b0) * G];
        for (int r = 0; r < R; ++r) {
          const float* __restrict__ g = q + r * G;
          float* __restrict__ o = d + r * G;
          float* __restrict__ cr = &c[r * n];
          float* __restrict__ dcr = &dc[r * n];
          const float* __restrict__ dhr = &dh[r * n];
#pragma omp simd
          for (int k = 0; k < n; ++k) {
            const float tc = tanh_approx(cr[k]);
            const float gg = g[k], ii = g[n + k], ff = g[2 * n + k], oo = g[3 * n + k];
            const float dcv = dcr[k] + dhr[k] * oo * (1.f - tc * tc);
            o[k] = dcv * ii * (1.f - gg * gg);
            o[n + k] = dcv * gg * ii * (1.f - ii);
            o[2 * n + k] = dcv * cp[r * n + k] * ff * (1.f - ff);
            o[3 * n + k] = dhr[k] * tc * oo * (1.f - oo);
            dcr[k] = dcv * ff;
            cr[k] = cp[r * n + k];
          }
        }
        gemm(d, G, W_h.data(), n, G, dh.data(), false, R);
      }
    }
    ms.push_back(std::chrono::duration<double, std::milli>(
        std::chrono::steady_clock::now() - start).count());
  }
  std::sort(ms.begin(), ms.end());
  std::printf("T=%d batch=%d hidden=%d threads=%d: forward + backward recurrences %.3f ms "
              "(median of %d)\n", T, B, n, omp_get_max_threads(), ms[ms.size() / 2], reps);
  return 0;
}
