#pragma once
// What runtime/info.cpp parses, exposed for its tests.
#include <cstddef>
#include <string_view>

namespace mlpkit::detail {

/**
 * The number of CPUs in a Linux CPU list as sysfs writes it ("0-15,32-47" → 32, "3" → 1); 0 for an
 * empty or malformed list.
 */
std::size_t cpu_list_count(std::string_view list);

}  // namespace mlpkit::detail
