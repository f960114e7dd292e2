#include "kernels.hpp"
#include <algorithm>
#include "check.hpp"

namespace dp::cuda {
namespace {

constexpr int kThreads = 256;

int blocks_for(idx count) {
  const idx b = (count + kThreads - 1) / kThreads;
  return int(std::max<idx>(1, std::min<idx>(b, 8192)));  // grid-stride loops cover the rest
}

#define GRID_STRIDE(i, n) for (idx i = idx(blockIdx.x) * blockDim.x + threadIdx.x; i < (n); i += idx(gridDim.x) * blockDim.x)

template <class T>
__device__ T sigmoid_of(T z) {  // exp's argument stays <= 0: no overflow
  if (z >= T(0)) return T(1) / (T(1) + exp(-z));
  const T e = exp(z);
  return e / (T(1) + e);
}

template <class T>
__device__ T activate(Act act, T z) {
  switch (act) {
    case Act::Sigmoid: return sigmoid_of(z);
    case Act::Tanh: return tanh(z);
    case Act::Relu: return z > T(0) ? z : T(0);
    case Act::LeakyRelu: return z > T(0) ? z : T(kLeakySlope) * z;
    default: return z;
  }
}

template <class T>
__device__ T slope_from_output(Act act, T a) {  // ReLU'(0) = 0, as on the CPU
  switch (act) {
    case Act::Sigmoid: return a * (T(1) - a);
    case Act::Tanh: return T(1) - a * a;
    case Act::Relu: return a > T(0) ? T(1) : T(0);
    case Act::LeakyRelu: return a > T(0) ? T(1) : T(kLeakySlope);
    default: return T(1);
  }
}

template <class T>
__global__ void bias_activation_kernel(T* Z, const T* bias, idx rows, idx width, Act act) {
  GRID_STRIDE(k, rows * width) {
    T z = Z[k];
    if (bias) z += bias[k % width];
    Z[k] = activate(act, z);
  }
}

template <class T>
__global__ void activation_backward_kernel(T* dA, const T* A, idx count, Act act) {
  GRID_STRIDE(k, count) { dA[k] = dA[k] * slope_from_output(act, A[k]); }
}

template <class T>
__global__ void column_sums_kernel(T* db, const T* dZ, idx rows, idx width) {
  GRID_STRIDE(j, width) {
    T sum = 0;
    for (idx i = 0; i < rows; ++i) sum += dZ[i * width + j];
    db[j] = sum;
  }
}

template <class T>
__global__ void softmax_rows_kernel(T* Z, idx rows, idx c) {
  GRID_STRIDE(i, rows) {
    T* z = Z + i * c;
    T zmax = z[0];
    for (idx j = 1; j < c; ++j) zmax = z[j] > zmax ? z[j] : zmax;
    T sum = 0;
    for (idx j = 0; j < c; ++j) sum += (z[j] = exp(z[j] - zmax));
    const T inv = T(1) / sum;
    for (idx j = 0; j < c; ++j) z[j] *= inv;
  }
}

template <class T>
__global__ void sigmoid_kernel(T* Z, idx count) {
  GRID_STRIDE(k, count) { Z[k] = sigmoid_of(Z[k]); }
}

template <class T>
__global__ void exp_kernel(T* Z, idx count) {
  GRID_STRIDE(k, count) { Z[k] = exp(Z[k]); }
}

template <class T>
__global__ void gather_kernel(const StepState* st, const std::int64_t* order, idx rows, const T* X, idx in_w,
                              T* xb, const std::int64_t* labels, std::int64_t* lb, const T* values, idx out_w,
                              T* vb, const T* weights, T* wb) {
  const idx base = idx(st->cursor);
  GRID_STRIDE(k, rows * in_w) {
    const idx i = k / in_w;
    xb[k] = X[order[base + i] * in_w + (k - i * in_w)];
  }
  if (vb) GRID_STRIDE(k, rows * out_w) {
    const idx i = k / out_w;
    vb[k] = values[order[base + i] * out_w + (k - i * out_w)];
  }
  GRID_STRIDE(i, rows) {
    if (lb) lb[i] = labels[order[base + i]];
    if (wb) wb[i] = weights[order[base + i]];
  }
}

// One block: the mass in a fixed order, then the step's scalars.
template <class T>
__global__ void step_begin_kernel(StepState* st, const Hyper* h, const T* weights, idx rows, bool count_step,
                                  double given_mass) {
  __shared__ double part[kThreads];
  double sum = 0;
  if (weights)
    for (idx i = threadIdx.x; i < rows; i += kThreads) sum += double(weights[i]);
  part[threadIdx.x] = sum;
  __syncthreads();
  for (int width = kThreads / 2; width > 0; width /= 2) {
    if (int(threadIdx.x) < width) part[threadIdx.x] += part[threadIdx.x + width];
    __syncthreads();
  }
  if (threadIdx.x != 0) return;
  const double mass = given_mass >= 0 ? given_mass : weights ? part[0] : double(rows);
  st->mass = mass;
  // The l2 as the CPU core rounds it: in T, divided by the mass for scikit-learn's alpha.
  st->l2_eff = h->l2_per_sample ? (mass > 0 ? double(T(h->l2 / mass)) : 0.0) : double(T(h->l2));
  if (count_step) {
    st->steps += 1;
    const double bc1 = 1.0 - pow(h->beta1, double(st->steps));
    const double bc2 = 1.0 - pow(h->beta2, double(st->steps));
    st->adam_step_size = double(T(h->lr / bc1));
    st->adam_inv_sqrt_bc2 = double(T(1.0 / sqrt(bc2)));
  }
}

template <class T>
__global__ void loss_rows_kernel(LossId loss, const T* logits, idx rows, idx c, const std::int64_t* labels,
                                 const T* values, const T* weights, const StepState* st, T* dlogits,
                                 double* row_loss) {
  GRID_STRIDE(i, rows) {
    const T* z = logits + i * c;
    const double mass = st ? st->mass : double(rows);
    const double w = weights ? double(weights[i]) : 1.0;
    const T scale = mass > 0 ? T(w / mass) : T(0);
    T* g = dlogits ? dlogits + i * c : nullptr;
    double total = 0;
    if (loss == LossId::CrossEntropy) {
      T zmax = z[0];
      for (idx j = 1; j < c; ++j) zmax = z[j] > zmax ? z[j] : zmax;
      double sum = 0;
      for (idx j = 0; j < c; ++j) sum += exp(double(z[j]) - double(zmax));
      const double log_sum = log(sum);
      if (labels) {
        const idx y = idx(labels[i]);
        total = log_sum - (double(z[y]) - double(zmax));
        if (g) {
          for (idx j = 0; j < c; ++j) g[j] = T(exp(double(z[j]) - double(zmax) - log_sum)) * scale;
          g[y] -= scale;
        }
      } else {
        const T* t = values + i * c;
        double tmass = 0;
        for (idx j = 0; j < c; ++j) {
          tmass += double(t[j]);
          if (t[j] != T(0)) total += double(t[j]) * (log_sum - (double(z[j]) - double(zmax)));
        }
        if (g)
          for (idx j = 0; j < c; ++j)
            g[j] = T((exp(double(z[j]) - double(zmax) - log_sum) * tmass - double(t[j]))) * scale;
      }
    } else {
      const T* t = values + i * c;
      const T per = scale / T(c);
      for (idx j = 0; j < c; ++j) {
        const double zj = z[j], tj = t[j];
        if (loss == LossId::MeanSquared) {
          const T d = z[j] - t[j];
          total += double(d) * double(d) * 0.5;
          if (g) g[j] = d * per;
        } else if (loss == LossId::Poisson) {  // log link: exp(z) - t z, as the CPU core
          const double rate = exp(zj);
          total += rate - (tj != 0.0 ? tj * zj : 0.0);
          if (g) g[j] = T(rate - tj) * per;
        } else {
          total += (zj > 0 ? zj : 0.0) - zj * tj + log1p(exp(-fabs(zj)));
          if (g) g[j] = (sigmoid_of(z[j]) - t[j]) * per;
        }
      }
      total /= double(c);
    }
    row_loss[i] = w * total;
  }
}

template <class In>
__global__ void reduce_partials_kernel(const In* x, idx n, bool square, double* partials) {
  __shared__ double part[kThreads];
  double sum = 0;
  for (idx k = idx(blockIdx.x) * kThreads + threadIdx.x; k < n; k += idx(kReducePartials) * kThreads) {
    const double v = double(x[k]);
    sum += square ? v * v : v;
  }
  part[threadIdx.x] = sum;
  __syncthreads();
  for (int width = kThreads / 2; width > 0; width /= 2) {
    if (int(threadIdx.x) < width) part[threadIdx.x] += part[threadIdx.x + width];
    __syncthreads();
  }
  if (threadIdx.x == 0) partials[blockIdx.x] = part[0];
}

__global__ void reduce_final_kernel(const double* partials, double* out) {
  __shared__ double part[kReducePartials];
  part[threadIdx.x] = partials[threadIdx.x];
  __syncthreads();
  for (int width = kReducePartials / 2; width > 0; width /= 2) {
    if (int(threadIdx.x) < width) part[threadIdx.x] += part[threadIdx.x + width];
    __syncthreads();
  }
  if (threadIdx.x == 0) *out = part[0];
}

__global__ void finish_loss_kernel(StepState* st, idx advance) {
  const double mean = st->mass > 0 ? st->row_loss_sum / st->mass : 0.0;
  st->step_loss = mean + 0.5 * st->l2_eff * st->l2_sum;
  st->epoch_loss += st->step_loss * st->mass;
  st->epoch_mass += st->mass;
  st->cursor += advance;
}

template <class T>
__global__ void add_l2_kernel(T* grad, const T* params, idx weights, const StepState* st) {
  const T l2 = T(st->l2_eff);
  GRID_STRIDE(k, weights) { grad[k] += l2 * params[k]; }
}

template <class T>
__global__ void optimizer_kernel(UpdateKind kind, T* params, T* velocity, T* m, T* v, const T* grad, idx count,
                                 idx weights, const Hyper* h, const StepState* st) {
  const T lr = T(h->lr);
  T factor = T(1);
  if (kind.clip) {
    const double norm = sqrt(st->grad_sq);
    if (norm > h->clip_norm) factor = T(h->clip_norm / (norm + 1e-6));
  }
  const T keep = T(1) - lr * T(h->weight_decay);
  const T momentum = T(h->momentum), beta1 = T(h->beta1), beta2 = T(h->beta2), eps = T(h->eps);
  const T step_size = T(st->adam_step_size), inv_sqrt_bc2 = T(st->adam_inv_sqrt_bc2);
  GRID_STRIDE(k, count) {
    T g = grad[k];
    if (kind.clip) g *= factor;
    T p = params[k];
    if (kind.weight_decay && k < weights) p *= keep;
    if (kind.adam) {
      const T mk = beta1 * m[k] + (T(1) - beta1) * g;
      const T vk = beta2 * v[k] + (T(1) - beta2) * g * g;
      m[k] = mk;
      v[k] = vk;
      p -= step_size * mk / (sqrt(vk) * inv_sqrt_bc2 + eps);
    } else if (kind.momentum) {
      const T vel = momentum * velocity[k] + g;
      velocity[k] = vel;
      p -= lr * (kind.nesterov ? g + momentum * vel : vel);
    } else {
      p -= lr * g;
    }
    params[k] = p;
  }
}

}  // namespace

template <class T>
void bias_activation(cudaStream_t s, T* Z, const T* bias, idx rows, idx width, Act act) {
  if (!bias && act == Act::Identity) return;
  bias_activation_kernel<<<blocks_for(rows * width), kThreads, 0, s>>>(Z, bias, rows, width, act);
  check_launch("bias_activation");
}

template <class T>
void activation_backward(cudaStream_t s, T* dA, const T* A, idx count, Act act) {
  if (act == Act::Identity) return;
  activation_backward_kernel<<<blocks_for(count), kThreads, 0, s>>>(dA, A, count, act);
  check_launch("activation_backward");
}

template <class T>
void column_sums(cudaStream_t s, T* db, const T* dZ, idx rows, idx width) {
  column_sums_kernel<<<blocks_for(width), kThreads, 0, s>>>(db, dZ, rows, width);
  check_launch("column_sums");
}

template <class T>
void output_transform(cudaStream_t s, T* logits, idx rows, idx width, LossId loss) {
  if (loss == LossId::CrossEntropy) softmax_rows_kernel<<<blocks_for(rows), kThreads, 0, s>>>(logits, rows, width);
  else if (loss == LossId::BinaryCrossEntropy)
    sigmoid_kernel<<<blocks_for(rows * width), kThreads, 0, s>>>(logits, rows * width);
  else if (loss == LossId::Poisson)
    exp_kernel<<<blocks_for(rows * width), kThreads, 0, s>>>(logits, rows * width);
  check_launch("output_transform");
}

template <class T>
void gather_batch(cudaStream_t s, const StepState* st, const std::int64_t* order, idx rows, const T* X, idx in_w,
                  T* xb, const std::int64_t* labels, std::int64_t* lb, const T* values, idx out_w, T* vb,
                  const T* weights, T* wb) {
  gather_kernel<<<blocks_for(rows * in_w), kThreads, 0, s>>>(st, order, rows, X, in_w, xb, labels, lb, values,
                                                             out_w, vb, weights, wb);
  check_launch("gather_batch");
}

template <class T>
void step_begin(cudaStream_t s, StepState* st, const Hyper* h, const T* weights, idx rows, bool count_step,
                double mass) {
  step_begin_kernel<T><<<1, kThreads, 0, s>>>(st, h, weights, rows, count_step, mass);
  check_launch("step_begin");
}

template <class T>
void loss_rows(cudaStream_t s, LossId loss, const T* logits, idx rows, idx c, const std::int64_t* labels,
               const T* values, const T* weights, const StepState* st, T* dlogits, double* row_loss) {
  loss_rows_kernel<<<blocks_for(rows), kThreads, 0, s>>>(loss, logits, rows, c, labels, values, weights, st,
                                                          dlogits, row_loss);
  check_launch("loss_rows");
}

template <class In>
void reduce_sum(cudaStream_t s, const In* x, idx n, bool square, double* partials, double* out) {
  reduce_partials_kernel<<<kReducePartials, kThreads, 0, s>>>(x, n, square, partials);
  check_launch("reduce_partials");
  reduce_final_kernel<<<1, kReducePartials, 0, s>>>(partials, out);
  check_launch("reduce_final");
}

void finish_loss(cudaStream_t s, StepState* st, idx advance) {
  finish_loss_kernel<<<1, 1, 0, s>>>(st, advance);
  check_launch("finish_loss");
}

template <class T>
void add_l2(cudaStream_t s, T* grad, const T* params, idx weights, const StepState* st) {
  add_l2_kernel<<<blocks_for(weights), kThreads, 0, s>>>(grad, params, weights, st);
  check_launch("add_l2");
}

template <class T>
void optimizer_update(cudaStream_t s, UpdateKind kind, T* params, T* velocity, T* m, T* v, const T* grad,
                      idx count, idx weights, const Hyper* h, const StepState* st) {
  optimizer_kernel<<<blocks_for(count), kThreads, 0, s>>>(kind, params, velocity, m, v, grad, count, weights, h, st);
  check_launch("optimizer_update");
}

#define DP_CUDA_INSTANTIATE(T)                                                                          \
  template void bias_activation<T>(cudaStream_t, T*, const T*, idx, idx, Act);                          \
  template void activation_backward<T>(cudaStream_t, T*, const T*, idx, Act);                           \
  template void column_sums<T>(cudaStream_t, T*, const T*, idx, idx);                                   \
  template void output_transform<T>(cudaStream_t, T*, idx, idx, LossId);                                \
  template void gather_batch<T>(cudaStream_t, const StepState*, const std::int64_t*, idx, const T*, idx,  \
                                T*, const std::int64_t*, std::int64_t*, const T*, idx, T*, const T*, T*); \
  template void step_begin<T>(cudaStream_t, StepState*, const Hyper*, const T*, idx, bool, double);     \
  template void loss_rows<T>(cudaStream_t, LossId, const T*, idx, idx, const std::int64_t*, const T*,    \
                             const T*, const StepState*, T*, double*);                                  \
  template void reduce_sum<T>(cudaStream_t, const T*, idx, bool, double*, double*);                     \
  template void add_l2<T>(cudaStream_t, T*, const T*, idx, const StepState*);                           \
  template void optimizer_update<T>(cudaStream_t, UpdateKind, T*, T*, T*, T*, const T*, idx, idx,       \
                                    const Hyper*, const StepState*);
DP_CUDA_INSTANTIATE(float)
DP_CUDA_INSTANTIATE(double)
#undef DP_CUDA_INSTANTIATE

}  // namespace dp::cuda
