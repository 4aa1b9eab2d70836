// Cache sizes and the version string.
#include <unistd.h>

#include <fstream>
#include <string>

#include "mlpkit/runtime.hpp"
#include "mlpkit/version.hpp"

namespace mlpkit {
namespace {

std::size_t sysconf_size(int name) {
  const long value = ::sysconf(name);
  return value > 0 ? static_cast<std::size_t>(value) : 0;
}

// /sys/devices/system/cpu/cpu0/cache/index<i>/size, e.g. "32K"; 0 where the kernel does not say.
std::size_t sysfs_cache_size(int level, bool data) {
  for (int index = 0; index < 8; ++index) {
    const std::string dir = "/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(index) + "/";
    std::ifstream level_file(dir + "level"), type_file(dir + "type"), size_file(dir + "size");
    int l = 0;
    std::string type, size;
    if (!(level_file >> l) || !(type_file >> type) || !(size_file >> size)) break;
    if (l != level || (data && type == "Instruction") || (!data && type != "Unified")) continue;
    std::size_t value = std::stoul(size);
    if (size.back() == 'K') value <<= 10;
    if (size.back() == 'M') value <<= 20;
    return value;
  }
  return 0;
}

}  // namespace

CacheInfo cache_info() {
  // The kernel's sysfs first: it gives the size of the cache instance cpu0 sits behind. glibc's
  // sysconf derives it from CPUID and can be far off on a VM (on an AMD EPYC guest it reports a
  // 320 MiB L3 where each core reaches a 32 MiB one). sysconf only where sysfs says nothing.
  CacheInfo info;
  info.l1d = sysfs_cache_size(1, true);
  info.l2 = sysfs_cache_size(2, false);
  info.l3 = sysfs_cache_size(3, false);
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
