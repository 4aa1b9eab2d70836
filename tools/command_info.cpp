// mlpkit info: the detected and active ISA, threads and caches.
#include <nlohmann/json.hpp>

#include <sstream>

#include "commands.hpp"
#include "mlpkit/mlpkit.hpp"
#include "model_data.hpp"

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
      << "active ISA:     " << isa_name(current_isa()) << "\n"
      << "threads:        " << num_threads() << "\n"
      << "L1d cache:      " << kib(caches.l1d) << "\n"
      << "L2 cache:       " << kib(caches.l2) << "\n"
      << "L3 cache:       " << kib(caches.l3);
  if (caches.l3_cpus != 0) out << " (shared by " << caches.l3_cpus << (caches.l3_cpus == 1 ? " CPU)" : " CPUs)");
  out << "\n";
  return out.str();
}

// What a model file holds: architecture, parameter count, dtype, whether input statistics travel.
std::string model_text(const std::string& path, bool json) {
  const ModelFileInfo info = model_file_info(path);
  const MlpConfig<double>& c = info.config;
  if (json) {
    nlohmann::json j = {{"model", path},
                        {"dtype", info.dtype},
                        {"dims", c.dims},
                        {"hidden", activation_name(c.hidden)},
                        {"output", activation_name(c.output)},
                        {"loss", loss_name(c.loss)},
                        {"l2", c.l2},
                        {"keep_prob", c.keep_prob},
                        {"parameters", info.parameter_count},
                        {"standardized_inputs", info.has_inputs},
                        {"metadata", info.user_metadata}};
    return j.dump(1) + "\n";
  }
  std::ostringstream out;
  std::string dims;
  for (std::size_t d : c.dims) dims += (dims.empty() ? "" : ",") + std::to_string(d);
  out << "model:      " << path << "\n"
      << "dims:       " << dims << " (" << info.dtype << ")\n"
      << "layers:     " << activation_name(c.hidden) << " hidden, " << activation_name(c.output) << " output, "
      << loss_name(c.loss) << "\n"
      << "parameters: " << info.parameter_count << "\n"
      << "inputs:     "
      << (info.has_inputs ? "standardized with the training statistics (they travel with the model)" : "used as given (no statistics)")
      << "\n";
  for (const auto& [key, value] : info.user_metadata) out << key << ": " << value << "\n";
  return out.str();
}

}  // namespace

void register_info(CLI::App& app, int& exit_code) {
  static CommonOptions options;
  static std::string model;
  auto* command = app.add_subcommand("info", "Detected and active ISA, thread count, cache sizes; or what a model file holds");
  add_common_options(*command, options);
  command->add_option("--model", model, "Describe this model file (.safetensors or .onnx) instead");
  command->callback([&exit_code] {
    apply_common_options(options);
    emit(options, model.empty() ? info_text() : model_text(model, options.json));
    exit_code = 0;
  });
}

}  // namespace mlpkit::tool
