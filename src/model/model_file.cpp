// The model file on disk: positioned reads through one descriptor, and the atomic write.
#include "model/model_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "runtime/checks.hpp"

namespace mlpkit::detail {

ModelFileReader::ModelFileReader(const ErrorContext& where, const std::filesystem::path& path) : where_(where) {
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) fail_in(where, concat("cannot open the file (", std::strerror(errno), ")"));
  struct stat status {};
  if (::fstat(fd_, &status) != 0 || !S_ISREG(status.st_mode)) {
    const std::string reason = S_ISDIR(status.st_mode) ? "Is a directory" : "not a regular file";
    ::close(fd_);
    fail_in(where, "cannot open the file (" + reason + ")");
  }
  size_ = static_cast<std::uint64_t>(status.st_size);
}

ModelFileReader::~ModelFileReader() { ::close(fd_); }

void ModelFileReader::read_at(std::uint64_t offset, std::uint64_t bytes, void* out) const {
  auto* destination = static_cast<char*>(out);
  std::uint64_t done = 0;
  while (done < bytes) {
    const ssize_t n = ::pread(fd_, destination + done, bytes - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail_in(where_, concat("cannot read ", bytes, " bytes at offset ", offset, " (", std::strerror(errno), ")"));
    if (n == 0)
      fail_in(where_, concat("cannot read ", bytes, " bytes at offset ", offset, " (the file shrank while loading?)"));
    done += static_cast<std::uint64_t>(n);
  }
}

SafetensorsHeader ModelFileReader::read_header() const {
  char first[kLengthBytes] = {};
  if (size_ >= kLengthBytes) read_at(0, kLengthBytes, first);
  const std::uint64_t length = header_length(where_, std::string_view(first, kLengthBytes), size_);
  std::string json(length, '\0');
  read_at(kLengthBytes, length, json.data());
  return parse_header(where_, json, size_);
}

void write_atomically(const char* function, const std::filesystem::path& path, const std::string& bytes) {
  static std::atomic<unsigned> counter{0};
  std::filesystem::path temporary = path;
  temporary += concat(".tmp-", ::getpid(), "-", counter.fetch_add(1));
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) fail(function, "cannot write ", path, " (", std::strerror(errno), ")");
  std::size_t written = 0;
  bool ok = true;
  while (ok && written < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (n < 0 && errno == EINTR) continue;
    ok = n > 0;
    if (ok) written += static_cast<std::size_t>(n);
  }
  const int error = ok ? 0 : errno;
  ok = ok && ::fsync(fd) == 0;
  ok = (::close(fd) == 0) && ok;
  std::error_code ec;
  if (ok) std::filesystem::rename(temporary, path, ec);
  if (!ok || ec) {
    const std::string reason = ec ? ec.message() : std::strerror(error != 0 ? error : errno);
    std::filesystem::remove(temporary, ec);
    fail(function, "cannot write ", path, " (", reason, ")");
  }
}

}  // namespace mlpkit::detail
