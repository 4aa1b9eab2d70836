#pragma once
/** @file
 * MLPKIT_API, the mark of mlpkit's public interface.
 *
 * The library is compiled with hidden visibility (`-fvisibility=hidden -fvisibility-inlines-hidden`),
 * so a shared build exports nothing by default. Every public header opens its namespace as
 * `namespace mlpkit MLPKIT_API { … }`: what that block declares, and only that, is exported.
 * Function templates carry MLPKIT_API on their declaration as well (`template <class T> MLPKIT_API
 * T dot(…)`): GCC and Clang give an instantiation the visibility of the block that defines the
 * template, which is in src/, so without it `dot<double>` would stay hidden. The
 * library's internals (`mlpkit::detail`, declared in `src/`), the instantiations of std templates it
 * uses and the symbols of its private dependencies (nlohmann-json) stay inside the shared library,
 * where they cannot collide with an application's own copies. A static build behaves the same.
 */

#if defined(MLPKIT_DOXYGEN)
/** Exports what it marks from the shared library: `namespace mlpkit MLPKIT_API { … }`. */
#define MLPKIT_API
#elif defined(__GNUC__) || defined(__clang__)
#define MLPKIT_API __attribute__((visibility("default")))
#else
#define MLPKIT_API
#endif
