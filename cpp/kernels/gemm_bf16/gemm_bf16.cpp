// The bf16 GEMM driver. C is cut into blocks along N (or M, whichever has more tiles); threads
// claim the blocks one by one and pack their own block of that operand right before its products
// read it back from L2. The other operand is shared, packed in groups by all threads first,
// each element rounded once. An MC x NC block of C sums all of K while its A and B blocks stay in
// L2 (compute_block). Every element of C is computed by one thread with the same sequence of
// operations whatever the thread count or the order blocks are claimed in (bitwise-identical
// results).
#include "gemm_bf16.hpp"
#include <algorithm>
#include <atomic>
#include <memory>
#include <stdexcept>
#include <thread>
#include <vector>
#include "../../runtime/bf16_dispatch.hpp"
#include "../../runtime/dispatch.hpp"
#include "../../runtime/threads.hpp"
#include "../activations.hpp"
#include "../gemm/epilogue.hpp"

namespace dp {
namespace {

constexpr int kMaxTile = 32 * 64;  // the largest mr x nr of any level: the edge-tile scratch

idx ceil_div(idx a, idx b) { return (a + b - 1) / b; }

// Packed operands are kept per calling thread (concurrent callers never share) and only grow.
ScratchBuffer<bf16>& a_scratch() {
  thread_local ScratchBuffer<bf16> buf;
  return buf;
}
ScratchBuffer<bf16>& b_scratch() {
  thread_local ScratchBuffer<bf16> buf;
  return buf;
}

// Panels [t*count/team, (t+1)*count/team) of `count`: thread t's share.
inline void share(int t, int team, idx count, idx* begin, idx* end) {
  *begin = count * t / team;
  *end = count * (t + 1) / team;
}

// Where a packed operand comes from: the float32 matrix and its layout, for the operand a thread
// packs itself block by block (see gemm_bf16).
struct Source {
  const float* data;
  idx ld;
  bool trans;
};

struct Operands {
  const GemmBf16Arch& arch;
  idx M, N, K, Kp;
  float alpha, beta;
  const bf16* Ap;  // ceil(M/mr) panels of mr x Kp, or null: A is packed per MC block (lazy_a)
  const bf16* Bp;  // ceil(N/nr) panels of nr x Kp, or null: B is packed per NC block (lazy_b)
  Source A, B;
  float* C;
  idx ldc;
  const GemmEpilogue<float>* ep;
};

// C[ic : ic_end, jc : jc_end] over all of K, KC at a time, from the panels at a (row ic's panel)
// and b (column jc's panel), panels Kp apart times the tile.
void compute_block(const Operands& op, idx ic, idx ic_end, idx jc, idx jc_end, const bf16* a_block,
                   const bf16* b_block, float* tile) {
  const GemmBf16Arch& arch = op.arch;
  const int MR = arch.mr, NR = arch.nr;
  for (idx pc = 0; pc < op.Kp; pc += arch.kc) {
    const idx kc = std::min(arch.kc, op.Kp - pc);
    const bool last_k = pc + kc == op.Kp;
    const float beta_now = pc == 0 ? op.beta : 1.0f;
    for (idx jr = jc; jr < jc_end; jr += NR) {
      const idx nr = std::min<idx>(NR, op.N - jr);
      const bf16* b = b_block + (jr - jc) * op.Kp + pc * NR;  // panel jr/NR, slice at pc
      for (idx ir = ic; ir < ic_end; ir += MR) {
        const idx mr = std::min<idx>(MR, op.M - ir);
        const bf16* a = a_block + (ir - ic) * op.Kp + pc * MR;
        float* c = op.C + ir * op.ldc + jr;
        const bool few_rows = mr <= arch.rows_max;
        if (nr == NR && (mr == MR || few_rows)) {
          if (few_rows)
            arch.ukr_rows(mr, kc, a, b, c, op.ldc, op.alpha, beta_now);
          else
            arch.ukr(kc, a, b, c, op.ldc, op.alpha, beta_now);
        } else {  // edge tile: the kernel into scratch, then the valid part
          if (few_rows)
            arch.ukr_rows(mr, kc, a, b, tile, NR, op.alpha, 0.0f);
          else
            arch.ukr(kc, a, b, tile, NR, op.alpha, 0.0f);
          for (idx i = 0; i < mr; ++i)
            for (idx j = 0; j < nr; ++j)
              c[i * op.ldc + j] = beta_now == 0.0f ? tile[i * NR + j]
                                                   : tile[i * NR + j] + beta_now * c[i * op.ldc + j];
        }
      }
      // The epilogue on the column strip just finished, not tile by tile: the tiles' stores
      // (AMX tile stores: no forwarding to loads) have landed by then.
      if (last_k && op.ep) {
        const idx rows = std::min(ic_end, op.M) - ic;
        if (!(arch.epilogue && arch.epilogue(*op.ep, op.C, op.ldc, ic, jr, rows, nr)))
          apply_epilogue(*op.ep, op.C, op.ldc, ic, jr, rows, nr);
      }
    }
  }
}

// The shared operand's panels, in groups: each group is packed by the thread that claims it
// (every thread claims groups until none are left, then computes); a thread that needs a group
// another thread is still packing waits for it. No barrier: under load a thread that gets
// descheduled holds back only the products that need what it is packing.
class SharedPanels {
 public:
  enum : unsigned char { kFree = 0, kPacking = 1, kReady = 2 };
  // Before the parallel region (allocates).
  void reset(idx groups) {
    if (groups > capacity_) {
      state_.reset(new std::atomic<unsigned char>[std::size_t(groups)]);
      capacity_ = groups;
    }
    for (idx g = 0; g < groups; ++g) state_[g].store(kFree, std::memory_order_relaxed);
    groups_ = groups;
    next_.store(0, std::memory_order_relaxed);
  }
  // Packs groups until all are claimed; pack(g) packs group g.
  template <class Pack>
  void help(const Pack& pack) {
    for (idx g; (g = next_.fetch_add(1, std::memory_order_relaxed)) < groups_;) {
      state_[g].store(kPacking, std::memory_order_relaxed);
      pack(g);
      state_[g].store(kReady, std::memory_order_release);
    }
  }
  void wait(idx first, idx last) const {  // groups [first, last]
    for (idx g = first; g <= last && g < groups_; ++g)
      for (int spins = 0; state_[g].load(std::memory_order_acquire) != kReady; ++spins) {
        if (spins < 256) {
#if defined(__x86_64__) || defined(__i386__)
          __builtin_ia32_pause();
#endif
        } else {
          std::this_thread::yield();
        }
      }
  }

 private:
  std::unique_ptr<std::atomic<unsigned char>[]> state_;
  idx capacity_ = 0, groups_ = 0;
  std::atomic<idx> next_{0};
};

constexpr idx kGroupPanels = 4;  // shared panels packed per claim: long runs for the packer

// The blocks of C a thread claims: split_n: columns [w*width, ...) with all rows (its B block
// packed into `own`), else rows [w*width, ...) with all columns (its A block into `own`).
struct Schedule {
  bool split_n;
  idx width, items;           // of a work item, in rows or columns; how many
  std::atomic<idx> next{0};
};

void run_items(const Operands& op, Schedule& sched, const SharedPanels& shared, bf16* own) {
  const GemmBf16Arch& arch = op.arch;
  alignas(64) float tile[kMaxTile];
  if (arch.enter) arch.enter();
  for (idx w; (w = sched.next.fetch_add(1, std::memory_order_relaxed)) < sched.items;) {
    if (sched.split_n) {  // columns [jc, jc_end) of every row block
      const idx jc = w * sched.width, jc_end = std::min(op.N, jc + sched.width);
      const bf16* b_block = op.Bp ? op.Bp + jc * op.Kp : own;
      if (!op.Bp) arch.pack_b(op.B.data, op.B.ld, op.B.trans, jc, jc_end - jc, op.K, own);
      for (idx ic = 0; ic < op.M; ic += arch.mc) {
        const idx ic_end = std::min(op.M, ic + arch.mc);
        shared.wait(ic / arch.mr / kGroupPanels, (ic_end - 1) / arch.mr / kGroupPanels);
        compute_block(op, ic, ic_end, jc, jc_end, op.Ap + ic * op.Kp, b_block, tile);
      }
    } else {  // rows [ic, ic_end) of every column block
      const idx ic = w * sched.width, ic_end = std::min(op.M, ic + sched.width);
      arch.pack_a(op.A.data, op.A.ld, op.A.trans, ic, ic_end - ic, op.K, own);
      for (idx jc = 0; jc < op.N; jc += arch.nc) {
        const idx jc_end = std::min(op.N, jc + arch.nc);
        shared.wait(jc / arch.nr / kGroupPanels, (jc_end - 1) / arch.nr / kGroupPanels);
        compute_block(op, ic, ic_end, jc, jc_end, own, op.Bp + jc * op.Kp, tile);
      }
    }
  }
  if (arch.leave) arch.leave();
}

// Per-thread blocks of the operand each thread packs for itself, kept by the calling thread.
std::vector<std::unique_ptr<ScratchBuffer<bf16>>>& own_blocks(int team) {
  thread_local std::vector<std::unique_ptr<ScratchBuffer<bf16>>> pool;
  while (static_cast<int>(pool.size()) < team) pool.push_back(std::make_unique<ScratchBuffer<bf16>>());
  return pool;
}

// Panels [p_begin, p_end) of op(B) (K x N), in one call: the packer reads long runs of B.
void pack_b_panels(const GemmBf16Arch& arch, bool tb, idx K, const float* B, idx ldb, idx N,
                   idx p_begin, idx p_end, bf16* Bp) {
  if (p_begin >= p_end) return;
  const idx Kp = ceil_div(K, arch.kg) * arch.kg, j0 = p_begin * arch.nr;
  arch.pack_b(B, ldb, tb, j0, std::min(N, p_end * arch.nr) - j0, K, Bp + j0 * Kp);
}

// Packing moves memory: worth a second thread from about this many elements.
constexpr double kPackElementsPerThread = 32768;

// C[0:M, j0:j1) of C = alpha A Bᵀ + beta C for a few rows of A, nothing packed: dot products of
// rows rounded in registers, then the epilogue on those columns once they are final. A column's
// value does not depend on which columns share its call.
void dot_columns(const GemmBf16Arch& arch, idx M, idx j0, idx j1, idx K, float alpha, const float* A,
                 idx lda, const float* B, idx ldb, float beta, float* C, idx ldc,
                 const GemmEpilogue<float>* ep) {
  if (j0 < j1) arch.dot(K, A, lda, B + j0 * ldb, ldb, C + j0, ldc, M, j1 - j0, alpha, beta);
  if (ep && j0 < j1 && !(arch.epilogue && arch.epilogue(*ep, C, ldc, 0, j0, M, j1 - j0)))
    apply_epilogue(*ep, C, ldc, 0, j0, M, j1 - j0);
}

// Memory-bound: the float32 B streams once whatever the few rows, as in the float32 GEMV, so the
// GEMV's threshold decides (a second thread streams its half of B from its own L2).
int dot_team(idx N, idx K) {
  return threads_for_work(2.0 * double(N) * double(K),
                          active_gemm_arch<float>().policy.streaming_flops_per_thread);
}

// Thread t's first column of N, in whole dot tiles.
idx dot_split(const GemmBf16Arch& arch, idx N, int t, int team) {
  return std::min(N, ceil_div(N, arch.dot_cols) * t / team * arch.dot_cols);
}

// A few rows of A against op(B) = Bᵀ (rows of B along k): threads split the rows of B (columns
// of C).
void gemm_dot(const GemmBf16Arch& arch, idx M, idx N, idx K, float alpha, const float* A, idx lda,
              const float* B, idx ldb, float beta, float* C, idx ldc,
              const GemmEpilogue<float>* ep) {
  const int team = static_cast<int>(std::min<idx>(dot_team(N, K), ceil_div(N, arch.dot_cols)));
  run_team(team, [&](int t, int threads) {
    dot_columns(arch, M, dot_split(arch, N, t, threads), dot_split(arch, N, t + 1, threads), K,
                alpha, A, lda, B, ldb, beta, C, ldc, ep);
  });
}

}  // namespace

bf16* Bf16PackedB::reserve(std::size_t count) {
  if (count > capacity_) {
    void* fresh = std::aligned_alloc(64, (count * sizeof(bf16) + 63) / 64 * 64);
    if (!fresh) throw std::bad_alloc();
    data_.reset(static_cast<bf16*>(fresh));
    capacity_ = count;
  }
  return data_.get();
}

void pack_b_bf16(bool trans_b, idx K, idx N, const float* B, idx ldb, Bf16PackedB& out) {
  const GemmBf16Arch& arch = active_bf16_arch();
  out.level = nullptr;  // invalid until packed
  out.K = K, out.N = N, out.nr = arch.nr, out.kg = arch.kg;
  const idx panels = ceil_div(N, arch.nr);
  bf16* Bp = out.reserve(std::size_t(panels * arch.nr * out.kp()));
  const int team = static_cast<int>(std::min<idx>(
      threads_for_work(double(K) * double(N), kPackElementsPerThread), panels));
  if (team <= 1) {
    pack_b_panels(arch, trans_b, K, B, ldb, N, 0, panels, Bp);
  } else {
    run_team(team, [&](int t, int size) {
      for (int part = t; part < team; part += size) {
        idx p0, p1;
        share(part, team, panels, &p0, &p1);
        pack_b_panels(arch, trans_b, K, B, ldb, N, p0, p1, Bp);
      }
    });
  }
  out.level = arch.name;
}

void gemm_bf16(bool trans_a, bool trans_b, idx M, idx N, idx K, float alpha, const float* A,
               idx lda, const float* B, idx ldb, float beta, float* C, idx ldc,
               const GemmEpilogue<float>* epilogue, const Bf16PackedB* packed_b) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0 || alpha == 0.0f) {  // C = beta * C, then the epilogue
    for (idx i = 0; i < M; ++i)
      for (idx j = 0; j < N; ++j) C[i * ldc + j] = beta == 0.0f ? 0.0f : beta * C[i * ldc + j];
    if (epilogue) apply_epilogue(*epilogue, C, ldc, 0, 0, M, N);
    return;
  }
  const GemmBf16Arch& arch = active_bf16_arch();
  if (packed_b && !packed_b->fits(arch, K, N)) {
    if (!B) throw std::logic_error("gemm_bf16: the packed B does not fit this product or level");
    packed_b = nullptr;
  }
  if (!packed_b && !trans_a && trans_b && M <= arch.dot_rows)
    return gemm_dot(arch, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, epilogue);
  const idx Kp = ceil_div(K, arch.kg) * arch.kg;
  const idx m_panels = ceil_div(M, arch.mr), n_panels = ceil_div(N, arch.nr);

  // A product of a few rows streams B once (memory-bound): worth a second thread much earlier.
  const double per_thread = M <= arch.rows_max ? arch.flops_per_thread / 16 : arch.flops_per_thread;
  int team = threads_for_work(2.0 * double(M) * double(N) * double(K), per_thread);
  // Split the larger tile count; never split K (that would reorder sums across threads).
  const bool split_n = n_panels >= m_panels || n_panels >= 4 * team;
  team = static_cast<int>(std::min<idx>(team, split_n ? n_panels : m_panels));
  // Work items along the split, at most an L2 block wide, and at least two per thread where the
  // product allows (threads that finish early take the next one): each thread packs its own
  // block of that operand (hot in L2 when its products read it). The other operand is shared,
  // packed in groups of panels by all threads.
  const idx split_panels = split_n ? n_panels : m_panels, tile_along = split_n ? arch.nr : arch.mr;
  const idx block_panels = (split_n ? arch.nc : arch.mc) / tile_along;
  const idx item_panels = std::max<idx>(1, std::min(block_panels, ceil_div(split_panels, 2 * team)));
  Schedule sched{split_n, item_panels * tile_along, ceil_div(split_panels, item_panels)};

  // Reserve all scratch before the parallel region: nothing inside it can throw.
  const bool shared_a = split_n, shared_b = !split_n && !packed_b;
  bf16* Ap = shared_a ? a_scratch().reserve(std::size_t(m_panels * arch.mr * Kp)) : nullptr;
  bf16* Bp = shared_b ? b_scratch().reserve(std::size_t(n_panels * arch.nr * Kp)) : nullptr;
  auto& own = own_blocks(team);
  for (int t = 0; t < team; ++t) own[t]->reserve(std::size_t(sched.width * Kp));
  thread_local SharedPanels shared_of_caller;
  SharedPanels& shared = shared_of_caller;  // the caller's, also inside the parallel region
  shared.reset(shared_a ? ceil_div(m_panels, kGroupPanels) : shared_b ? ceil_div(n_panels, kGroupPanels) : 0);
  const Operands op{arch, M, N, K, Kp, alpha, beta, Ap, packed_b ? packed_b->data() : Bp,
                    {A, lda, trans_a}, {B, ldb, trans_b}, C, ldc, epilogue};
  auto pack_group = [&](idx g) {
    if (shared_a) {
      const idx i0 = g * kGroupPanels * arch.mr;
      arch.pack_a(A, lda, trans_a, i0, std::min(M, i0 + kGroupPanels * arch.mr) - i0, K, Ap + i0 * Kp);
    } else {
      pack_b_panels(arch, trans_b, K, B, ldb, N, g * kGroupPanels,
                    std::min(n_panels, (g + 1) * kGroupPanels), Bp);
    }
  };
  run_team(team, [&](int t, int) {
    shared.help(pack_group);
    run_items(op, sched, shared, own[t]->reserve(0));
  });
}

const GemmBf16Arch* bf16_gemv_arch() {
  const GemmBf16Arch& arch = active_bf16_arch();
  return arch.dot_rows > 0 ? &arch : nullptr;
}

void gemv_columns_bf16(const GemmBf16Arch& arch, idx j0, idx j1, idx K, const float* a,
                       const float* B, idx ldb, float* C, const GemmEpilogue<float>* epilogue) {
  dot_columns(arch, 1, j0, j1, K, 1.0f, a, K, B, ldb, 0.0f, C, 0, epilogue);
}

idx gemv_split_bf16(const GemmBf16Arch& arch, idx N, int t, int team) {
  return dot_split(arch, N, t, team);
}

}  // namespace dp
