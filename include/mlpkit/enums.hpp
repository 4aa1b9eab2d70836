#pragma once
/** @file
 * The public enumerations as data: EnumTable<E>, specialized next to each enum, lists its
 * enumerators' names in value order, and the generic helpers below serve every enum alike (the
 * library's name, parse and range checks, and any program that iterates an enum's values).
 */
#include <array>
#include <cstddef>
#include <string_view>
#include <type_traits>

#include "mlpkit/export.hpp"

namespace mlpkit MLPKIT_API {

/**
 * The enumerators of a public enumeration E: `type` is E's name ("Activation"), `names[i]` the
 * name of the enumerator whose value is i. Every public enum is numbered 0, 1, 2, … without gaps,
 * so the table is the whole enum. Specialized in the header that declares E.
 */
template <class E>
struct EnumTable;

/** The number of enumerators of E. */
template <class E>
inline constexpr std::size_t enum_count = EnumTable<E>::names.size();

/**
 * Whether `value` is one of E's enumerators. A value cast from an integer outside the
 * enumerators (`static_cast<Activation>(42)`) is not; every function of mlpkit rejects such a
 * value with mlpkit::Error.
 */
template <class E>
constexpr bool is_enumerator(E value) {
  using Underlying = std::underlying_type_t<E>;
  const auto i = static_cast<Underlying>(value);
  if constexpr (std::is_signed_v<Underlying>)
    if (i < 0) return false;
  return static_cast<std::size_t>(i) < enum_count<E>;
}

/** E's enumerators in value order: `for (Activation f : enum_values<Activation>())`. */
template <class E>
constexpr std::array<E, enum_count<E>> enum_values() {
  std::array<E, enum_count<E>> values{};
  for (std::size_t i = 0; i < values.size(); ++i) values[i] = static_cast<E>(i);
  return values;
}

}  // namespace mlpkit
