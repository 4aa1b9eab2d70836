#pragma once
// The safetensors container, independent of what the tensors mean: an 8-byte little-endian header
// length, a JSON header (tensor name → dtype, shape, data_offsets; "__metadata__": string → string),
// then the raw tensor bytes. The reader validates the header completely (lengths, JSON, dtypes,
// shapes, byte ranges inside the data and pairwise disjoint) before anyone reads a tensor.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace mlpkit::detail {

enum class Dtype { f32, f64 };

/** "F32" or "F64". */
const char* dtype_name(Dtype dtype);
/** 4 or 8. */
std::size_t dtype_size(Dtype dtype);

/** Who reads what, for error messages: "mlpkit::<function>: <source>: …" (source may be empty). */
struct ErrorContext {
  const char* function;
  std::string source;
};

/** Throws mlpkit::Error("mlpkit::<function>: [<source>: ]<message>"). */
[[noreturn]] void fail_in(const ErrorContext& where, const std::string& message);

/** "[2, 3]". */
std::string shape_text(const std::vector<std::uint64_t>& shape);

/** One tensor of a header: its bytes are data[begin, end) of the data that follows the header. */
struct TensorRecord {
  Dtype dtype = Dtype::f32;
  std::vector<std::uint64_t> shape;
  std::uint64_t begin = 0, end = 0;
};

struct SafetensorsHeader {
  std::map<std::string, TensorRecord> tensors;
  std::map<std::string, std::string> metadata;
  /** Offset of the tensor data in the file: 8 + the header length. */
  std::uint64_t data_start = 0;
};

/** Bytes of the header-length prefix. */
inline constexpr std::size_t kLengthBytes = 8;

/**
 * The header length from the first 8 bytes of a file of `file_size` bytes; throws when the file
 * is shorter than 8 bytes or the header would run past its end.
 */
std::uint64_t header_length(const ErrorContext& where, std::string_view first_bytes, std::uint64_t file_size);

/**
 * Parses and validates the JSON header of a file of `file_size` bytes whose header is `json`:
 * dtypes F32/F64, shapes of unsigned integers whose byte size matches data_offsets, every range
 * inside the data and no two overlapping, metadata values strings. Throws mlpkit::Error naming the
 * tensor and the values.
 */
SafetensorsHeader parse_header(const ErrorContext& where, std::string_view json, std::uint64_t file_size);

/** A tensor to write: `bytes` are its raw little-endian elements (product(shape) · dtype size of them). */
struct TensorBytes {
  std::string name;
  Dtype dtype = Dtype::f32;
  std::vector<std::uint64_t> shape;
  const void* data = nullptr;
};

/**
 * A complete file: the header (padded with spaces so the data start 8-byte aligned), then the
 * tensors back to back in the given order. Throws mlpkit::Error when a metadata string is not
 * valid UTF-8.
 */
std::string write_safetensors(const ErrorContext& where, const std::vector<TensorBytes>& tensors,
                              const std::map<std::string, std::string>& metadata);

}  // namespace mlpkit::detail
