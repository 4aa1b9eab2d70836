// Aligned storage and the Matrix class.
#include <sys/mman.h>

#include <cstdlib>
#include <cstring>
#include <new>

#include "mlpkit/matrix.hpp"
#include "runtime/checks.hpp"

namespace mlpkit {

namespace {
constexpr std::size_t kAlignment = 64;  // a cache line, and one AVX-512 register
constexpr std::size_t kHugePage = std::size_t{2} << 20;
constexpr std::size_t kHugeThreshold = std::size_t{8} << 20;

/** The leading dimension Matrix uses for `cols` columns of `elem_size` bytes: a multiple of 64 bytes. */
std::size_t padded_ld(std::size_t cols, std::size_t elem_size) {
  const std::size_t per_line = kAlignment / elem_size;
  if (cols > std::numeric_limits<std::size_t>::max() - per_line)
    detail::fail("Matrix", "cols (", cols, ") is too large");
  return (cols + per_line - 1) / per_line * per_line;
}

/** rows * ld * elem_size, or throws mlpkit::Error naming `function` when it exceeds PTRDIFF_MAX bytes. */
std::size_t checked_bytes(const char* function, std::size_t rows, std::size_t ld, std::size_t elem_size) {
  return detail::checked_array_bytes(function, "rows × ld", detail::checked_mul(function, "rows × ld", rows, ld),
                                     elem_size);
}
}  // namespace

void* aligned_alloc_bytes(std::size_t bytes) {
  if (bytes == 0) return nullptr;
  const bool huge = bytes >= kHugeThreshold;
  const std::size_t alignment = huge ? kHugePage : kAlignment;
  if (bytes > std::numeric_limits<std::size_t>::max() - alignment) throw std::bad_alloc();
  const std::size_t rounded = (bytes + alignment - 1) / alignment * alignment;  // aligned_alloc requires it
  void* p = std::aligned_alloc(alignment, rounded);
  if (p == nullptr) throw std::bad_alloc();
#ifdef MADV_HUGEPAGE
  if (huge) ::madvise(p, rounded, MADV_HUGEPAGE);  // advice only: without transparent huge pages nothing changes
#endif
  return p;
}

template <class T>
Matrix<T>::Matrix(std::size_t rows, std::size_t cols) : Matrix(rows, cols, padded_ld(cols, sizeof(T))) {}

template <class T>
Matrix<T>::Matrix(std::size_t rows, std::size_t cols, std::size_t ld) : rows_(rows), cols_(cols), ld_(ld) {
  if (ld < cols) detail::fail("Matrix", "ld (", ld, ") is smaller than cols (", cols, ")");
  const std::size_t bytes = checked_bytes("Matrix", rows, ld, sizeof(T));
  data_.reset(static_cast<T*>(aligned_alloc_bytes(bytes)));
  if (bytes != 0) std::memset(data_.get(), 0, bytes);
}

template <class T>
Matrix<T>::Matrix(const Matrix& other) : Matrix(other.rows_, other.cols_, other.ld_) {
  if (other.storage_size() != 0) std::memcpy(data_.get(), other.data_.get(), other.storage_size() * sizeof(T));
}

template <class T>
Matrix<T>& Matrix<T>::operator=(const Matrix& other) {
  if (this != &other) *this = Matrix(other);
  return *this;
}

template class Matrix<float>;
template class Matrix<double>;

}  // namespace mlpkit
