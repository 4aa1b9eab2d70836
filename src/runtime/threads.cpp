#include <omp.h>

#include <atomic>

#include "runtime/checks.hpp"
#include "runtime/threads.hpp"

namespace mlpkit {
namespace {
std::atomic<int> configured_threads{0};  // 0: follow OpenMP's default
// A per-call limit of one application thread (gradcheck's options.threads): never seen by others.
thread_local int calling_thread_limit = 0;
}

namespace detail {
int thread_limit_of_this_thread() { return calling_thread_limit; }
void set_thread_limit_of_this_thread(int n) { calling_thread_limit = n; }
}  // namespace detail

void set_num_threads(int n) {
  if (n < 1) detail::fail("set_num_threads", "n (", n, ") must be at least 1");
  configured_threads.store(n);
}

int num_threads() {
  if (calling_thread_limit > 0) return calling_thread_limit;
  const int n = configured_threads.load(std::memory_order_relaxed);
  return n > 0 ? n : std::max(1, omp_get_max_threads());
}

}  // namespace mlpkit
