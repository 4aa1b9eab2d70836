#pragma once
/** @file
 * Row-major matrix views and an owning, 64-byte aligned matrix.
 *
 * Layout convention of the whole library: row-major with a leading dimension `ld >= cols`
 * (in elements), like CBLAS `CblasRowMajor`. Activations store features as rows and examples
 * as columns (`X` is `n_x × m`).
 */
#include <cstddef>
#include <cstdlib>
#include <memory>
#include <new>
#include <type_traits>
#include <vector>

#include "mlpkit/enums.hpp"
#include "mlpkit/error.hpp"
#include "mlpkit/export.hpp"

namespace mlpkit MLPKIT_API {

/** Whether an operand of gemm is used as it is or transposed. */
enum class Trans { no, yes };
template <> struct EnumTable<Trans> : EnumNames<"Trans", "no", "yes"> {};

/**
 * A non-owning view of a row-major matrix: element (i, j) is `data[i * ld + j]`.
 * `MatrixView<T>` converts implicitly to `MatrixView<const T>`. A view is only checked when a
 * library function receives it (see detail::check_view): `ld >= cols`, `data != nullptr` unless
 * `rows * cols == 0`, and `rows * ld` fits `std::size_t`.
 */
template <class T>
struct MatrixView {
  T* data = nullptr;     ///< element (0, 0)
  std::size_t rows = 0;  ///< number of rows
  std::size_t cols = 0;  ///< number of columns
  std::size_t ld = 0;    ///< leading dimension: elements from the start of one row to the next

  /** Element (i, j); unchecked. */
  T& operator()(std::size_t i, std::size_t j) const { return data[i * ld + j]; }
  /** Pointer to the first element of row i; unchecked. */
  T* row(std::size_t i) const { return data + i * ld; }
  /** True when the view holds no element. */
  bool empty() const { return rows == 0 || cols == 0; }

  /** The same view, read-only. */
  template <class U = T, class = std::enable_if_t<!std::is_const_v<U>>>
  operator MatrixView<const U>() const {  // NOLINT(google-explicit-constructor): T* → const T*
    return {data, rows, cols, ld};
  }
};

/**
 * `bytes` of uninitialized memory aligned to 64 bytes (nullptr for 0), as Matrix and the library's
 * workspaces use; release it with std::free. From 8 MiB on, aligned to 2 MiB and advised to use
 * transparent huge pages (a strided sweep over a large matrix touches one 4 KiB page per row: huge
 * pages spare it the TLB misses). Throws std::bad_alloc.
 */
void* aligned_alloc_bytes(std::size_t bytes);

namespace detail {
using mlpkit::aligned_alloc_bytes;

/** Frees memory from aligned_alloc_bytes. */
struct AlignedFree {
  /** Frees p (nullptr is fine). */
  void operator()(void* p) const noexcept { std::free(p); }
};

/**
 * A std::vector allocator whose storage is 64-byte aligned (aligned_alloc_bytes), for workspaces
 * that kernels write from several threads: with malloc's 16-byte alignment a thread's share of a row
 * ends mid cache line, and the line shared with the next thread's share bounces between the cores.
 */
template <class T>
struct AlignedAllocator {
  using value_type = T;
  AlignedAllocator() = default;
  template <class U>
  AlignedAllocator(const AlignedAllocator<U>&) noexcept {}  // NOLINT(google-explicit-constructor): rebinding
  /** Storage for n elements; throws std::bad_alloc. */
  T* allocate(std::size_t n) {
    if (n > static_cast<std::size_t>(-1) / sizeof(T)) throw std::bad_alloc();
    return static_cast<T*>(aligned_alloc_bytes(n * sizeof(T)));
  }
  /** Frees storage from allocate. */
  void deallocate(T* p, std::size_t) noexcept { AlignedFree{}(p); }
  template <class U>
  bool operator==(const AlignedAllocator<U>&) const noexcept {
    return true;
  }
};

/** A std::vector whose data() is 64-byte aligned. */
template <class T>
using AlignedVector = std::vector<T, AlignedAllocator<T>>;
}  // namespace detail

/**
 * An owning row-major matrix whose storage is 64-byte aligned and whose leading dimension is
 * padded to a multiple of 64 bytes, so every row starts on a cache line. Elements are
 * zero-initialized (padding included). Movable, copyable.
 *
 * Throws mlpkit::Error when `rows × ld` overflows, std::bad_alloc when memory runs out.
 */
template <class T>
class Matrix {
  static_assert(std::is_trivially_copyable_v<T>, "Matrix holds trivially copyable numbers");

 public:
  /** An empty 0 × 0 matrix. */
  Matrix() = default;
  /** A zero-filled `rows × cols` matrix with ld = padded_ld(cols). */
  Matrix(std::size_t rows, std::size_t cols);
  /** A zero-filled `rows × cols` matrix with the given ld (throws if `ld < cols`). */
  Matrix(std::size_t rows, std::size_t cols, std::size_t ld);

  /** A copy with the same shape and ld (the padding copied too). */
  Matrix(const Matrix& other);
  /** Becomes a copy of other (same shape and ld). */
  Matrix& operator=(const Matrix& other);
  /** Takes other's storage; other is left empty. */
  Matrix(Matrix&&) noexcept = default;
  /** Takes other's storage; other is left empty. */
  Matrix& operator=(Matrix&&) noexcept = default;
  ~Matrix() = default;

  /** Number of rows. */
  std::size_t rows() const { return rows_; }
  /** Number of columns. */
  std::size_t cols() const { return cols_; }
  /** Leading dimension: elements from the start of one row to the next (≥ cols, a multiple of 64 bytes). */
  std::size_t ld() const { return ld_; }
  /** Number of stored elements, `rows × ld` (padding included). */
  std::size_t storage_size() const { return rows_ * ld_; }
  /** The first element (64-byte aligned; nullptr when empty). */
  T* data() { return data_.get(); }
  /** The first element (64-byte aligned; nullptr when empty). */
  const T* data() const { return data_.get(); }
  /** Element (i, j); unchecked. */
  T& operator()(std::size_t i, std::size_t j) { return data_.get()[i * ld_ + j]; }
  /** Element (i, j); unchecked. */
  const T& operator()(std::size_t i, std::size_t j) const { return data_.get()[i * ld_ + j]; }

  /** A view of the whole matrix, to pass to the library's functions. */
  MatrixView<T> view() { return {data_.get(), rows_, cols_, ld_}; }
  /** A read-only view of the whole matrix. */
  MatrixView<const T> view() const { return {data_.get(), rows_, cols_, ld_}; }
  /** view(), so a Matrix can be passed where a view is expected. */
  operator MatrixView<T>() { return view(); }  // NOLINT(google-explicit-constructor)
  /** view() const, so a Matrix can be passed where a read-only view is expected. */
  operator MatrixView<const T>() const { return view(); }  // NOLINT(google-explicit-constructor)

 private:
  std::unique_ptr<T[], detail::AlignedFree> data_;
  std::size_t rows_ = 0, cols_ = 0, ld_ = 0;
};

extern template class Matrix<float>;
extern template class Matrix<double>;

}  // namespace mlpkit
