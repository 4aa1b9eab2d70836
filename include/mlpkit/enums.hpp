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
 * so the table is the whole enum. Specialized in the header that declares E, in one line through
 * EnumNames.
 */
template <class E>
struct EnumTable;

/**
 * A string literal as a template argument (a C++20 class-type non-type template parameter), for
 * EnumNames: the text of one name, at most 31 characters, copied at compile time.
 */
struct EnumLiteral {
  /** The characters of the name, then zeros. */
  char text[32]{};
  /** The name's length. */
  std::size_t size = 0;

  /** Copies the string literal `literal` (a name longer than 31 characters does not compile). */
  template <std::size_t N>
  consteval EnumLiteral(const char (&literal)[N]) : size(N - 1) {  // NOLINT(google-explicit-constructor)
    static_assert(N <= sizeof(text), "EnumLiteral: a name of at most 31 characters");
    for (std::size_t i = 0; i < size; ++i) text[i] = literal[i];
  }

  /** The name. */
  constexpr std::string_view view() const { return {text, size}; }
};

/**
 * The base of every EnumTable specialization, so that each is one line: the enum's name, then its
 * enumerators' names in value order,
 * `template <> struct EnumTable<Trans> : EnumNames<"Trans", "no", "yes"> {};`.
 * The names are kept in the class itself, so that a shared build exports them as mlpkit's.
 */
template <EnumLiteral Type, EnumLiteral... Names>
struct EnumNames {
 private:
  static constexpr std::array<EnumLiteral, 1 + sizeof...(Names)> texts{Type, Names...};

  static constexpr std::array<std::string_view, sizeof...(Names)> views() {
    std::array<std::string_view, sizeof...(Names)> result{};
    for (std::size_t i = 0; i < result.size(); ++i) result[i] = texts[i + 1].view();
    return result;
  }

 public:
  /** The enum's name ("Activation"). */
  static constexpr std::string_view type = texts[0].view();
  /** `names[i]`: the name of the enumerator whose value is i. */
  static constexpr std::array<std::string_view, sizeof...(Names)> names = views();
};

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
