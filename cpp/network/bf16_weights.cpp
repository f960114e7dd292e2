#include "bf16_weights.hpp"
#include "../runtime/bf16_dispatch.hpp"

namespace dp {

std::shared_ptr<const Bf16InferenceWeights::Panels> Bf16InferenceWeights::get(
    const float* params, idx num_params, const std::vector<idx>& sizes,
    const std::vector<idx>& weight_offsets) const {
  const GemmBf16Arch& arch = active_bf16_arch();
  const std::uint64_t fingerprint = arch.fingerprint(params, num_params);
  std::lock_guard<std::mutex> lock(mutex_);
  if (panels_ && panels_->fingerprint == fingerprint && panels_->level == arch.name) return panels_;
  auto fresh = std::make_shared<Panels>();
  fresh->fingerprint = fingerprint;
  fresh->level = arch.name;
  fresh->layers.resize(sizes.size() - 1);
  for (std::size_t l = 0; l + 1 < sizes.size(); ++l) {
    const idx in = sizes[l], out = sizes[l + 1];
    pack_b_bf16(true, in, out, params + weight_offsets[l], in, fresh->layers[l]);
  }
  panels_ = std::move(fresh);
  return panels_;
}

}  // namespace dp
