// Model files: loading a depth-8, width-1024 float model (8 × 1024 × 1025 parameters, ~32 MiB)
// against a plain read() of the same file, in the same run. The load validates the header and reads
// the tensors straight into θ, each 512 KiB chunk checked for finiteness while in cache; the target
// is at least half read()'s rate.
//
// BM_load_vs_read is the target's comparison, interleaved in one loop (each iteration times one
// read() and one load, so load on the machine hits both alike), in two settings:
// - fresh memory: read() into a new buffer from θ's allocator (huge-page advised, as θ) against
//   Model::load into a new model; both pay the kernel's faulting in and zeroing of fresh pages;
// - warm memory: read() into one buffer reused across iterations against Model::reload over the
//   previous model (θ's pages already mapped); neither faults.
// Its counters: read_ms and load_ms (thread CPU time, which includes the kernel's copy and page
// faults and excludes time the loaded machine gives to other processes), the same as wall time
// (read_wall_ms, load_wall_ms), and load_rate = read time / load time (≥ 0.5 is the target).
// BM_model_allocate times the allocation of a model to load into (θ allocated, not zeroed; dθ not
// allocated until training needs it).
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <unistd.h>

#include <ctime>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "mlpkit/model.hpp"
#include "scoped_temp_dir.hpp"

namespace {

/** The model file, written once per process into its own temporary directory, removed at exit. */
class ModelFile {
 public:
  ModelFile() : path_(directory_.path() / "depth8_width1024_f32.safetensors") {
    mlpkit::Model<float>(mlpkit::Mlp<float>(config())).save(path_);
    bytes_ = std::filesystem::file_size(path_);
  }
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
  mlpkit::test::ScopedTempDir directory_{"mlpkit_bench_model"};
  std::filesystem::path path_;
  std::size_t bytes_ = 0;
};

const ModelFile& model_file() {
  static const ModelFile file;
  return file;
}

// Arg 1: with allow_nonfinite, i.e. without the finiteness check.
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

// Model::reload over the model of the previous iteration: θ's pages stay mapped.
void BM_model_reload(benchmark::State& state) {
  const ModelFile& file = model_file();
  mlpkit::ModelLoadOptions options;
  options.allow_nonfinite = state.range(0) != 0;
  auto model = mlpkit::Model<float>::load(file.path(), options);
  for (auto _ : state) {
    model = mlpkit::Model<float>::reload(file.path(), std::move(model), options);
    benchmark::DoNotOptimize(model.network().parameters().data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(file.bytes()));
}
BENCHMARK(BM_model_reload)->ArgName("allow_nonfinite")->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();

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

/** A buffer from θ's allocator (64-byte aligned; huge-page advised at this size). */
using Buffer = std::unique_ptr<char, mlpkit::detail::AlignedFree>;
Buffer fresh_buffer(std::size_t bytes) { return Buffer(static_cast<char*>(mlpkit::aligned_alloc_bytes(bytes))); }

// read() alone, two ways: into fresh memory from θ's allocator, and into one buffer reused across
// iterations (no page faults: the kernel's copy alone).
void BM_read_file(benchmark::State& state) {
  const ModelFile& file = model_file();
  const bool reuse = state.range(0) != 0;
  Buffer reused = reuse ? fresh_buffer(file.bytes()) : nullptr;
  if (reuse) read_whole_file(file, reused.get());  // faults the buffer in
  for (auto _ : state) {
    const Buffer fresh = reuse ? nullptr : fresh_buffer(file.bytes());
    char* buffer = reuse ? reused.get() : fresh.get();
    if (!read_whole_file(file, buffer)) state.SkipWithError("short read");
    benchmark::DoNotOptimize(buffer);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(file.bytes()));
}
BENCHMARK(BM_read_file)->ArgName("reused_buffer")->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();

/** Thread CPU time and wall time, in seconds. */
struct Clocks {
  double cpu = 0, wall = 0;
  static Clocks now() {
    timespec cpu{}, wall{};
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu);
    ::clock_gettime(CLOCK_MONOTONIC, &wall);
    return {static_cast<double>(cpu.tv_sec) + 1e-9 * static_cast<double>(cpu.tv_nsec),
            static_cast<double>(wall.tv_sec) + 1e-9 * static_cast<double>(wall.tv_nsec)};
  }
  Clocks operator-(const Clocks& o) const { return {cpu - o.cpu, wall - o.wall}; }
  Clocks& operator+=(const Clocks& o) {
    cpu += o.cpu;
    wall += o.wall;
    return *this;
  }
};

// The target's comparison, read() and load alternating in one loop (see the file comment).
// Arg 0: fresh memory (new buffer, Model::load); arg 1: warm memory (reused buffer, Model::reload).
void BM_load_vs_read(benchmark::State& state) {
  const ModelFile& file = model_file();
  const bool warm = state.range(0) != 0;
  Buffer reused = warm ? fresh_buffer(file.bytes()) : nullptr;
  if (warm) read_whole_file(file, reused.get());
  std::optional<mlpkit::Model<float>> model;
  if (warm) model.emplace(mlpkit::Model<float>::load(file.path()));
  Clocks read_time, load_time;
  for (auto _ : state) {
    const Clocks t0 = Clocks::now();
    {
      const Buffer fresh = warm ? nullptr : fresh_buffer(file.bytes());
      char* buffer = warm ? reused.get() : fresh.get();
      if (!read_whole_file(file, buffer)) state.SkipWithError("short read");
      benchmark::DoNotOptimize(buffer);
      benchmark::ClobberMemory();
    }
    const Clocks t1 = Clocks::now();
    if (warm)
      model.emplace(mlpkit::Model<float>::reload(file.path(), std::move(*model)));
    else
      model.emplace(mlpkit::Model<float>::load(file.path()));
    benchmark::DoNotOptimize(model->network().parameters().data());
    if (!warm) model.reset();  // the fresh model's pages go back, as the fresh buffer's did
    const Clocks t2 = Clocks::now();
    read_time += t1 - t0;
    load_time += t2 - t1;
  }
  const auto n = static_cast<double>(state.iterations());
  state.counters["read_ms"] = 1e3 * read_time.cpu / n;
  state.counters["load_ms"] = 1e3 * load_time.cpu / n;
  state.counters["read_wall_ms"] = 1e3 * read_time.wall / n;
  state.counters["load_wall_ms"] = 1e3 * load_time.wall / n;
  state.counters["load_rate"] = read_time.cpu / load_time.cpu;
}
BENCHMARK(BM_load_vs_read)->ArgName("warm")->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
