// The Goto/BLIS blocked GEMM driver: partition N by NC, K by KC, M by MC; pack a B block
// (L2-resident) and an A block; sweep the register tiles with the micro-kernel. Threads own
// disjoint rectangles of C aligned to the tile grid, so every element of C is computed by the
// same sequence of operations whatever the thread count (bitwise-identical results). Tile shapes,
// block sizes, kernels and every threshold below come from the active instruction set's context
// (arch/gemm_arch.hpp): the driver holds no per-CPU numbers.
#include "gemm.hpp"
#include <algorithm>
#include <memory>
#include <vector>
#include "../../runtime/cpu_info.hpp"
#include "../../runtime/dispatch.hpp"
#include "../../runtime/threads.hpp"
#include "../activations.hpp"
#include "epilogue.hpp"
#include "pack.hpp"

namespace dp {
namespace {

idx ceil_div(idx a, idx b) { return (a + b - 1) / b; }

// Pack buffers per calling thread (so concurrent callers never share), one set per team member.
template <class T>
struct PackBuffers {
  ScratchBuffer<T> a, b, tile;
};

template <class T>
std::vector<std::unique_ptr<PackBuffers<T>>>& pack_pool(int team) {
  thread_local std::vector<std::unique_ptr<PackBuffers<T>>> pool;
  while (static_cast<int>(pool.size()) < team) pool.push_back(std::make_unique<PackBuffers<T>>());
  return pool;
}


// Whether `rows` cache lines `stride` bytes apart (an operand's panel read in place, one line per
// k step) stay in L1 together: such a stride touches way_bytes / gcd(stride, way_bytes) of the
// sets, each of `ways` lines. Half of them are left to the other operand and C.
bool in_place_fits_l1(idx stride, idx rows) {
  static const CacheLevel l1 = cpu_info().l1d;
  if (l1.size <= 0 || l1.ways <= 0) return true;  // unknown: keep the policy's choice
  const idx way_bytes = l1.size / l1.ways;
  idx a = stride % way_bytes, b = way_bytes;
  while (a) {
    const idx r = b % a;
    b = a;
    a = r;
  }
  const idx sets = way_bytes / std::max<idx>(b, l1.line);
  return rows <= sets * l1.ways / 2;
}

// Which panel a block's loops keep in L1. Rows outside (A's MR x kc panel in L1, the tiles of a
// row panel along C's rows) need the kc x nc block of B to stay in L2 while C streams through;
// a block of B over half of L2 is evicted by C and refetched for every row panel. There the loops
// take B's column panels outside (BLIS's order), provided the mc x kc block of A they then
// stream stays in L2 (a quarter of it). Zen 3, 512 KiB L2, the weight gradient 512x784x128 TN
// (B = X read in place, 401 KB per K block), paired calls: 1.08-1.14x; products with a smaller
// B block lost 2-19% in that order (C walked down its columns), large squares 11-18% (A blocks
// of 245 KB).
// (gemm_loop_order() may force either order.)
bool b_panel_in_l1(idx b_block_bytes, idx a_block_bytes) {
  static const long l2 = cpu_info().l2.size;
  switch (gemm_loop_order()) {
    case GemmLoopOrder::Rows: return false;
    case GemmLoopOrder::Columns: return true;
    case GemmLoopOrder::Auto: break;
  }
  return l2 > 0 && b_block_bytes > l2 / 2 && a_block_bytes <= l2 / 4;
}

// One thread's share: rows [i_begin, i_end) x columns [j_begin, j_end) of C.
// Panels are read in place where the caller's layout already is the panel layout (rows of B
// when !trans_b, columns of A when trans_a); only the other operands and partial edge panels are
// packed. Packed or not, each element sees the same sequence of FMAs.
template <class T>
void gemm_rectangle(const GemmArch<T>& arch, bool ta, bool tb, idx K, T alpha, const T* A,
                    idx lda, const T* B, idx ldb, T beta, T* C, idx ldc,
                    const GemmEpilogue<T>* ep, idx i_begin, idx i_end, idx j_begin, idx j_end,
                    PackBuffers<T>& buf) {
  const int MR = arch.mr, NR = arch.nr;
  // B read in place saves its packing, which pays off while few row tiles reuse each B block or
  // the block is shallow; for tall, deep products a packed, contiguous block streams better (no
  // TLB or cache-set pressure from the caller's stride).
  // A in place: columns of a transposed A are the packed layout already (ukr); rows of a plain A
  // are read as MR row streams (ukr_rows) where the policy says that beats transposing them.
  // K in equal blocks of at most KC: 784 = 3 x 262 rather than 3 x 256 + 16, whose last block
  // would reload and store every tile of C for 16 steps (a cost of 1-3% at these sizes).
  const idx kc_step = ceil_div(K, ceil_div(K, arch.kc));
  const bool check_sets = arch.policy.in_place_needs_l1_sets;
  const bool a_rows = !ta && arch.ukr_rows && arch.policy.a_rows_in_place;
  const bool a_direct =
      (ta && lda * idx(sizeof(T)) <= arch.policy.a_columns_max_stride &&
       (!check_sets || in_place_fits_l1(lda * idx(sizeof(T)), kc_step))) ||
      a_rows;
  const GemmMicroKernel<T> ukr_direct = a_rows ? arch.ukr_rows : arch.ukr;
  // The sets matter only where B's panels are reused: at most kFewRowPanels row panels (an
  // output layer's weight gradient, M = classes) read each from L2 a few times, cheaper than
  // packing B (10x512x128 TN on Zen 3, paired calls: 1.29-1.60x), unless B's rows are so far
  // apart that every k step misses the TLB (a 4096-wide layer: 0.83x in place).
  constexpr idx kFewRowPanels = 4;
  const bool b_reused_little = i_end - i_begin <= kFewRowPanels * MR &&
                               ldb * idx(sizeof(T)) <= arch.policy.a_columns_max_stride;
  const bool b_direct = !tb &&
                        (i_end - i_begin <= arch.policy.direct_b_max_rows ||
                         K <= arch.policy.direct_b_max_depth) &&
                        (!check_sets || b_reused_little ||
                         in_place_fits_l1(ldb * idx(sizeof(T)), kc_step));
  T* Ap = buf.a.reserve(0);
  T* Bp = buf.b.reserve(0);
  T* tile_buf = buf.tile.reserve(0);
  for (idx jc = j_begin; jc < j_end; jc += arch.nc) {
    const idx nc = std::min(arch.nc, j_end - jc);
    const idx nc_full = b_direct ? nc / NR * NR : 0;  // columns read in place
    for (idx pc = 0; pc < K; pc += kc_step) {
      const idx kc = std::min(kc_step, K - pc);
      const bool last_k = pc + kc == K;
      const T beta_now = pc == 0 ? beta : T(1);
      if (nc_full < nc) {
        if (arch.pack_b_panels)
          arch.pack_b_panels(B, ldb, tb, pc, kc, jc + nc_full, nc - nc_full, NR, Bp + nc_full * kc);
        else
          pack_b(B, ldb, tb, pc, kc, jc + nc_full, nc - nc_full, NR, Bp + nc_full * kc);
      }
      // Decided per K block on the full A block, so a short last block of rows keeps the order.
      const bool columns_outside = b_panel_in_l1(
          kc * nc * idx(sizeof(T)), std::min(arch.mc, i_end - i_begin) * kc * idx(sizeof(T)));
      for (idx ic = i_begin; ic < i_end; ic += arch.mc) {
        const idx mc = std::min(arch.mc, i_end - ic);
        const idx mc_full = a_direct ? mc / MR * MR : 0;
        if (mc_full < mc) pack_a(A, lda, ta, ic + mc_full, mc - mc_full, pc, kc, MR, Ap + mc_full * kc);
        // The tile of rows ir.. and columns jr.. of this block (each tile's sums are the same
        // whatever order the tiles are taken in).
        auto tile = [&](idx ir, idx jr) {
          const idx mr = std::min<idx>(MR, mc - ir), nr = std::min<idx>(NR, nc - jr);
          const bool a_in_place = ir < mc_full;
          const T* a = !a_in_place ? Ap + ir * kc
                       : a_rows     ? A + (ic + ir) * lda + pc
                                    : A + pc * lda + ic + ir;
          const idx a_ks = a_in_place ? lda : MR;
          const GemmMicroKernel<T> ukr = a_in_place ? ukr_direct : arch.ukr;
          const bool b_in_place = jr < nc_full;
          const T* b = b_in_place ? B + pc * ldb + jc + jr : Bp + jr * kc;
          const idx b_ks = b_in_place ? ldb : NR;
          T* c = C + (ic + ir) * ldc + jc + jr;
          if (mr == MR && nr == NR) {
            ukr(kc, a, a_ks, b, b_ks, c, ldc, alpha, beta_now);
          } else if (arch.ukr_edge) {
            arch.ukr_edge(kc, a, a_ks, a_in_place && a_rows, b, b_ks, c, ldc, alpha, beta_now,
                          int(mr), int(nr));
          } else {  // edge tile: full-speed kernel into a scratch tile, then copy the valid part
            ukr(kc, a, a_ks, b, b_ks, tile_buf, NR, alpha, T(0));
            for (idx i = 0; i < mr; ++i)
              for (idx j = 0; j < nr; ++j)
                c[i * ldc + j] = beta_now == T(0) ? tile_buf[i * NR + j]
                                                  : tile_buf[i * NR + j] + beta_now * c[i * ldc + j];
          }
        };
        if (columns_outside) {
          // Column panels outside: B's kc x NR panel stays in L1 while the A block (L2)
          // streams past it.
          for (idx jr = 0; jr < nc; jr += NR)
            for (idx ir = 0; ir < mc; ir += MR) {
              tile(ir, jr);
              if (last_k && ep)
                apply_epilogue(*ep, C, ldc, ic + ir, jc + jr, std::min<idx>(MR, mc - ir),
                               std::min<idx>(NR, nc - jr));
            }
          continue;
        }
        // Row panels outside: A's MR x kc panel stays in L1 while the B block (L2) streams.
        for (idx ir = 0; ir < mc; ir += MR) {
          for (idx jr = 0; jr < nc; jr += NR) tile(ir, jr);
          // Once per row panel (mr rows x nc columns, still in L1): a few long rows instead of a
          // call per tile row.
          if (last_k && ep) apply_epilogue(*ep, C, ldc, ic + ir, jc, std::min<idx>(MR, mc - ir), nc);
        }
      }
    }
  }
}

// K == 0 or alpha == 0: C = beta * C, then the epilogue.
template <class T>
void scale_only(idx M, idx N, T beta, T* C, idx ldc, const GemmEpilogue<T>* ep) {
  team_single([&] {
    for (idx i = 0; i < M; ++i)
      for (idx j = 0; j < N; ++j) C[i * ldc + j] = beta == T(0) ? T(0) : beta * C[i * ldc + j];
    if (ep) apply_epilogue(*ep, C, ldc, 0, 0, M, N);
  });
}

}  // namespace

// Small-batch forward products (C = A Bᵀ, few rows of A): dot products along K straight from
// both row-major operands. Packing B would cost as much as the product itself here.
template <class T>
static void gemm_dot(const GemmArch<T>& arch, idx M, idx N, idx K, T alpha, const T* A, idx lda,
                     const T* B, idx ldb, T beta, T* C, idx ldc, const GemmEpilogue<T>* epilogue) {
  const idx n_tiles = ceil_div(N, arch.dot_nr);
  const GemmPolicy& policy = arch.policy;
  const double per_thread = M <= policy.streaming_max_rows ? policy.streaming_flops_per_thread
                                                           : policy.compute_flops_per_thread;
  const int team = static_cast<int>(
      std::min<idx>(threads_for_work(2.0 * double(M) * double(N) * double(K), per_thread), n_tiles));
  // Rows of A in chunks that stay in L2 while a few rows of B (in L1) sweep them.
  const idx chunk = std::max<idx>(arch.dot_mr, policy.dot_row_chunk / arch.dot_mr * arch.dot_mr);
  auto run_share = [&](int t) {
    const idx j0 = n_tiles * t / team * arch.dot_nr;
    const idx j1 = std::min(N, n_tiles * (t + 1) / team * arch.dot_nr);
    for (idx i0 = 0; i0 < M; i0 += chunk) {
      const idx i1 = std::min(M, i0 + chunk);
      for (idx j = j0; j < j1; j += arch.dot_nr) {
        const idx n = std::min<idx>(arch.dot_nr, j1 - j);
        for (idx i = i0; i < i1; i += arch.dot_mr) {
          const idx m = std::min<idx>(arch.dot_mr, i1 - i);
          arch.dot(K, A + i * lda, lda, B + j * ldb, ldb, C + i * ldc + j, ldc, m, n, alpha, beta);
          if (epilogue) apply_epilogue(*epilogue, C, ldc, i, j, m, n);
        }
      }
    }
  };
  run_team(team, [&](int t, int size) {
    for (int share = t; share < team; share += size) run_share(share);
  });
}

// M == 1, C = a B with more than one block of B's rows: fixed blocks of kRowBlock rows, each
// block's partial row from the one-row kernel (its rows streamed whole), the partials then added in
// block order. Threads own whole blocks, so each streams a contiguous part of B from its own L2;
// splitting the columns instead had each core's prefetchers run past its half of every row into
// the other's (512 x 784 on two Sapphire Rapids cores: 26 GB/s per core, below one core alone).
// The blocks, not the threads, fix the order of the sums: every thread count gives the same bits.
constexpr idx kRowBlock = 64;
// ... and at most this many columns at a time (a multiple of every vector width): the accumulated
// row (4 KB in float32) then stays in L1 beside the rows of B streaming through it; a 4096-wide
// row (16 KB) was evicted by them.
constexpr idx kRowColumns = 1024;

template <class T>
static void gemm_row_blocks(const GemmArch<T>& arch, idx N, idx K, T alpha, const T* a, idx a_ks,
                            const T* B, idx ldb, T beta, T* C, const GemmEpilogue<T>* epilogue) {
  const idx blocks = ceil_div(K, kRowBlock);
  thread_local ScratchBuffer<T> partial_rows;
  T* partial = team_leader([&] { return partial_rows.reserve(std::size_t(blocks * N)); });
  const idx step = arch.row_nr, tiles = ceil_div(N, step);
  const int team = static_cast<int>(std::min<idx>(
      threads_for_work(2.0 * double(N) * double(K), arch.policy.streaming_flops_per_thread), blocks));
  run_team(team, [&](int t, int size) {
    for (idx blk = blocks * t / size; blk < blocks * (t + 1) / size; ++blk) {
      const idx p0 = blk * kRowBlock, rows = std::min(kRowBlock, K - p0);
      T* row = partial + blk * N;
      for (idx jc = 0; jc < N; jc += kRowColumns)
        arch.row_ukr(rows, std::min(kRowColumns, N - jc), a + p0 * a_ks, a_ks, B + p0 * ldb + jc, ldb,
                     row + jc, T(1), T(0), row + jc);
    }
    if (size > 1) team_barrier();
    const idx j0 = std::min(N, tiles * t / size * step);
    const idx j1 = std::min(N, tiles * (t + 1) / size * step);
    // Each column's partials are added in block order, a chunk of columns at a time, so the
    // loops run along contiguous columns (vectorised) rather than down the blocks' stride.
    constexpr idx kChunk = 256;
    T sum[kChunk];
    for (idx jc = j0; jc < j1; jc += kChunk) {
      const idx cols = std::min(kChunk, j1 - jc);
      for (idx c = 0; c < cols; ++c) sum[c] = partial[jc + c];
      for (idx blk = 1; blk < blocks; ++blk) {
        const T* part = partial + blk * N + jc;
        for (idx c = 0; c < cols; ++c) sum[c] += part[c];
      }
      T* out = C + jc;
      for (idx c = 0; c < cols; ++c) out[c] = beta == T(0) ? alpha * sum[c] : alpha * sum[c] + beta * out[c];
    }
    if (epilogue && j0 < j1) apply_epilogue(*epilogue, C, 0, 0, j0, 1, j1 - j0);
  });
}

// M == 1 (a batch-1 layer, or a GEMV): C = a Bᵀ as dot products against the rows of B; C = a B
// (a read in place with its stride when A is transposed) streaming B's rows whole into
// accumulators in L1, in row blocks past kRowBlock rows (gemm_row_blocks). Otherwise threads split
// the columns in whole tiles (multiples of the vector width), so no column's arithmetic depends
// on the split.
template <class T>
static bool gemm_row(const GemmArch<T>& arch, bool trans_a, bool trans_b, idx N, idx K, T alpha,
                     const T* A, idx lda, const T* B, idx ldb, T beta, T* C,
                     const GemmEpilogue<T>* epilogue) {
  const bool dot_form = !trans_a && trans_b;
  if (trans_a && trans_b) return false;  // rare; the general path handles it
  if (!dot_form && K > kRowBlock) {
    gemm_row_blocks(arch, N, K, alpha, A, trans_a ? lda : 1, B, ldb, beta, C, epilogue);
    return true;
  }
  const idx step = dot_form ? arch.row_dot_nr : arch.row_nr;
  const idx tiles = ceil_div(N, step);
  const int team = static_cast<int>(
      std::min<idx>(threads_for_work(2.0 * double(N) * double(K),
                                     arch.policy.streaming_flops_per_thread), tiles));
  auto& pool = *team_leader([&] {
    auto* members = &pack_pool<T>(team);
    if (!dot_form && beta != T(0))  // the accumulators cannot be C itself
      for (int t = 0; t < team; ++t) (*members)[t]->tile.reserve(std::size_t(N));
    return members;
  });
  const idx a_ks = trans_a ? lda : 1;
  run_team(team, [&](int t, int size) {
    const idx j0 = std::min(N, tiles * t / size * step);
    const idx j1 = std::min(N, tiles * (t + 1) / size * step);
    if (j0 >= j1) return;
    if (dot_form) {
      for (idx j = j0; j < j1; j += step)
        arch.row_dot(K, A, lda, B + j * ldb, ldb, C + j, 0, 1, std::min(step, j1 - j), alpha, beta);
    } else {
      T* acc = beta == T(0) ? C + j0 : pool[t]->tile.reserve(0);
      arch.row_ukr(K, j1 - j0, A, a_ks, B + j0, ldb, C + j0, alpha, beta, acc);
    }
    if (epilogue) apply_epilogue(*epilogue, C, 0, 0, j0, 1, j1 - j0);
  });
  return true;
}

template <class T>
void gemv_columns(idx j0, idx j1, idx K, const T* a, const T* B, idx ldb, T* C,
                  const GemmEpilogue<T>* epilogue) {
  const GemmArch<T>& arch = active_gemm_arch<T>();
  for (idx j = j0; j < j1; j += arch.row_dot_nr) {
    const idx n = std::min<idx>(arch.row_dot_nr, j1 - j);
    arch.row_dot(K, a, K, B + j * ldb, ldb, C + j, 0, 1, n, T(1), T(0));
    if (epilogue) apply_epilogue(*epilogue, C, 0, 0, j, 1, n);
  }
}

template <class T>
int gemv_team(double flops) {
  return threads_for_work(flops, active_gemm_arch<T>().policy.streaming_flops_per_thread);
}

template <class T>
idx gemv_split(idx N, int t, int team) {
  const idx step = active_gemm_arch<T>().row_dot_nr, tiles = ceil_div(N, step);
  return std::min(N, tiles * t / team * step);
}

// A narrow C (e.g. the 10-wide output layer) would leave most of each NR-wide tile empty, so
// compute Cᵀ = op(B)ᵀ op(A)ᵀ (wide) into scratch and write it back transposed.
template <class T>
static void gemm_narrow(bool trans_a, bool trans_b, idx M, idx N, idx K, T alpha, const T* A,
                        idx lda, const T* B, idx ldb, T beta, T* C, idx ldc,
                        const GemmEpilogue<T>* epilogue) {
  thread_local ScratchBuffer<T> scratch;
  T* Ct = team_leader([&] { return scratch.reserve(std::size_t(M * N)); });
  gemm(!trans_b, !trans_a, N, M, K, alpha, B, ldb, A, lda, T(0), Ct, M);
  team_single([&] {
    for (idx i = 0; i < M; ++i)
      for (idx j = 0; j < N; ++j)
        C[i * ldc + j] = beta == T(0) ? Ct[j * M + i] : Ct[j * M + i] + beta * C[i * ldc + j];
    if (epilogue) apply_epilogue(*epilogue, C, ldc, 0, 0, M, N);
  });
}

template <class T>
void gemm(bool trans_a, bool trans_b, idx M, idx N, idx K, T alpha, const T* A, idx lda,
          const T* B, idx ldb, T beta, T* C, idx ldc, const GemmEpilogue<T>* epilogue) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0 || alpha == T(0)) return scale_only(M, N, beta, C, ldc, epilogue);

  const GemmArch<T>& arch = active_gemm_arch<T>();
  if (M == 1 && gemm_row(arch, trans_a, trans_b, N, K, alpha, A, lda, B, ldb, beta, C, epilogue))
    return;
  // Few rows of A: packing B (a transpose) costs more than the dot kernel's horizontal sums.
  if (!trans_a && trans_b && M <= arch.policy.dot_max_rows)
    return gemm_dot(arch, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, epilogue);
  if (4 * N <= arch.nr && M >= 2 * N)
    return gemm_narrow(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, epilogue);
  const idx m_tiles = ceil_div(M, arch.mr), n_tiles = ceil_div(N, arch.nr);
  // A short inner dimension (a small-batch weight gradient or update) streams C through memory:
  // worth a second thread as early as GEMV.
  const double per_thread = K <= arch.policy.streaming_max_depth
                                ? arch.policy.streaming_flops_per_thread
                                : arch.policy.compute_flops_per_thread;
  int team = threads_for_work(2.0 * double(M) * double(N) * double(K), per_thread);
  // Split the larger tile count, unless the tiles of N share out unevenly where those of M do
  // not (a weight gradient of 784 columns is 13 tiles: 7 + 6; splitting its 86 row tiles instead
  // measured 15-20% faster at 2 threads; with AVX2's 16-wide tiles 25 + 24 of 49 still cost 2-5%
  // against 43 + 43 rows: 512x784x128 TN on Zen 3, alternating builds, 0.88-0.95 -> 0.92-1.05x
  // numpy); never split K (that would reorder sums across threads). Who computes a tile never
  // changes its bits. With few row tiles (a batch of 8: 6 + 2 rows) splitting them has every
  // thread read all of B: 8 x 784 x 784 NN read 2.4 MB per core from L3 (2 threads no faster
  // than 1); its 13 column tiles (7 + 6) keep each core's half of B in its L2 (1.45x).
  auto imbalance = [team](idx tiles) {
    return double(ceil_div(tiles, team) * team) / double(tiles);
  };
  // Up to a moderate depth C's traffic matters: each thread then takes whole rows of C
  // (contiguous) rather than the same columns of every row, whose halves of 2 KB rows fill only
  // half of L2's sets. Sapphire Rapids, 2 threads, C = Aᵀ B (weight gradients), alternating
  // builds: 784x512x8 2.6x, 784x512x32 1.35x, 512x512x64 1.2x, 512x512x128 1.3-1.55x,
  // 784x512x128 1.15x, 512x512x256 1.05x, 4096x4096 at K = 32 and 128 unchanged. Each thread
  // then packs all of B (K x N), a 1/M share of the work.
  constexpr idx kRowsSplitMaxDepth = 256;
  const bool rows_of_c = K <= kRowsSplitMaxDepth && m_tiles >= 4 * team && imbalance(m_tiles) < 1.05;
  const bool split_n = !rows_of_c && (n_tiles >= m_tiles || n_tiles >= 4 * team) &&
                       !(team > 1 && m_tiles >= 4 * team &&
                                    imbalance(m_tiles) < 0.99 * imbalance(n_tiles));
  team = static_cast<int>(std::min<idx>(team, split_n ? n_tiles : m_tiles));

  // Reserve all scratch before the parallel region: nothing inside it can throw. (In a step
  // team, the leader's buffers, reserved by the leader.)
  const idx mc_pad = ceil_div(std::min(arch.mc, M), arch.mr) * arch.mr;
  const idx nc_pad = ceil_div(std::min(arch.nc, N), arch.nr) * arch.nr;
  const idx kc = std::min(arch.kc, K);
  auto& pool = *team_leader([&] {
    auto* members = &pack_pool<T>(team);
    for (int t = 0; t < team; ++t) {
      (*members)[t]->a.reserve(mc_pad * kc);
      (*members)[t]->b.reserve(nc_pad * kc);
      (*members)[t]->tile.reserve(idx(arch.mr) * arch.nr);
    }
    return members;
  });

  auto run_share = [&](int t) {
    idx i0 = 0, i1 = M, j0 = 0, j1 = N;
    if (split_n) {
      j0 = std::min(N, (n_tiles * t / team) * arch.nr);
      j1 = std::min(N, (n_tiles * (t + 1) / team) * arch.nr);
    } else {
      i0 = std::min(M, (m_tiles * t / team) * arch.mr);
      i1 = std::min(M, (m_tiles * (t + 1) / team) * arch.mr);
    }
    if (i0 < i1 && j0 < j1)
      gemm_rectangle(arch, trans_a, trans_b, K, alpha, A, lda, B, ldb, beta, C, ldc, epilogue,
                     i0, i1, j0, j1, *pool[t]);
  };

  run_team(team, [&](int t, int size) {
    for (int share = t; share < team; share += size) run_share(share);
  });
}

template <class T>
void gemm_reference(bool trans_a, bool trans_b, idx M, idx N, idx K, T alpha, const T* A, idx lda,
                    const T* B, idx ldb, T beta, T* C, idx ldc) {
  for (idx i = 0; i < M; ++i)
    for (idx j = 0; j < N; ++j) {
      T sum = 0;
      for (idx p = 0; p < K; ++p)
        sum += (trans_a ? A[p * lda + i] : A[i * lda + p]) *
               (trans_b ? B[j * ldb + p] : B[p * ldb + j]);
      C[i * ldc + j] = alpha * sum + (beta == T(0) ? T(0) : beta * C[i * ldc + j]);
    }
}

#define DP_INSTANTIATE_GEMM(T)                                                                 \
  template void gemm<T>(bool, bool, idx, idx, idx, T, const T*, idx, const T*, idx, T, T*, idx, \
                        const GemmEpilogue<T>*);                                               \
  template void gemm_reference<T>(bool, bool, idx, idx, idx, T, const T*, idx, const T*, idx, T, \
                                  T*, idx);                                                    \
  template void gemv_columns<T>(idx, idx, idx, const T*, const T*, idx, T*,                   \
                                const GemmEpilogue<T>*);                                        \
  template int gemv_team<T>(double);                                                           \
  template idx gemv_split<T>(idx, int, int);
DP_INSTANTIATE_GEMM(float)
DP_INSTANTIATE_GEMM(double)

}  // namespace dp
