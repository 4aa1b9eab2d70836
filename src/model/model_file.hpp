#pragma once
// The model file on disk: reading it at offsets through one descriptor (pread, no stream buffer in
// between) and writing it atomically (a temporary file, synced, renamed over the target).
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

#include "model/safetensors.hpp"

namespace mlpkit::detail {

/**
 * Bytes per read of a tensor whose values are checked for finiteness: each chunk is checked right
 * after it lands, while still in L2 (512 KiB measured best of 128 KiB … 1 MiB in bench_model; a
 * tensor that is not checked is read whole).
 */
inline constexpr std::size_t kModelReadChunkBytes = std::size_t{512} << 10;

/** A file open for reading; errors name it through `where`. Not copyable. */
class ModelFileReader {
 public:
  /** Opens `path`; throws naming it when it cannot be opened or is not a regular file. */
  ModelFileReader(const ErrorContext& where, const std::filesystem::path& path);
  ~ModelFileReader();
  ModelFileReader(const ModelFileReader&) = delete;
  ModelFileReader& operator=(const ModelFileReader&) = delete;

  /** The size the file had when opened. */
  std::uint64_t size() const { return size_; }
  /** Reads bytes [offset, offset + bytes) into `out`; throws when the file ends before (it shrank) or read fails. */
  void read_at(std::uint64_t offset, std::uint64_t bytes, void* out) const;
  /** The header: its length, then that many bytes of JSON, parsed and validated (see parse_header). */
  SafetensorsHeader read_header() const;

 private:
  const ErrorContext& where_;
  int fd_ = -1;
  std::uint64_t size_ = 0;
};

/**
 * Writes `bytes` to a fresh file next to `path`, syncs it and renames it over `path`: readers see
 * the old file or the whole new one, never a torn one. Throws naming `function` and `path`.
 */
void write_atomically(const char* function, const std::filesystem::path& path, const std::string& bytes);

}  // namespace mlpkit::detail
