#pragma once
// A fresh directory under the system's temporary directory, removed with everything in it when the
// object goes: the model tests' scratch space and the model benchmark's file.
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <string>
#include <system_error>

namespace mlpkit::test {

class ScopedTempDir {
 public:
  /** `<temp>/<prefix>_<pid>_<n>`, n counting the directories this process made. */
  explicit ScopedTempDir(const std::string& prefix = "mlpkit_test_model") {
    static std::atomic<int> counter{0};
    path_ = std::filesystem::temp_directory_path() /
            (prefix + "_" + std::to_string(::getpid()) + "_" + std::to_string(counter.fetch_add(1)));
    std::filesystem::create_directories(path_);
  }
  ~ScopedTempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  ScopedTempDir(const ScopedTempDir&) = delete;
  ScopedTempDir& operator=(const ScopedTempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace mlpkit::test
