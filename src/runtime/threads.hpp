#pragma once
// parallel_for: the one way kernels go parallel. OpenMP underneath, never nested, with a
// minimum-work cut-off (as Eigen's Parallelizer) so small problems stay on the calling thread.
//
// Determinism: callers split work into items that write disjoint outputs, so the result does
// not depend on how items are spread over threads. A reduction is never split across threads;
// callers reduce fixed-size chunks and combine the partial results in item order.
#include <omp.h>

#include <algorithm>
#include <cstddef>
#include <exception>

#include "mlpkit/runtime.hpp"

namespace mlpkit::detail {

/**
 * A thread count for calls made by the calling application thread only (0: none): num_threads()
 * returns it on this thread while set; set_num_threads and other threads are unaffected. Used for
 * per-call options such as GradcheckOptions::threads.
 */
int thread_limit_of_this_thread();
void set_thread_limit_of_this_thread(int n);

/** Work (≈ flops) below which a thread is not worth waking: ~10 µs of one core. */
inline constexpr double kMinWorkPerThread = 4.0e4;

/** Threads parallel_for may use from here: num_threads(), or 1 inside a parallel region. */
inline int team_size() { return omp_in_parallel() ? 1 : num_threads(); }

/**
 * Threads to use for `items` items of `work_per_item` each: 1 (too little work, one item, or inside
 * a parallel region) or the whole team, num_threads(), never a size in between. libgomp ends the
 * surplus threads of a team that shrinks and starts new ones when it grows again: a GEMM whose
 * packing step took a team of 2 and its compute step one of 16 created 14 threads every call
 * (16-core Xeon, packed path, 16 threads: 256³ float 34 → 424 GFLOP/s, 256×64×784 57 → 332 with one
 * team size). The pool's threads stay; items fewer than threads leave some idle for that region.
 */
inline int threads_for(std::size_t items, double work_per_item) {
  if (items < 2 || omp_in_parallel()) return 1;
  const double total = static_cast<double>(items) * work_per_item;
  if (total < 2.0 * kMinWorkPerThread) return 1;
  return std::max(num_threads(), 1);
}

/** How parallel_for hands items to threads. */
enum class Schedule {
  even,     // contiguous equal blocks: for items of equal cost
  balanced  // one item at a time to whichever thread is free: for items of uneven cost
};

/**
 * Calls body(i) for every i in [0, items), spread over up to num_threads() threads when the
 * total work is large enough. An exception thrown by body is rethrown on the calling thread
 * (the one of the lowest item index, so the outcome does not depend on the schedule).
 */
template <class Body>
void parallel_for(std::size_t items, double work_per_item, Body&& body, Schedule schedule = Schedule::even) {
  const int threads = threads_for(items, work_per_item);
  if (threads == 1) {
    for (std::size_t i = 0; i < items; ++i) body(i);
    return;
  }
  const std::size_t chunk =
      schedule == Schedule::balanced ? 1 : (items + static_cast<std::size_t>(threads) - 1) / static_cast<std::size_t>(threads);
  std::exception_ptr first_error;
  std::size_t first_error_item = items;
#pragma omp parallel for schedule(dynamic, chunk) num_threads(threads)
  for (std::size_t i = 0; i < items; ++i) {
    try {
      body(i);
    } catch (...) {
#pragma omp critical(mlpkit_parallel_for_error)
      if (i < first_error_item) {
        first_error_item = i;
        first_error = std::current_exception();
      }
    }
  }
  if (first_error) std::rethrow_exception(first_error);
}

}  // namespace mlpkit::detail
