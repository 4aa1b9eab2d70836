// Model files: loading a depth-8, width-1024 float model (8 × 1024 × 1025 parameters, ~32 MiB)
// against a plain read() of the same file into fresh memory, in the same run. The load validates the
// header and reads the tensors straight into θ; the target is at least half read()'s rate.
// BM_model_allocate times the allocation of a model to load into (θ allocated, not zeroed; dθ not
// allocated until training needs it), the floor of any load into a new model.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>

#include "mlpkit/model.hpp"

namespace {

/** The model file, written once per process into its own temporary directory, removed at exit. */
class ModelFile {
 public:
  ModelFile() {
    directory_ = std::filesystem::temp_directory_path() / ("mlpkit_bench_model_" + std::to_string(::getpid()));
    std::filesystem::create_directories(directory_);
    path_ = directory_ / "depth8_width1024_f32.safetensors";
    mlpkit::Model<float>(mlpkit::Mlp<float>(config())).save(path_);
    bytes_ = std::filesystem::file_size(path_);
  }
  ~ModelFile() {
    std::error_code ec;
    std::filesystem::remove_all(directory_, ec);
  }
  ModelFile(const ModelFile&) = delete;
  ModelFile& operator=(const ModelFile&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::size_t bytes() const { return bytes_; }
  /** 9 × 1024 dims: 8 layers of 1024 × 1024 weights; a regression output. */
  static mlpkit::MlpConfig<float> config() {
    mlpkit::MlpConfig<float> c;
    c.dims.assign(9, 1024);
    c.output = mlpkit::Activation::identity;
    c.loss = mlpkit::Loss::mean_squared_error;
    return c;
  }

 private:
  std::filesystem::path directory_, path_;
  std::size_t bytes_ = 0;
};

const ModelFile& model_file() {
  static const ModelFile file;
  return file;
}

// Arg 1: with allow_nonfinite, i.e. without the finiteness pass over θ.
void BM_model_load(benchmark::State& state) {
  const ModelFile& file = model_file();
  mlpkit::ModelLoadOptions options;
  options.allow_nonfinite = state.range(0) != 0;
  for (auto _ : state) {
    const auto model = mlpkit::Model<float>::load(file.path(), options);
    benchmark::DoNotOptimize(model.network().parameters().data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(file.bytes()));
}
BENCHMARK(BM_model_load)->ArgName("allow_nonfinite")->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();

// What any load pays before reading a byte: a fresh model of that architecture (θ allocated, neither
// initialized nor zeroed; its pages are faulted in by the read that fills them).
void BM_model_allocate(benchmark::State& state) {
  const ModelFile& file = model_file();
  const mlpkit::MlpConfig<float> config = ModelFile::config();
  for (auto _ : state) {
    const mlpkit::Mlp<float> net(config, mlpkit::skip_init);
    benchmark::DoNotOptimize(net.parameters().data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(file.bytes()));
}
BENCHMARK(BM_model_allocate)->Unit(benchmark::kMillisecond)->UseRealTime();

// The whole file read() into `buffer`; false on a short read.
bool read_whole_file(const ModelFile& file, char* buffer) {
  const int fd = ::open(file.path().c_str(), O_RDONLY | O_CLOEXEC);
  std::size_t done = 0;
  while (fd >= 0 && done < file.bytes()) {
    const ssize_t n = ::read(fd, buffer + done, file.bytes() - done);
    if (n <= 0) break;
    done += static_cast<std::size_t>(n);
  }
  if (fd >= 0) ::close(fd);
  return done == file.bytes();
}

// The floor, two ways: read() into freshly allocated (not zeroed) memory, as any loader must do,
// and into one buffer reused across iterations (no page faults: the kernel's copy alone).
void BM_read_file(benchmark::State& state) {
  const ModelFile& file = model_file();
  const bool reuse = state.range(0) != 0;
  std::unique_ptr<char[]> reused(reuse ? new char[file.bytes()] : nullptr);
  if (reuse) read_whole_file(file, reused.get());  // faults the buffer in
  for (auto _ : state) {
    const std::unique_ptr<char[]> fresh(reuse ? nullptr : new char[file.bytes()]);
    char* buffer = reuse ? reused.get() : fresh.get();
    if (!read_whole_file(file, buffer)) state.SkipWithError("short read");
    benchmark::DoNotOptimize(buffer);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(file.bytes()));
}
BENCHMARK(BM_read_file)->ArgName("reused_buffer")->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
