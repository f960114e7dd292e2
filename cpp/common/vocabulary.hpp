// The core's vocabulary, defined once: activations, losses (with the output activation each
// implies) and optimizer kinds, with their ids and names. The bindings export these tables as
// Python enums, so no id or name is typed by hand on the other side.
//
// Ids are part of the saved-model and checkpoint formats: append only, never renumber.
#pragma once
#include <cstddef>

namespace dp {

// Activation functions of a layer.
enum class Act : int { Identity = 0, Sigmoid = 1, Tanh = 2, Relu = 3, LeakyRelu = 4 };

constexpr double kLeakySlope = 0.01;  // leaky_relu(z) = z for z > 0, 0.01 z otherwise

enum class LossKind : int { CrossEntropy = 0, MeanSquared = 1, BinaryCrossEntropy = 2, Poisson = 3 };

enum class OptimKind : int { Sgd = 0, Adam = 1 };

// What turns the last layer's logits into the network's output (predict_proba); it follows
// from the loss, which is computed on the logits.
enum class OutputTransform : int { Identity = 0, Softmax = 1, Sigmoid = 2, Exp = 3 };

struct ActivationEntry {
  Act id;
  const char* name;
};
inline constexpr ActivationEntry kActivations[] = {
    {Act::Identity, "identity"}, {Act::Sigmoid, "sigmoid"},       {Act::Tanh, "tanh"},
    {Act::Relu, "relu"},         {Act::LeakyRelu, "leaky_relu"},
};

struct LossEntry {
  LossKind id;
  const char* name;
  OutputTransform output;
  const char* output_name;  // the output activation's name, as in model files and ONNX graphs
};
inline constexpr LossEntry kLosses[] = {
    {LossKind::CrossEntropy, "cross_entropy", OutputTransform::Softmax, "softmax"},
    {LossKind::MeanSquared, "mse", OutputTransform::Identity, "identity"},
    {LossKind::BinaryCrossEntropy, "binary_cross_entropy", OutputTransform::Sigmoid, "sigmoid"},
    // Poisson regression with the log link: the output is exp(logits), the rate.
    {LossKind::Poisson, "poisson", OutputTransform::Exp, "exp"},
};

struct OptimizerEntry {
  OptimKind id;
  const char* name;
};
inline constexpr OptimizerEntry kOptimizers[] = {{OptimKind::Sgd, "sgd"}, {OptimKind::Adam, "adam"}};

template <class Entry, std::size_t N>
constexpr int table_size(const Entry (&)[N]) {
  return int(N);
}

// Entries are listed in id order (checked below), so an id indexes its table.
constexpr const LossEntry& loss_entry(LossKind loss) { return kLosses[int(loss)]; }
constexpr OutputTransform output_transform_of(LossKind loss) { return loss_entry(loss).output; }

namespace vocabulary_checks {
template <class Entry, std::size_t N>
constexpr bool in_id_order(const Entry (&table)[N]) {
  for (std::size_t i = 0; i < N; ++i)
    if (int(table[i].id) != int(i)) return false;
  return true;
}
static_assert(in_id_order(kActivations) && in_id_order(kLosses) && in_id_order(kOptimizers),
              "vocabulary tables must list their entries in id order");
}  // namespace vocabulary_checks

}  // namespace dp
