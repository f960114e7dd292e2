#include "blocking.hpp"
#include <algorithm>
#include <cstdlib>
#include <sstream>
#include <stdexcept>

namespace dp {

GemmBlocks model_blocks(const CpuInfo& cpu, int mr, int nr, int elem) {
  const CacheLevel& l1 = cpu.l1d;
  const CacheLevel& l2 = cpu.l2;
  const long l1_way = std::max<long>(1, l1.size / std::max(1, l1.ways));
  const long l2_way = std::max<long>(1, l2.size / std::max(1, l2.ways));
  // L1: ways for the streaming B lines in proportion NR : MR, the rest (>= 1) for the A panel.
  const int usable = std::max(2, l1.ways - 1);
  const int b_ways = std::min(usable - 1, int(double(usable) * nr / (nr + mr)));
  const int a_ways = std::max(1, usable - b_ways);
  idx kc = idx(a_ways * l1_way / (long(mr) * elem));
  kc = std::max<idx>(8, kc / 8 * 8);
  // L2: the B block, less one way for the A panel and one left free.
  const int b_block_ways = std::max(1, l2.ways - 2);
  idx nc = idx(b_block_ways * l2_way / (long(kc) * elem));
  nc = std::max<idx>(nr, nc / nr * nr);
  idx mc = idx((l2.size / 2) / (long(kc) * elem));
  mc = std::max<idx>(mr, mc / mr * mr);
  return {mc, kc, nc};
}

bool parse_blocks_override(const std::string& text, bool* use_model, GemmBlocks* blocks) {
  *use_model = false;
  if (text.empty()) return false;
  if (text == "model") {
    *use_model = true;
    return true;
  }
  std::stringstream in(text);
  std::string part;
  idx values[3];
  int count = 0;
  while (std::getline(in, part, ',')) {
    char* end = nullptr;
    const long v = std::strtol(part.c_str(), &end, 10);
    if (count == 3 || end == part.c_str() || *end != '\0' || v < 1 || v > (1L << 24))
      throw std::invalid_argument("DELTAPROP_GEMM_BLOCKS: expected 'model' or 'MC,KC,NC' (integers >= 1), got '" +
                                  text + "'");
    values[count++] = idx(v);
  }
  if (count != 3)
    throw std::invalid_argument("DELTAPROP_GEMM_BLOCKS: expected 'model' or 'MC,KC,NC', got '" + text + "'");
  *blocks = {values[0], values[1], values[2]};
  return true;
}

}  // namespace dp
