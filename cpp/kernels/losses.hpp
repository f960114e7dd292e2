// Losses fused with their gradient: each returns the mean loss (accumulated in double) and, if
// `grad` is not null, writes d(mean loss)/d(input). Shapes: n rows x c columns, contiguous.
#pragma once
#include <cstdint>
#include "../common/base.hpp"

namespace dp {

// Targets of a loss: integer class labels (n), or a dense (n x c) matrix of values/probabilities.
template <class T>
struct Target {
  const std::int64_t* labels = nullptr;
  const T* values = nullptr;
};

// Softmax + cross-entropy on logits, in one pass per row, stable for any finite logits:
// loss_i = logsumexp(z_i) - z_i[y_i];  grad = (softmax(z) * sum(t) - t) / n.
template <class T>
double softmax_cross_entropy(const T* logits, idx n, idx c, Target<T> target, T* grad);

// 0.5 * mean over all n*c elements of (p - t)^2;  grad = (p - t) / (n*c).
template <class T>
double mean_squared_error(const T* pred, idx n, idx c, const T* target, T* grad);

// Binary cross-entropy on logits (as PyTorch's BCEWithLogitsLoss), mean over all elements:
// loss = max(z,0) - z t + log1p(exp(-|z|));  grad = (sigmoid(z) - t) / (n*c).
template <class T>
double sigmoid_binary_cross_entropy(const T* logits, idx n, idx c, const T* target, T* grad);

// Poisson negative log-likelihood on log-rates z (as PyTorch's PoissonNLLLoss(log_input=True),
// scikit-learn's half Poisson deviance without its constant), mean over all elements:
// loss = exp(z) - t z;  grad = (exp(z) - t) / (n*c). A rate that overflows gives an infinite
// loss and gradient (never NaN), which the training loops report as divergence.
template <class T>
double poisson_log_link(const T* logits, idx n, idx c, const T* target, T* grad);

// Output transforms used by predict_proba: row softmax, element-wise sigmoid (out may alias in).
template <class T>
void softmax_rows(const T* in, idx n, idx c, T* out);
template <class T>
void sigmoid(const T* in, idx count, T* out);
template <class T>
void exp_values(const T* in, idx count, T* out);

}  // namespace dp
