// mlpkit info: the detected and active ISA, threads and caches.
#include <sstream>

#include "commands.hpp"
#include "mlpkit/mlpkit.hpp"

namespace mlpkit::tool {
namespace {

std::string kib(std::size_t bytes) { return bytes == 0 ? "unknown" : std::to_string(bytes / 1024) + " KiB"; }

std::string info_text() {
  std::ostringstream out;
  std::string supported;
  for (Isa isa : supported_isas()) supported += (supported.empty() ? "" : ", ") + std::string(isa_name(isa));
  const CacheInfo caches = cache_info();
  out << "mlpkit " << version() << "\n"
      << "detected ISA:   " << isa_name(detected_isa()) << "\n"
      << "supported ISAs: " << supported << "\n"
      << "active ISA:     " << active_isa() << "\n"
      << "threads:        " << num_threads() << "\n"
      << "L1d cache:      " << kib(caches.l1d) << "\n"
      << "L2 cache:       " << kib(caches.l2) << "\n"
      << "L3 cache:       " << kib(caches.l3) << "\n";
  return out.str();
}

}  // namespace

void register_info(CLI::App& app, int& exit_code) {
  static CommonOptions options;
  auto* command = app.add_subcommand("info", "Detected and active ISA, thread count, cache sizes");
  add_common_options(*command, options);
  command->callback([&exit_code] {
    apply_common_options(options);
    emit(options, info_text());
    exit_code = 0;
  });
}

}  // namespace mlpkit::tool
