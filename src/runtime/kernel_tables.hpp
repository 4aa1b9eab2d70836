#pragma once
// The three tables every kernel family (vector, normalization, activations, gemm) has, declared and
// dispatched alike: `<family>_kernels<Arch, T>()` per ISA (defined in its *_simd.hpp, instantiated in
// src/kernels/isa/<isa>.cpp), `<family>_kernels_ref<T>()`, the scalar reference, and
// `active_<family>_kernels<T>()`, the table of current_isa() (runtime/dispatch.hpp). A new family
// names its table type once here instead of repeating the three declarations and the dispatch.

/** Declares, in namespace mlpkit::detail, the per-ISA, reference and active tables of type Table<T>. */
#define MLPKIT_DECLARE_KERNEL_TABLES(Table, family)        \
  template <class Arch, class T>                           \
  const Table<T>& family##_kernels();                      \
  template <class T>                                       \
  const Table<T>& family##_kernels_ref();                  \
  template <class T>                                       \
  const Table<T>& active_##family##_kernels()

/** Defines active_<family>_kernels<T>(): the table of current_isa(); needs runtime/dispatch.hpp. */
#define MLPKIT_DEFINE_ACTIVE_KERNELS(Table, family)                                                      \
  template <class T>                                                                                     \
  const Table<T>& active_##family##_kernels() {                                                          \
    return dispatch([]<class Arch>() -> const Table<T>& { return family##_kernels<Arch, T>(); });        \
  }
