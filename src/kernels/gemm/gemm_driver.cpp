// The Goto/BLIS loops around the per-ISA kernels: blocking over N (NC), K (KC) and M (MC) with
// packed panels, or a direct path for small problems; threads over output tiles only.
//
// Determinism: the K blocking (and so every sum's order) depends only on the problem and the
// ISA's block sizes; threads split output tiles, so any thread count gives the same bits.
#include <algorithm>
#include <cstddef>
#include <memory>
#include <numeric>

#include "kernels/gemm/gemm_kernels.hpp"
#include "kernels/gemm/gemm_paths.hpp"
#include "runtime/threads.hpp"

namespace mlpkit::detail {
namespace {

std::size_t ceil_div(std::size_t a, std::size_t b) { return (a + b - 1) / b; }

// Packing buffers, kept per thread between calls (slot 0: B chunk, 1: all of packed A, 2: direct B sliver).
template <class T>
T* thread_buffer(int slot, std::size_t count) {
  thread_local std::unique_ptr<void, AlignedFree> buffers[3];
  thread_local std::size_t capacity[3] = {0, 0, 0};
  const std::size_t bytes = count * sizeof(T);
  if (bytes > capacity[slot]) {
    buffers[slot].reset(aligned_alloc_bytes(bytes));
    capacity[slot] = bytes;
  }
  return static_cast<T*>(buffers[slot].get());
}

// Elements of packed A held at once (rows × k): bounds the buffer for huge A (then A goes in super-blocks).
constexpr std::size_t kMaxPackedA = std::size_t(1) << 22;
// Work items per thread the compute step aims for, so a narrow C still spreads over threads. Only
// the split of C among items depends on the thread count; every element's sum stays the same.
constexpr std::size_t kItemsPerThread = 2;
// Narrowest column chunk (bytes of a row) the packed path gives a thread before it splits rows.
constexpr std::size_t kMinChunkBytes = 1024;
// Rows a direct-path work item needs before it packs its own copy of a B sliver: packing k × NR
// elements then costs at most ~1/64 of the item's k × NR × rows multiply-adds.
constexpr std::size_t kMinRowsPerPackingGroup = 64;

// Whether the direct path may read a k × NR sliver of B in place, rows `row_bytes` apart: only
// while those rows fall into enough L2 sets to stay there across the row tiles. A stride with a
// large power-of-two factor maps the rows to few sets (1 KiB: 64 of 1024 on a 1 MiB 16-way L2, so
// a 1024-deep sliver is evicted before the next tile reads it; 1024×256×1024 float ran 115 GFLOP/s
// in place, 168 packed, 1024³ 103 and 177); 8 ways of each set are counted for B.
bool sliver_stays_in_l2(std::size_t row_bytes, std::size_t k) {
  constexpr std::size_t kL2SetSpan = std::size_t(1) << 16, kWaysForB = 8;  // 1024 sets × 64 B
  return k <= kL2SetSpan / std::gcd(row_bytes, kL2SetSpan) * kWaysForB;
}

// Long-dimension elements per skinny work item: whole chunks of the kernel's z buffer.
constexpr std::size_t kSkinnyItem = 256;

// C with at most skinny_max columns (or rows: then the kernel computes Cᵀ = op(B)ᵀ·op(A)ᵀ) through
// the skinny kernel, the long operand read once. Returns false when the shape is not skinny.
template <class T>
bool gemm_skinny(const GemmKernels<T>& kernels, StridedOperand<T> op_a, StridedOperand<T> op_b, std::size_t m,
                 std::size_t n, std::size_t k, T alpha, T beta, T* c, std::size_t ldc, const Epilogue<T>& epilogue,
                 bool fused) {
  bool columns = false;
  if (!skinny_shape(kernels.blocking, op_a.rs == 1 && op_a.cs != 1, m, n, k, columns)) return false;
  const MatrixView<T>& pre = epilogue.pre_activation;
  SkinnyProblem<T> pr{};
  pr.k = k;
  pr.alpha = alpha;
  pr.beta = beta;
  pr.c = c;
  pr.fused = fused;
  pr.bias = epilogue.bias;
  pr.bias_along_long = columns;
  pr.activation = epilogue.activation;
  pr.leaky_slope = epilogue.leaky_slope;
  pr.accuracy = epilogue.accuracy;
  pr.pre_activation = pre.data;
  if (columns) {
    pr.long_n = m, pr.short_n = n, pr.x = op_a, pr.y = op_b;
    pr.c_l = ldc, pr.c_s = 1, pr.pre_l = pre.ld, pr.pre_s = 1;
  } else {
    pr.long_n = n, pr.short_n = m;
    pr.x = {op_b.data, op_b.cs, op_b.rs}, pr.y = {op_a.data, op_a.cs, op_a.rs};
    pr.c_l = 1, pr.c_s = ldc, pr.pre_l = 1, pr.pre_s = pre.ld;
  }
  if (pr.x.cs != 1 && pr.x.rs != 1) return false;
  if (pr.x.cs == 1 && pr.y.rs != 1 && pr.short_n * k > SkinnyProblem<T>::max_kernel_pack) {
    // The dot form reads each short column along k: pack them (short_n·k elements, a fraction
    // 1/long_n of the work), as the rows of yᵀ. Smaller ones the kernel packs itself, vectorized.
    T* packed = thread_buffer<T>(2, pr.short_n * k);
    kernels.copy_b_rows(pr.short_n, k, StridedOperand<T>{pr.y.data, pr.y.cs, pr.y.rs}, packed);
    pr.y = {packed, 1, k};
  }
  // Where the axpy form streams whole rows (SkinnyStream), items one a thread, up to its item: each
  // element's sum is the same in any item, so only the split among threads depends on their count.
  std::size_t item_len = kSkinnyItem;
  if (SkinnyStream::takes(pr))
    item_len = std::clamp(ceil_div(ceil_div(pr.long_n, std::size_t(team_size())), kSkinnyItem) * kSkinnyItem,
                          kSkinnyItem, SkinnyStream::item);
  const std::size_t items = ceil_div(pr.long_n, item_len);
  parallel_for(items, 2.0 * double(item_len) * double(pr.short_n) * double(k) / kFlopsPerWorkUnit,
               [&](std::size_t item) {
                 const std::size_t l0 = item * item_len;
                 kernels.skinny_kernel(pr, l0, std::min(pr.long_n, l0 + item_len));
               });
  return true;
}

// The whole product through the small kernel on this thread, where the ISA has one and the problem
// is small (small_size). op(B) with strided rows (A·Bᵀ) is copied row-major first (k·n elements,
// 1/m of the work). Returns false when the problem is not taken.
template <class T>
bool gemm_small(const GemmKernels<T>& kernels, StridedOperand<T> op_a, StridedOperand<T> op_b, std::size_t m,
                std::size_t n, std::size_t k, T alpha, T beta, T* c, std::size_t ldc,
                const GemmTileEpilogue<T>* epilogue) {
  if (!small_size(kernels, m, n, k)) return false;
  const T* b = op_b.data;
  std::size_t ldb = op_b.rs;
  if (k > 0 && op_b.cs != 1) {
    T* packed = thread_buffer<T>(2, k * n);
    kernels.copy_b_rows(k, n, op_b, packed);
    b = packed;
    ldb = n;
  }
  kernels.small_kernel(m, n, k, alpha, op_a, b, ldb, beta, c, ldc, epilogue);
  return true;
}

// One call's product as the paths below see it: op(A) and op(B) as strided operands, the K used
// (0 when alpha is 0), and the whole-C epilogue (`fused`: whether it does anything).
template <class T>
struct Product {
  const GemmKernels<T>& kernels;
  StridedOperand<T> op_a, op_b;
  std::size_t m, n, kk;
  T alpha, beta;
  T* c;
  std::size_t ldc;
  bool fused;
  GemmTileEpilogue<T> full;
  /** The epilogue of the block whose first element is C(i, j). */
  GemmTileEpilogue<T> at(std::size_t i, std::size_t j) const { return offset_epilogue<void>(full, i, j); }
};

// Whether a C n columns wide runs the wide tile: where the ISA has one and it pads C's columns at most
// 1/16 more than the MR × NR tile does (float n = 96 would take 128 columns, not 96; n = 1040 takes
// 1088 instead of 1056). Its K loop ran 1.17–1.34× the 8 × 2 tile's on AVX-512 (docs/tuning.md). A
// third more columns cost more than that gains (256×96×256 float 1.09×, 256×40×256 double 1.06× the
// time); a sixteenth costs less. When the wide tile had to pad no more at all, products of a few
// hundred columns or more whose last wide sliver was partial ran the 8 × 2 tile. On an Ice Lake-SP
// guest, one thread, both rules alternating in one process, time with this rule ÷ the old one:
// double 1000³ 0.91 (another run 1.05), 1040³ 0.90 / 0.90, 512×272×512 0.87 / 0.94, 256×1000×784
// 0.92 / 0.91, 1024×1000×256 0.89 / 0.93; float 1040³ 0.91 / 0.92, 512×544×512 0.98 / 1.03. Each
// element's K order is the same in both tiles, so the choice never changes a result.
template <class T>
bool wide_tile(const GemmKernels<T>& kernels, std::size_t n) {
  const std::size_t nr = kernels.blocking.nr, wide = kernels.wide_nr;
  return wide > nr && ceil_div(n, wide) * wide * 16 <= ceil_div(n, nr) * nr * 17;
}

// The blocking in the tile a path runs: MR, NR, and MC and NC rounded down to whole panels and slivers.
template <class T>
GemmBlocking blocking_in_tile(const GemmKernels<T>& kernels, bool wide) {
  GemmBlocking bl = kernels.blocking;
  if (!wide) return bl;
  bl.mr = kernels.wide_mr;
  bl.nr = kernels.wide_nr;
  bl.mc = std::max(bl.mr, bl.mc / bl.mr * bl.mr);
  bl.nc = std::max(bl.nr, bl.nc / bl.nr * bl.nr);
  return bl;
}

// The blocking with KC lowered so that kk falls into K blocks of equal length (±1), as many as KC gives.
// A short last block (1040 = 4 × 256 + 16) costs a whole pass over C, and the packing and every tile's
// fixed cost, for a few k steps. Each block is at most KC long and none is empty: KC·(blocks − 1) < kk.
// On an Ice Lake-SP guest, one thread, both alternating in one process (two runs), time with equal
// blocks ÷ without: double 1040³ 0.95 / 0.97, 1024×1024×1040 0.94 / 0.94, 2048×512×784 0.95 / 0.94,
// 512×512×1300 0.99 / 0.89, 1000³ 0.91 / 0.99; float within ±5 % either way (1040³ 0.98 / 1.01, 1000³
// 1.01 / 1.04, 512×512×1300 0.99 / 0.95). The sums of the K blocks change, so these products give
// other bits than before; still the same for any number of threads.
GemmBlocking equal_k_blocks(GemmBlocking bl, std::size_t kk) {
  if (kk > 0) bl.kc = ceil_div(kk, ceil_div(kk, bl.kc));
  return bl;
}

// Whether the direct path takes an m × n × kk product: up to its limits, and a C of one sliver (at most
// the NR columns of the tile it runs) at any number of rows. There it reads A once, as the packed path
// does, without copying it first. One thread, Ice Lake-SP, time direct ÷ packed past 1024 rows: float
// 2048×16×512 0.37, 2048×64×512 0.58, 4096×16×256 0.53; double 2048×32×512 0.41, 4096×16×1024 0.42;
// avx2 (past 256 rows) float 1024×16×1024 0.50, 2048×12×1024 0.34.
template <class T>
bool direct_takes(const GemmKernels<T>& kernels, std::size_t m, std::size_t n, std::size_t kk) {
  const GemmBlocking& bl = kernels.blocking;
  if (kk > bl.direct_max_k || n > bl.direct_max_n) return false;
  return m <= bl.direct_max_m || n <= blocking_in_tile(kernels, wide_tile(kernels, n)).nr;
}

// Direct path: A unpacked; an item is one NR-column sliver of C over a run of MR-row tiles, and packs
// that k × NR sliver of B into its own buffer unless it can be read in place. Few slivers (a narrow
// C) are split by rows too, so every thread gets work; each element's sum is the same.
template <class T>
void gemm_direct(const Product<T>& pr) {
  const GemmKernels<T>& kernels = pr.kernels;
  const bool wide = wide_tile(kernels, pr.n);
  const GemmBlocking bl = blocking_in_tile(kernels, wide);
  const StridedOperand<T> op_a = pr.op_a, op_b = pr.op_b;
  const std::size_t m = pr.m, n = pr.n, kk = pr.kk, ldc = pr.ldc;
  const T alpha = pr.alpha, beta = pr.beta;
  T* const c = pr.c;
  const bool fused = pr.fused;
  const auto team = static_cast<std::size_t>(team_size());
  const std::size_t wanted_items = kItemsPerThread * team;
  const std::size_t slivers = ceil_div(n, bl.nr);
  const std::size_t tiles = ceil_div(m, bl.mr);
  // Where B is packed, every row group packs its own copy of the sliver, so groups keep at least
  // kMinRowsPerPackingGroup rows (a 32×32×256 dW = dZ·Aᵀ of a width-32 layer split into 8-row
  // groups ran 35 % slower on 2 threads).
  const bool b_in_place = op_b.cs == 1 && kk > 0 && m <= bl.direct_in_place_max_m &&
                          sliver_stays_in_l2(op_b.rs * sizeof(T), kk);
  std::size_t row_groups = team == 1 ? 1 : std::min(tiles, ceil_div(wanted_items, slivers));
  if (!b_in_place) row_groups = std::min(row_groups, std::max<std::size_t>(m / kMinRowsPerPackingGroup, 1));
  const std::size_t tiles_per_group = ceil_div(tiles, row_groups);
  const std::size_t groups = ceil_div(tiles, tiles_per_group);
  const double rows_per_group = double(std::min(m, tiles_per_group * bl.mr));
  parallel_for(slivers * groups, 2.0 * rows_per_group * double(kk + 1) * double(bl.nr) / kFlopsPerWorkUnit,
               [&](std::size_t item) {
    const std::size_t s = item % slivers, i0 = (item / slivers) * tiles_per_group * bl.mr;
    const std::size_t rows = std::min(m, i0 + tiles_per_group * bl.mr) - i0;
    const std::size_t j0 = s * bl.nr;
    const std::size_t nc = std::min(bl.nr, n - j0);
    const GemmTileEpilogue<T> e = pr.at(i0, j0);
    const StridedOperand<T> a_rows{op_a.data + i0 * op_a.rs, op_a.rs, op_a.cs};
    const bool narrow = n <= bl.narrow_nr;
    const auto kernel = narrow ? kernels.narrow_direct_kernel : kernels.direct_kernel[wide];
    if (b_in_place && nc == (narrow ? bl.narrow_nr : bl.nr)) {
      // Rows of B are contiguous and the sliver is whole: read it in place.
      kernel(rows, nc, kk, alpha, a_rows, op_b.data + j0, op_b.rs, false, beta, c + i0 * ldc + j0, ldc,
             fused ? &e : nullptr, bl.direct_prefetch_next);
      return;
    }
    T* sliver = thread_buffer<T>(2, std::max<std::size_t>(kk, 1) * bl.nr);
    kernels.pack_b[wide](kk, nc, StridedOperand<T>{op_b.data + j0 * op_b.cs, op_b.rs, op_b.cs}, sliver);
    kernel(rows, nc, kk, alpha, a_rows, sliver, bl.nr, true, beta, c + i0 * ldc + j0, ldc, fused ? &e : nullptr,
           bl.direct_prefetch_next);
  }, Schedule::balanced);
}

// How the packed path divides C: rows of A packed at once (super_rows) and columns of C per work item.
struct PackedSplit {
  std::size_t super_rows, chunk_cols;
};

template <class T>
PackedSplit packed_split(const GemmBlocking& bl, std::size_t m, std::size_t n, std::size_t kk, std::size_t team) {
  const std::size_t wanted_items = kItemsPerThread * team;
  // Rows of A packed at once: all of them when they fit kMaxPackedA, else equal super-blocks (whole MC
  // blocks), so no thin remainder repeats the packing of B for a few rows.
  const std::size_t max_blocks =
      std::max<std::size_t>(kMaxPackedA / (bl.mc * std::max<std::size_t>(kk, 1)), 1);
  const std::size_t m_blocks = ceil_div(m, bl.mc);
  const std::size_t super_rows = ceil_div(m_blocks, ceil_div(m_blocks, max_blocks)) * bl.mc;
  // Column chunks as wide as NC while every thread still gets one of its own; with many threads
  // no narrower than kMinChunkBytes a row, as more row groups would each pack their chunk of B again.
  std::size_t chunk_cols = bl.nc;
  if (team > 1) {
    const std::size_t per_thread = ceil_div(ceil_div(n, team), bl.nr) * bl.nr;
    const std::size_t narrowest = std::max<std::size_t>(kMinChunkBytes / sizeof(T) / bl.nr, 1) * bl.nr;
    chunk_cols = std::min(chunk_cols, std::max(per_thread, narrowest));
  }
  // With few rows of MC blocks, narrower column chunks give every thread work.
  const std::size_t row_blocks = ceil_div(std::min(m, super_rows), bl.mc);
  if (team > 1 && row_blocks * ceil_div(n, chunk_cols) < wanted_items)
    chunk_cols = std::max(bl.nr, ceil_div(ceil_div(n, ceil_div(wanted_items, row_blocks)), bl.nr) * bl.nr);
  return {super_rows, chunk_cols};
}

// Packed path, in two parallel steps (two barriers a call, which matters when cores are shared).
template <class T>
void gemm_packed(const Product<T>& pr) {
  const GemmKernels<T>& kernels = pr.kernels;
  const bool wide = wide_tile(kernels, pr.n);
  const GemmBlocking bl = equal_k_blocks(blocking_in_tile(kernels, wide), pr.kk);
  const auto team = static_cast<std::size_t>(team_size());
  const StridedOperand<T>& b = pr.op_b;
  // Steps:
  // 1. pack all of op(A) (rows of one super-block) into MR-row panels, one item per MC × KC block;
  // 2. one item per (row group × column chunk) of C: it packs its own KC × chunk panel of B for each
  //    K block and runs the macro-kernel over its MC blocks (A block in L2, B sliver in L1).
  const std::size_t k_blocks = std::max<std::size_t>(ceil_div(pr.kk, bl.kc), 1);
  // Plain locals, not structured bindings: the lambdas below capture them (clang 14 rejects those).
  const PackedSplit split = packed_split<T>(bl, pr.m, pr.n, pr.kk, team);
  const std::size_t super_rows = split.super_rows, chunk_cols = split.chunk_cols;
  const std::size_t col_chunks = ceil_div(pr.n, chunk_cols);
  for (std::size_t ic0 = 0; ic0 < pr.m; ic0 += super_rows) {
    const std::size_t ms = std::min(super_rows, pr.m - ic0);
    const std::size_t a_blocks = ceil_div(ms, bl.mc);
    const std::size_t panel_rows = ceil_div(ms, bl.mr) * bl.mr;  // packed rows of one K block
    T* packed_a = thread_buffer<T>(1, std::max<std::size_t>(panel_rows * pr.kk, 1));
    if (pr.kk > 0) {
      parallel_for(k_blocks * a_blocks, double(bl.mc) * double(bl.kc), [&](std::size_t item) {
        const std::size_t q = item / a_blocks, blk = item % a_blocks;
        const std::size_t pc = q * bl.kc, kc = std::min(bl.kc, pr.kk - pc), i = ic0 + blk * bl.mc;
        kernels.pack_a[wide](std::min(bl.mc, pr.m - i), kc,
                             StridedOperand<T>{pr.op_a.data + i * pr.op_a.rs + pc * pr.op_a.cs, pr.op_a.rs, pr.op_a.cs},
                             packed_a + pc * panel_rows + blk * bl.mc * kc);
      });
    }
    // Enough items to share out even when C is one column chunk wide. Groups are runs of MR-row panels
    // of equal length (not whole MC blocks), so 2 or 16 threads get equal shares of any pr.m; the split
    // never changes a result, since every element's K order is fixed.
    const std::size_t panels = ceil_div(ms, bl.mr);
    // Column chunks come first: each row group packs the chunk's B again, so rows are split only when
    // there are fewer chunks than threads.
    const std::size_t row_groups =
        col_chunks >= team ? 1 : std::min(panels, ceil_div(kItemsPerThread * team, col_chunks));
    const std::size_t panels_per_group = ceil_div(panels, row_groups);
    const std::size_t groups = ceil_div(panels, panels_per_group);
    const double rows_per_group = double(std::min(ms, panels_per_group * bl.mr));
    parallel_for(
        groups * col_chunks, 2.0 * rows_per_group * double(chunk_cols) * double(pr.kk + 1) / kFlopsPerWorkUnit,
        [&](std::size_t item) {
          const std::size_t group = item / col_chunks;
          const std::size_t j = (item % col_chunks) * chunk_cols;
          const std::size_t nc = std::min(chunk_cols, pr.n - j);
          T* packed_b = thread_buffer<T>(0, std::max<std::size_t>(std::min(pr.kk, bl.kc), 1) * chunk_cols);
          const auto pack_b = kernels.pack_b[wide];
          const auto macro_kernel = kernels.macro_kernel[wide];
          for (std::size_t q = 0; q < k_blocks; ++q) {
            const std::size_t pc = q * bl.kc, kc = std::min(bl.kc, pr.kk - pc);
            if (kc > 0) pack_b(kc, nc, StridedOperand<T>{b.data + pc * b.rs + j * b.cs, b.rs, b.cs}, packed_b);
            const bool last = q + 1 == k_blocks;
            // The group's rows in pieces of at most MC (an A block that stays in L2 across B slivers).
            // Panels are contiguous in packed A whatever MC block they were packed in.
            const std::size_t row_end = std::min(ms, (group + 1) * panels_per_group * bl.mr);
            for (std::size_t r = group * panels_per_group * bl.mr; r < row_end; r += bl.mc) {
              const std::size_t i = ic0 + r;
              const GemmTileEpilogue<T> e = pr.at(i, j);
              macro_kernel(std::min(bl.mc, row_end - r), nc, kc, pr.alpha, packed_a + pc * panel_rows + r * kc,
                           packed_b, q == 0 ? pr.beta : T(1), pr.c + i * pr.ldc + j, pr.ldc,
                           last && pr.fused ? &e : nullptr);
            }
          }
        },
        Schedule::balanced);
  }
}

}  // namespace

template <class T>
void gemm_blocked(const GemmKernels<T>& kernels, Trans ta, Trans tb, std::size_t m, std::size_t n, std::size_t k,
                  T alpha, const T* a, std::size_t lda, const T* b, std::size_t ldb, T beta, T* c, std::size_t ldc,
                  const Epilogue<T>& epilogue) {
  if (m == 0 || n == 0) return;
  // alpha = 0 or k = 0: C = beta·C (+ epilogue) without reading A or B, as CBLAS. alpha times the
  // empty sum is 0 even for alpha = ±Inf or NaN (0·Inf would be NaN), so alpha is zeroed then.
  const std::size_t kk = alpha == T(0) ? 0 : k;
  if (kk == 0) alpha = T(0);
  static const T dummy[1] = {T(0)};
  StridedOperand<T> op_a = op_operand(a, lda, ta), op_b = op_operand(b, ldb, tb);
  if (kk == 0) op_a = op_b = StridedOperand<T>{dummy, 0, 0};

  const bool fused = fuses(epilogue);
  const GemmTileEpilogue<T> full = tile_epilogue(epilogue);
  if (gemm_skinny(kernels, op_a, op_b, m, n, kk, alpha, beta, c, ldc, epilogue, fused)) return;
  if (gemm_small(kernels, op_a, op_b, m, n, kk, alpha, beta, c, ldc, fused ? &full : nullptr)) return;
  const Product<T> product{kernels, op_a, op_b, m, n, kk, alpha, beta, c, ldc, fused, full};
  if (direct_takes(kernels, m, n, kk))
    gemm_direct(product);
  else
    gemm_packed(product);
}

template void gemm_blocked<float>(const GemmKernels<float>&, Trans, Trans, std::size_t, std::size_t, std::size_t, float,
                                  const float*, std::size_t, const float*, std::size_t, float, float*, std::size_t,
                                  const Epilogue<float>&);
template void gemm_blocked<double>(const GemmKernels<double>&, Trans, Trans, std::size_t, std::size_t, std::size_t,
                                   double, const double*, std::size_t, const double*, std::size_t, double, double*,
                                   std::size_t, const Epilogue<double>&);

}  // namespace mlpkit::detail
