#pragma once
// GEMM building blocks: one table of single-threaded kernels per ISA (packing, macro-kernel over
// packed panels, direct kernel without packing), driven by the blocking/threading loops of
// gemm_driver.cpp. No xsimd here: baseline code only sees function pointers.
#include <cstddef>

#include "mlpkit/activations.hpp"
#include "mlpkit/gemm.hpp"
#include "mlpkit/matrix.hpp"

namespace mlpkit::detail {

/**
 * Register tile MR × NR and cache blocks of one ISA and type (Goto/BLIS naming): a packed A block
 * is MC × KC (kept in L2), a packed B panel KC × NC (kept in L3), a B sliver KC × NR (kept in L1).
 * GemmKernels also has a wider tile (wide_mr × wide_nr) that the packed and direct paths may take,
 * with MC and NC rounded down to whole panels and slivers of it. `direct_max_m`/`direct_max_n`/
 * `direct_max_k`: up to these sizes the direct path (A unpacked, one K block) runs.
 */
struct GemmBlocking {
  std::size_t mr, nr, mc, kc;
  std::size_t nc;  ///< columns of the KC × NC panel of B one work item packs (a multiple of NR)
  std::size_t direct_max_m, direct_max_n, direct_max_k;
  std::size_t direct_in_place_max_m;  ///< most rows for which the direct path reads B's rows in place
  std::size_t skinny_max;  ///< up to this many columns (or rows) of C the skinny kernel runs (0: never)
  /// up to this many columns of C (≥ skinny_max) the skinny kernel's axpy form (op(A) = Aᵀ) runs,
  /// for problems of more than skinny_axpy_min_work
  std::size_t skinny_axpy_max;
  std::size_t narrow_nr;   ///< columns of the narrow direct kernel's tile (one vector)
  std::size_t small_max_work;  ///< most m·n·k the small kernel takes (0: never)
  /// most m·n·k (≤ small_max_work) of an Aᵀ·B with more than skinny_max columns that the skinny
  /// kernel leaves to the small kernel
  std::size_t skinny_axpy_min_work;
  /// whether the direct path's tiles fetch, per line of K, the same line of the next tile's rows of A
  /// (unpacked A from L3 or memory, whose MR interleaved row streams the hardware prefetchers miss)
  bool direct_prefetch_next;

  /** Field-by-field equality. */
  friend constexpr bool operator==(const GemmBlocking&, const GemmBlocking&) = default;
};

/**
 * What a micro-kernel applies in the store of the last K block. Pointers are already offset to
 * the block the kernel writes: bias[i] is the bias of the block's row i, pre_activation (null when
 * not wanted) receives Z at pre_activation[i·ld_pre + j].
 */
template <class T>
struct GemmTileEpilogue {
  const T* bias;
  Activation activation;
  T leaky_slope;
  T* pre_activation;
  std::size_t ld_pre;
  Accuracy accuracy;
};

/**
 * The epilogue of the tile whose first element is (i, j) of a block whose epilogue is `base`.
 * `Tag` is the caller's ISA (void outside the ISA objects): a helper templated on T alone would be
 * one weak symbol shared by every ISA object, compiled for whichever the linker keeps.
 */
template <class Tag, class T>
GemmTileEpilogue<T> offset_epilogue(const GemmTileEpilogue<T>& base, std::size_t i, std::size_t j) {
  GemmTileEpilogue<T> e = base;
  if (e.bias != nullptr) e.bias += i;
  if (e.pre_activation != nullptr) e.pre_activation += i * e.ld_pre + j;
  return e;
}

/** A strided matrix operand: element (r, c) is data[r·rs + c·cs]. */
template <class T>
struct StridedOperand {
  const T* data;
  std::size_t rs, cs;
};

/**
 * A GEMM with one short output dimension, as the skinny kernel sees it: C(l, s) = act(alpha·Σ_p
 * x(l, p)·y(p, s) + beta·C(l, s) + bias) for l < long_n, s < short_n ≤ max_short. C(l, s) is
 * c[l·c_l + s·c_s] (C itself, or Cᵀ when the short dimension is C's rows); the bias is indexed by l
 * (bias_along_long) or by s. Either x.cs = 1 (dot form) or x.rs = 1 (axpy form); the dot form
 * reads y with its columns along k: the driver packs them so where y.rs ≠ 1 and short_n·k is above
 * max_kernel_pack; below, the kernel packs y itself.
 */
template <class T>
struct SkinnyProblem {
  static constexpr std::size_t max_short = 16;
  static constexpr std::size_t max_kernel_pack = 2048;  ///< most short_n·k the dot form packs on its stack
  std::size_t long_n, short_n, k;
  StridedOperand<T> x, y;
  T alpha, beta;
  T* c;
  std::size_t c_l, c_s;
  bool fused;
  const T* bias;
  bool bias_along_long;
  Activation activation;
  T leaky_slope;
  T* pre_activation;
  std::size_t pre_l, pre_s;
  Accuracy accuracy;
};

/**
 * Aᵀ·x through the skinny kernel's axpy form with the long operand past L2: one short column, the
 * long operand's rows read whole rather than in strips of a few vectors, each row one sequential
 * run (gemm_skinny.hpp, axpy_stream; AVX-512). `item`: the most long-dimension elements of a work
 * item there (the driver's items of that form are up to this long, one a thread).
 */
struct SkinnyStream {
  static constexpr std::size_t min_bytes = std::size_t(3) << 19;  ///< 1.5 MiB: past a 1.25 MiB L2
  static constexpr std::size_t item = 2048;
  template <class T>
  static bool takes(const SkinnyProblem<T>& pr) {
    return pr.x.cs != 1 && pr.short_n == 1 && double(pr.long_n) * double(pr.k) * double(sizeof(T)) > double(min_bytes);
  }
};

/** Single-threaded GEMM kernels of one ISA. */
template <class T>
struct GemmKernels {
  GemmBlocking blocking;
  /// The wide register tile (rows × columns) beside blocking's MR × NR: entry [1] of pack_a, pack_b,
  /// macro_kernel and direct_kernel uses it (equal to MR × NR where the ISA has none).
  std::size_t wide_mr, wide_nr;
  /**
   * Packs the mc × kc block of `a` into ⌈mc/R⌉ panels of R × kc (panel[p·R + i]), zero padded: R = MR
   * ([0]) or wide_mr ([1]).
   */
  void (*pack_a[2])(std::size_t mc, std::size_t kc, StridedOperand<T> a, T* packed);
  /**
   * Packs the kc × nc block of `b` into ⌈nc/R⌉ slivers of kc × R (sliver[p·R + j]), zero padded:
   * R = NR ([0]) or wide_nr ([1]).
   */
  void (*pack_b[2])(std::size_t kc, std::size_t nc, StridedOperand<T> b, T* packed);
  /**
   * Copies the k × n `b` into rows, packed[p·n + j] = B(p, j): the small kernel's B and the skinny
   * dot form's short operand (as its transpose), where they are strided.
   */
  void (*copy_b_rows)(std::size_t k, std::size_t n, StridedOperand<T> b, T* packed);
  /**
   * C(mc × nc) = alpha·Apacked·Bpacked + beta·C, then the epilogue when it is non-null. beta = 0
   * never reads C. packed_b holds the slivers of exactly these nc columns. [0]: the MR × NR tile
   * (pack_a[0], pack_b[0]); [1]: the wide tile (pack_a[1], pack_b[1]).
   */
  void (*macro_kernel[2])(std::size_t mc, std::size_t nc, std::size_t kc, T alpha, const T* packed_a, const T* packed_b,
                          T beta, T* c, std::size_t ldc, const GemmTileEpilogue<T>* epilogue);
  /**
   * The same over an unpacked A (all k at once) and one k × NR sliver of B (nc ≤ NR columns valid):
   * for small problems where packing A costs more than it saves. The sliver is packed (b_packed,
   * aligned, row stride NR) or, when nc = NR, read in place (element (p, j) at b[p·b_rs + j]).
   * [0]: the MR × NR tile (pack_b[0]); [1]: the wide tile, NR = wide_nr (pack_b[1]). prefetch_next:
   * GemmBlocking::direct_prefetch_next.
   */
  void (*direct_kernel[2])(std::size_t m, std::size_t nc, std::size_t k, T alpha, StridedOperand<T> a, const T* b,
                           std::size_t b_rs, bool b_packed, T beta, T* c, std::size_t ldc,
                           const GemmTileEpilogue<T>* epilogue, bool prefetch_next);
  /**
   * direct_kernel[0] with a tile narrow_nr columns wide, for a C that narrow (nc ≤ narrow_nr). B's
   * rows are read at b_rs (in place, or a packed NR-wide sliver with b_rs = NR).
   */
  void (*narrow_direct_kernel)(std::size_t m, std::size_t nc, std::size_t k, T alpha, StridedOperand<T> a,
                               const T* b, std::size_t b_rs, bool b_packed, T beta, T* c, std::size_t ldc,
                               const GemmTileEpilogue<T>* epilogue, bool prefetch_next);
  /** Elements [l0, l1) of the long dimension of a skinny problem, stored with its epilogue. */
  void (*skinny_kernel)(const SkinnyProblem<T>& problem, std::size_t l0, std::size_t l1);
  /**
   * The whole m × n product on the calling thread, A unpacked and B's rows read in place at ldb
   * (elements contiguous), with the epilogue (null: none); for small problems. Null where the ISA
   * has none (it needs AVX-512's masks). `a` by reference: a 24-byte struct passed by value was
   * stored in pieces and reloaded whole, a store-forwarding stall on every call.
   */
  void (*small_kernel)(std::size_t m, std::size_t n, std::size_t k, T alpha, const StridedOperand<T>& a, const T* b,
                       std::size_t ldb, T beta, T* c, std::size_t ldc, const GemmTileEpilogue<T>* epilogue);
};

/** The kernels compiled for xsimd arch `Arch`; defined in gemm_simd.hpp, instantiated in isa/<isa>.cpp. */
template <class Arch, class T>
const GemmKernels<T>& gemm_kernels();

/**
 * The small-problem kernel of xsimd arch `Arch` (GemmKernels::small_kernel; AVX-512 only): defined
 * in gemm_small.hpp and instantiated in isa/<isa>_gemm_small.cpp, a translation unit apart from the
 * packed kernel's (compiled beside it, it changed GCC's code for the packed micro-tile; see
 * docs/tuning.md).
 */
template <class Arch, class T>
void small_gemm_kernel(std::size_t m, std::size_t n, std::size_t k, T alpha, const StridedOperand<T>& a, const T* b,
                       std::size_t ldb, T beta, T* c, std::size_t ldc, const GemmTileEpilogue<T>* epilogue);

/** The kernels of current_isa(). */
template <class T>
const GemmKernels<T>& active_gemm_kernels();

/**
 * The blocked, multithreaded GEMM over `kernels` (any ISA's table): loops over NC, KC and MC with
 * packed panels, or the direct path for small problems. Arguments are already checked.
 */
template <class T>
void gemm_blocked(const GemmKernels<T>& kernels, Trans ta, Trans tb, std::size_t m, std::size_t n, std::size_t k,
                  T alpha, const T* a, std::size_t lda, const T* b, std::size_t ldb, T beta, T* c, std::size_t ldc,
                  const Epilogue<T>& epilogue);

/**
 * Checks every argument of the pointer form of gemm (and gemm_ref): leading dimensions,
 * null pointers, overflowing sizes. Throws mlpkit::Error naming `function`.
 */
template <class T>
void check_gemm_arguments(const char* function, Trans ta, Trans tb, std::size_t m, std::size_t n, std::size_t k,
                          const T* a, std::size_t lda, const T* b, std::size_t ldb, const T* c, std::size_t ldc);

/**
 * Checks the view form: shapes of a, b, c, the epilogue's activation and its pre_activation (shape,
 * and no overlap with c other than being c itself). Returns k.
 */
template <class T>
std::size_t check_gemm_views(const char* function, Trans ta, Trans tb, MatrixView<const T> a, MatrixView<const T> b,
                             MatrixView<T> c, const Epilogue<T>& epilogue);

}  // namespace mlpkit::detail
