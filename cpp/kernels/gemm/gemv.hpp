// GEMV: y = alpha * op(A) x + beta * y, A row-major (rows, lda). The batch-1 path of a layer.
#pragma once
#include "../../common/base.hpp"

namespace dp {

// op(A) = A (rows x cols) if !trans, Aᵀ (cols x rows) if trans. x and y are contiguous.
template <class T>
void gemv(bool trans, idx rows, idx cols, T alpha, const T* A, idx lda, const T* x, T beta, T* y);

}  // namespace dp
