#pragma once
// Collective error handling for the MPI front ends: a step that may throw on some ranks is settled
// by one MPI_Allreduce, after which every rank either goes on or throws the same mlpkit::Error;
// and a comparison of the ranks' inputs by fingerprints, so that ranks never diverge into
// different sequences of collective calls (which would hang).
#include <mpi.h>

#include <cstddef>
#include <cstdint>
#include <exception>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mlpkit/error.hpp"

namespace mlpkit::detail::mpi {

/** A 64-bit fingerprint of input values (FNV-1a over 64-bit words, then a splitmix finalizer). */
class InputHash {
 public:
  void add_bytes(const void* data, std::size_t bytes);
  void add(std::uint64_t value);
  void add(double value);
  void add(std::string_view text);
  void add(std::span<const double> values);
  std::uint64_t value() const;

 private:
  std::uint64_t state_ = 0xcbf29ce484222325ULL;
};

/** One named input compared across ranks. */
struct InputPart {
  const char* name;  // "x", "the options", …
  std::uint64_t fingerprint;
};

/** The ranks of one communicator taking part in one call of `function`. */
class Collective {
 public:
  /** Throws mlpkit::Error (on every rank alike) when MPI is not initialized or comm is MPI_COMM_NULL. */
  Collective(MPI_Comm comm, const char* function);

  MPI_Comm comm() const { return comm_; }
  int rank() const { return rank_; }
  int size() const { return size_; }
  const char* function() const { return function_; }

  /**
   * Runs body() on this rank, then settles collectively: when it threw on any rank, every rank
   * throws mlpkit::Error with the message of the lowest failing rank (" (on rank r of N)" added).
   */
  template <class Body>
  void run(Body&& body) {
    bool failed = false;
    std::string message;
    try {
      body();
    } catch (const Error& e) {
      failed = true;
      message = e.what();
    } catch (const std::exception& e) {
      failed = true;
      message = std::string("mlpkit::") + function_ + ": " + e.what();
    } catch (...) {
      failed = true;
      message = std::string("mlpkit::") + function_ + ": an exception of unknown type";
    }
    settle(failed, message);
  }

  /**
   * Collectively compares every part with rank 0's; on a difference every rank throws mlpkit::Error
   * naming the first differing rank and the first differing part.
   */
  void require_same(std::span<const InputPart> parts) const;

 private:
  void settle(bool failed, std::string& message) const;

  MPI_Comm comm_;
  const char* function_;
  int rank_ = 0, size_ = 1;
};

}  // namespace mlpkit::detail::mpi
