// GEMV as the M = 1 case of GEMM, which runs the one-row kernels of the active instruction set:
//   y = A x  is  yᵀ = xᵀ Aᵀ (dot products against the rows of A);
//   y = Aᵀx  is  yᵀ = xᵀ A  (one row of accumulators streaming the rows of A).
#include "gemv.hpp"
#include "gemm.hpp"

namespace dp {

template <class T>
void gemv(bool trans, idx rows, idx cols, T alpha, const T* A, idx lda, const T* x, T beta, T* y) {
  if (!trans)
    gemm(false, true, 1, rows, cols, alpha, x, cols, A, lda, beta, y, rows);
  else
    gemm(false, false, 1, cols, rows, alpha, x, rows, A, lda, beta, y, cols);
}

template void gemv<float>(bool, idx, idx, float, const float*, idx, const float*, float, float*);
template void gemv<double>(bool, idx, idx, double, const double*, idx, const double*, double,
                           double*);

}  // namespace dp
