#pragma once
// MLPKIT_INTERNAL_EXPORT marks the few internal entry points (mlpkit::detail, declared in src/) that
// mlpkit::mpi — a separate library on top of mlpkit, src/mpi — calls across the library boundary:
// the phases of the gradient check (plan, run a block of items, finish) and the thread limit. They
// are exported from a shared mlpkit only when the build has that component (MLPKIT_WITH_MPI defines
// MLPKIT_EXPORT_MPI_INTERFACE for both libraries); otherwise they are hidden like every other
// internal symbol. They are not public API: no header under include/ declares them, and they may
// change with any release, as mlpkit::mpi is always built from the same tree as mlpkit.

#if defined(MLPKIT_EXPORT_MPI_INTERFACE) && (defined(__GNUC__) || defined(__clang__))
#define MLPKIT_INTERNAL_EXPORT __attribute__((visibility("default")))
#else
#define MLPKIT_INTERNAL_EXPORT
#endif
