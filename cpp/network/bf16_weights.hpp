// The bf16 panels of a float32 model's weights for inference: every layer's Wᵀ packed once for
// the forward products, reused by every later bf16 inference call (and every 1024-row chunk of
// one), rebuilt when the weights or the bf16 level change. The weights can change behind the
// core's back (parameter views written from Python), so a fingerprint of their exact bits, one
// read of the float32 weights, is what decides; the rounding and packing happen only on a change.
// Thread-safe: concurrent inference calls share one immutable set.
#pragma once
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>
#include "../common/base.hpp"
#include "../kernels/gemm_bf16/gemm_bf16.hpp"

namespace dp {

class Bf16InferenceWeights {
 public:
  struct Panels {
    std::uint64_t fingerprint = 0;
    const char* level = nullptr;
    std::vector<Bf16PackedB> layers;  // Wᵀ of layer l: K = sizes[l], N = sizes[l+1]
  };

  // The panels for these parameters (num_params floats; layer l's W (sizes[l+1], sizes[l]) at
  // weight_offsets[l]), packed now if the cached ones are stale.
  std::shared_ptr<const Panels> get(const float* params, idx num_params,
                                    const std::vector<idx>& sizes,
                                    const std::vector<idx>& weight_offsets) const;

 private:
  mutable std::mutex mutex_;
  mutable std::shared_ptr<const Panels> panels_;
};

}  // namespace dp
