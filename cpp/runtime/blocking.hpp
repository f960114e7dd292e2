// Cache block sizes of the GEMM driver: the analytical model of BLIS (Low, Igual, Smith,
// Quintana-Ortí, "Analytical modeling is enough for high-performance BLIS", TOMS 2016) applied to
// this driver's loop order, and the override DELTAPROP_GEMM_BLOCKS.
//
// The driver keeps an MR x kc micro-panel of A in L1 while the kc x NR micro-panels of the packed
// B block stream through from L2 (kernels/gemm/gemm.cpp). So, with W ways of S sets of L bytes:
//   kc: L1's ways split between the streaming B lines and the resident A panel in proportion to
//       the elements each uses per step (NR : MR), one way kept free; the A panel fills its share;
//   nc: the B block kc x nc fills L2 but for one way (the A panel) and one free way;
//   mc: the A block mc x kc, packed once per (nc, kc) block and read once, fills half of L2.
#pragma once
#include <string>
#include "../common/base.hpp"
#include "cpu_info.hpp"

namespace dp {

struct GemmBlocks {
  idx mc = 0, kc = 0, nc = 0;
};

// The model's blocks for a tile of mr x nr elements of `elem` bytes, rounded to the tile grid.
GemmBlocks model_blocks(const CpuInfo& cpu, int mr, int nr, int elem);

// DELTAPROP_GEMM_BLOCKS: "model" (the analytical model above) or "MC,KC,NC" (numbers, each >= 1;
// MC and NC are rounded up to the tile). Unset or empty: the instruction set's own table.
// Throws std::invalid_argument on anything else.
bool parse_blocks_override(const std::string& text, bool* use_model, GemmBlocks* blocks);

}  // namespace dp
