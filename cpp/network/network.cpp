#include "network.hpp"
#include "../kernels/optimizers.hpp"
#include <utility>

namespace dp {

template <class T>
double Network<T>::gradient(const T* X, Target<T> y, idx n, T l2, T* grad, const T* weights) {
  std::lock_guard<std::mutex> lock(train_mutex_);
  return trainer_.gradient(model_, X, y, weights, n, l2, grad);
}

template <class T>
void Network<T>::apply_gradient(T* grad, const OptimConfig& cfg, double mass) {
  std::lock_guard<std::mutex> lock(train_mutex_);
  opt_.apply(model_, grad, cfg, T(cfg.l2_for_batch(mass)));
}

template <class T>
void Network<T>::tree_gradient(const MicroBatches<T>& batch, const TreeLayout& layout, T* out,
                               double* stats) {
  std::lock_guard<std::mutex> lock(train_mutex_);
  tree_.sum(model_, trainer_, batch, layout, out, stats);
}

template <class T>
void Network<T>::apply_gradient_sum(T* grad_sum, const OptimConfig& cfg, double mass) {
  std::lock_guard<std::mutex> lock(train_mutex_);
  const T divisor = T(mass);  // one division per element, rounded as numpy's grad /= T(mass)
  const T l2 = T(cfg.l2_for_batch(mass));
  const idx count = model_.num_params();
  if (cfg.is_plain_sgd() && l2 == T(0)) {  // what opt_.apply would do, in one pass
    sgd_update_from_sum(model_.params(), grad_sum, count, T(cfg.lr), divisor);
    opt_.count_fused_step();
    return;
  }
  for (idx i = 0; i < count; ++i) grad_sum[i] /= divisor;
  opt_.apply(model_, grad_sum, cfg, l2);
}

template <class T>
bool Network<T>::apply_gradient_sum_part(const T* grad_part, const T* addend, idx start,
                                         idx count, const OptimConfig& cfg, double mass) {
  std::lock_guard<std::mutex> lock(train_mutex_);
  if (!cfg.is_plain_sgd() || T(cfg.l2_for_batch(mass)) != T(0)) return false;
  // The loop of apply_gradient_sum's plain-SGD pass: every element rounds alone, so a part
  // gets the same bits as the whole.
  T* params = model_.params() + start;
  if (addend)
    sgd_update_from_sum_of_two(params, grad_part, addend, count, T(cfg.lr), T(mass));
  else
    sgd_update_from_sum(params, grad_part, count, T(cfg.lr), T(mass));
  opt_.count_fused_step();
  return true;
}

template <class T>
double Network<T>::train_step_sgd(const T* X, Target<T> y, idx n, T lr, T l2) {
  std::lock_guard<std::mutex> lock(train_mutex_);
  return trainer_.sgd_step(model_, opt_, X, y, nullptr, n, lr, l2);
}

template <class T>
double Network<T>::train_step(const T* X, Target<T> y, const T* weights, idx n,
                              const OptimConfig& cfg) {
  std::lock_guard<std::mutex> lock(train_mutex_);
  return trainer_.step(model_, opt_, X, y, weights, n, cfg);
}

template <class T>
double Network<T>::train_epoch(const T* X, Target<T> y, const T* weights, idx n,
                               const std::int64_t* order, idx batch, const OptimConfig& cfg,
                               const std::function<void()>& between_batches) {
  std::unique_lock<std::mutex> lock(train_mutex_);
  // The callback runs without the mutex: it may call back into Python (signal handlers).
  const std::function<void()> unlocked = [&] {
    if (!between_batches) return;
    lock.unlock();
    between_batches();
    lock.lock();
  };
  return trainer_.epoch(model_, opt_, X, y, weights, n, order, batch, cfg, unlocked);
}

template <class T>
void Network<T>::set_optimizer_state(std::int64_t steps, std::vector<T> velocity, std::vector<T> m,
                                     std::vector<T> v) {
  std::lock_guard<std::mutex> lock(train_mutex_);
  opt_.set(model_.num_params(), steps, std::move(velocity), std::move(m), std::move(v));
}

template <class T>
void Network<T>::reset_optimizer_state() {
  std::lock_guard<std::mutex> lock(train_mutex_);
  opt_.reset();
}

template class Network<float>;
template class Network<double>;

}  // namespace dp
