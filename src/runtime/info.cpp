// Cache sizes and the version string.
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <string>
#include <string_view>

#include "mlpkit/runtime.hpp"
#include "mlpkit/version.hpp"
#include "runtime/info.hpp"

namespace mlpkit {
namespace {

std::size_t sysconf_size(int name) {
  const long value = ::sysconf(name);
  return value > 0 ? static_cast<std::size_t>(value) : 0;
}

// cpu0's cache of the given level as /sys/devices/system/cpu/cpu0/cache/index<i>/ describes it: size
// ("32K") and shared_cpu_list ("0-15,32-47"); zeros where the kernel does not say.
struct SysfsCache {
  std::size_t size = 0;
  std::size_t cpus = 0;
};

SysfsCache sysfs_cache(int level, bool data) {
  for (int index = 0; index < 8; ++index) {
    const std::string dir = "/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(index) + "/";
    std::ifstream level_file(dir + "level"), type_file(dir + "type"), size_file(dir + "size");
    int l = 0;
    std::string type, size;
    if (!(level_file >> l) || !(type_file >> type) || !(size_file >> size)) break;
    if (l != level || (data && type == "Instruction") || (!data && type != "Unified")) continue;
    SysfsCache cache;
    cache.size = std::stoul(size);
    if (size.back() == 'K') cache.size <<= 10;
    if (size.back() == 'M') cache.size <<= 20;
    std::ifstream list_file(dir + "shared_cpu_list");
    if (std::string cpus; list_file >> cpus) cache.cpus = detail::cpu_list_count(cpus);
    return cache;
  }
  return {};
}

}  // namespace

namespace detail {

std::size_t cpu_list_count(std::string_view list) {
  std::size_t count = 0;
  while (!list.empty()) {
    const std::string_view range = list.substr(0, list.find(','));
    list.remove_prefix(std::min(list.size(), range.size() + 1));
    const std::size_t dash = range.find('-');
    std::size_t first = 0, last = 0;
    // Decimal digits only (std::from_chars would leave one of its templates exported from a shared
    // mlpkit, tests/package/check_exported_symbols.cmake); no CPU number has 10 of them.
    const auto number = [](std::string_view digits, std::size_t& value) {
      if (digits.empty() || digits.size() > 9) return false;
      value = 0;
      for (const char digit : digits) {
        if (digit < '0' || digit > '9') return false;
        value = value * 10 + static_cast<std::size_t>(digit - '0');
      }
      return true;
    };
    if (!number(range.substr(0, dash), first)) return 0;
    if (dash == std::string_view::npos) last = first;
    else if (!number(range.substr(dash + 1), last) || last < first) return 0;
    count += last - first + 1;
  }
  return count;
}

}  // namespace detail

CacheInfo cache_info() {
  // The kernel's sysfs first: it gives the size of the cache instance cpu0 sits behind. glibc's
  // sysconf derives it from CPUID and can be far off on a VM (on an AMD EPYC guest it reports a
  // 320 MiB L3 where each core reaches a 32 MiB one). sysconf only where sysfs says nothing.
  CacheInfo info;
  info.l1d = sysfs_cache(1, true).size;
  info.l2 = sysfs_cache(2, false).size;
  const SysfsCache l3 = sysfs_cache(3, false);
  info.l3 = l3.size;
  info.l3_cpus = l3.cpus;
#ifdef _SC_LEVEL1_DCACHE_SIZE
  if (info.l1d == 0) info.l1d = sysconf_size(_SC_LEVEL1_DCACHE_SIZE);
  if (info.l2 == 0) info.l2 = sysconf_size(_SC_LEVEL2_CACHE_SIZE);
  if (info.l3 == 0) info.l3 = sysconf_size(_SC_LEVEL3_CACHE_SIZE);
  if (const std::size_t line = sysconf_size(_SC_LEVEL1_DCACHE_LINESIZE); line != 0) info.line = line;
#endif
  return info;
}

std::string_view version() { return MLPKIT_VERSION_STRING; }

}  // namespace mlpkit
