// Collective error handling and input fingerprints (see collective.hpp).
#include "mpi/collective.hpp"

#include <cstring>

#include "runtime/checks.hpp"

namespace mlpkit::detail::mpi {

void InputHash::add_bytes(const void* data, std::size_t bytes) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (; bytes >= 8; bytes -= 8, p += 8) {
    std::uint64_t word;
    std::memcpy(&word, p, 8);
    state_ = (state_ ^ word) * 0x100000001b3ULL;
  }
  std::uint64_t tail = 0;
  std::memcpy(&tail, p, bytes);
  state_ = (state_ ^ tail ^ (static_cast<std::uint64_t>(bytes) << 56)) * 0x100000001b3ULL;
}

void InputHash::add(std::uint64_t value) { add_bytes(&value, sizeof value); }
void InputHash::add(double value) { add_bytes(&value, sizeof value); }
void InputHash::add(std::string_view text) {
  add(static_cast<std::uint64_t>(text.size()));
  add_bytes(text.data(), text.size());
}
void InputHash::add(std::span<const double> values) {
  add(static_cast<std::uint64_t>(values.size()));
  add_bytes(values.data(), values.size() * sizeof(double));
}

std::uint64_t InputHash::value() const {
  std::uint64_t z = state_ + 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

Collective::Collective(MPI_Comm comm, const char* function) : comm_(comm), function_(function) {
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (!initialized || finalized) fail(function, "MPI is not initialized (call MPI_Init first) or already finalized");
  if (comm == MPI_COMM_NULL) fail(function, "comm is MPI_COMM_NULL");
  MPI_Comm_rank(comm, &rank_);
  MPI_Comm_size(comm, &size_);
}

void Collective::settle(bool failed, std::string& message) const {
  const int mine = failed ? rank_ : size_;
  int lowest = size_;
  MPI_Allreduce(&mine, &lowest, 1, MPI_INT, MPI_MIN, comm_);
  if (lowest == size_) return;
  unsigned long long length = message.size();
  MPI_Bcast(&length, 1, MPI_UNSIGNED_LONG_LONG, lowest, comm_);
  message.resize(static_cast<std::size_t>(length));
  MPI_Bcast(message.data(), static_cast<int>(length), MPI_CHAR, lowest, comm_);
  throw Error(message + " (on rank " + std::to_string(lowest) + " of " + std::to_string(size_) + ")");
}

void Collective::require_same(std::span<const InputPart> parts) const {
  std::vector<unsigned long long> mine(parts.size());
  for (std::size_t k = 0; k < parts.size(); ++k) mine[k] = parts[k].fingerprint;
  std::vector<unsigned long long> all(parts.size() * static_cast<std::size_t>(size_));
  MPI_Allgather(mine.data(), static_cast<int>(mine.size()), MPI_UNSIGNED_LONG_LONG, all.data(),
                static_cast<int>(mine.size()), MPI_UNSIGNED_LONG_LONG, comm_);
  for (std::size_t r = 1; r < static_cast<std::size_t>(size_); ++r)
    for (std::size_t k = 0; k < parts.size(); ++k)
      if (all[r * parts.size() + k] != all[k])
        fail(function_, "the ranks got different input: ", parts[k].name, " on rank ", r,
             " differs from rank 0's (every rank of the communicator must pass the same arguments)");
}

}  // namespace mlpkit::detail::mpi
