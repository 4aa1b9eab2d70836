// GradcheckReport::to_text and to_json, and the names of the enumerations.
#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>

#include "gradcheck/gradcheck_internal.hpp"
#include "runtime/checks.hpp"

namespace mlpkit {

std::string_view verdict_name(Verdict verdict) { return detail::enum_name("verdict_name", "verdict", verdict); }

std::string_view fingerprint_name(Fingerprint fingerprint) {
  return detail::enum_name("fingerprint_name", "fingerprint", fingerprint);
}

std::string_view gradcheck_mode_name(GradcheckMode mode) {
  return detail::enum_name("gradcheck_mode_name", "mode", mode);
}

std::string_view difference_scheme_name(DifferenceScheme scheme) {
  return detail::enum_name("difference_scheme_name", "scheme", scheme);
}

std::string_view agreement_name(Agreement agreement) {
  return detail::enum_name("agreement_name", "agreement", agreement);
}

namespace {

std::string format(const char* pattern, double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, pattern, value);
  return buffer;
}

/** with_cotangent: a check_vjp report, whose entries name their cotangent. */
nlohmann::json entry_json(const GradcheckEntry& e, bool with_cotangent) {
  nlohmann::json j{{"index", e.index}, {"layer", e.layer},       {"row", e.row},
                   {"col", e.col},     {"numeric", e.numeric}, {"analytic", e.analytic}};
  if (with_cotangent) j["cotangent"] = e.cotangent;
  return j;
}

/** The Taylor-remainder test: its points, the fitted range and slope. */
nlohmann::json taylor_json(const TaylorTest& t) {
  return {{"steps", t.steps},         {"remainders", t.remainders}, {"noise", t.noise},
          {"fit_first", t.fit_first}, {"fit_last", t.fit_last},     {"slope", t.slope},
          {"intercept", t.intercept}, {"agreement", agreement_name(t.agreement)}};
}

/** "slope 2.00 over h in [1.0e-05, 3.2e-04] (4 points) -> agree". */
std::string taylor_line(const TaylorTest& t) {
  std::ostringstream out;
  if (t.fit_last - t.fit_first < 3) {
    out << "too few steps clear of rounding to fit (" << t.fit_last - t.fit_first << ")";
  } else {
    out << "slope " << format("%.2f", t.slope) << " over h in [" << format("%.1e", t.steps[t.fit_last - 1]) << ", "
        << format("%.1e", t.steps[t.fit_first]) << "] (" << t.fit_last - t.fit_first << " points)";
  }
  out << " -> " << agreement_name(t.agreement);
  return out.str();
}

/** The Taylor-remainder section of to_text (directional mode), empty without a test. */
std::string taylor_text(const GradcheckReport& report) {
  if (report.taylor.steps.empty()) return {};
  std::string text = "\nTaylor remainder |J(θ+hv) − J(θ) − h·dθ·v| (2: gradient confirmed, 1: wrong): " +
                     taylor_line(report.taylor) + "\n";
  for (const TensorCheck& t : report.tensors)
    if (!t.taylor.steps.empty()) text += "  " + t.name + ": " + taylor_line(t.taylor) + "\n";
  return text;
}

// A report the caller filled in by hand may hold any enum value: name the method, not verdict_name.
void check_report_enums(const char* function, const GradcheckReport& report) {
  detail::check_enum(function, "mode", report.mode);
  detail::check_enum(function, "verdict", report.verdict);
  detail::check_enum(function, "scheme", report.scheme);
  detail::check_enum(function, "agreement", report.agreement);
  detail::check_enum(function, "taylor.agreement", report.taylor.agreement);
  for (const TensorCheck& t : report.tensors) {
    detail::check_enum(function, "tensors[].taylor.agreement", t.taylor.agreement);
    detail::check_enum(function, "tensors[].verdict", t.verdict);
    detail::check_enum(function, "tensors[].agreement", t.agreement);
    detail::check_enum(function, "tensors[].fingerprint", t.fingerprint);
  }
}

}  // namespace

std::string GradcheckReport::to_text() const {
  check_report_enums("GradcheckReport::to_text", *this);
  std::ostringstream out;
  out << "gradcheck (" << gradcheck_mode_name(mode) << ", eps " << format("%.1e", eps) << "): relative error "
      << format("%.3e", relative_error) << " -> " << verdict_name(verdict) << "\n";
  out << "checked " << checked << (mode == GradcheckMode::directional ? " directions" : " of " + std::to_string(total))
      << " (coverage " << format("%.1f", 100 * coverage) << " %), " << evaluations << " evaluations of J"
      << (cancelled ? ", CANCELLED" : "") << "\n";
  out << "activations: model " << accuracy_name(model_accuracy) << ", evaluated " << accuracy_name(evaluated_accuracy)
      << "\n";
  if (mode == GradcheckMode::sampled) {
    double least_1 = 1, least_10 = 1;
    for (const TensorCheck& t : tensors) {
      least_1 = std::min(least_1, t.hit_probability_1pct);
      least_10 = std::min(least_10, t.hit_probability_10pct);
    }
    out << "sampled: an error on 1 % of a tensor's entries (placed at random) is hit with probability >= "
        << format("%.3f", least_1) << ", on 10 %: >= " << format("%.3f", least_10) << " (per tensor in JSON)\n";
  }
  if (cotangents > 0)
    out << "vector-Jacobian products: " << cotangents << " cotangents over " << outputs
        << " outputs; checked and total count (input, cotangent) pairs\n";
  out << "\n";
  char line[256];
  std::snprintf(line, sizeof line, "%-10s %9s %11s %11s %-10s %-22s %12s %12s %8s %6s\n", "tensor", "shape",
                "rel.error", "max|diff|", "verdict", "worst (layer,row,col)", "numeric", "analytic", "checked",
                "kinks");
  out << line;
  for (const TensorCheck& t : tensors) {
    char shape[48], where[80];
    std::snprintf(shape, sizeof shape, "%zux%zu", t.rows, t.cols);
    std::snprintf(where, sizeof where, "(%zu,%zu,%zu)", t.worst.layer, t.worst.row, t.worst.col);
    std::snprintf(line, sizeof line, "%-10s %9s %11.3e %11.3e %-10s %-22s %12.5e %12.5e %8zu %6zu\n",
                  t.name.c_str(), shape, t.relative_error, t.max_abs_diff,
                  std::string(verdict_name(t.verdict)).c_str(), where, t.worst.numeric, t.worst.analytic,
                  t.checked, t.kinks);
    out << line;
  }
  if (scheme != DifferenceScheme::central) {
    out << "\n" << difference_scheme_name(scheme) << " error bounds: " << agreement_name(agreement) << "\n";
    for (const TensorCheck& t : tensors)
      out << "  " << t.name << ": " << agreement_name(t.agreement) << " (" << t.agreeing << " agree, " << t.disagreeing
          << " disagree, " << t.unresolved << " unresolved; coherence " << t.coherence << ")\n";
  }
  out << taylor_text(*this);
  bool any = false;
  for (const TensorCheck& t : tensors) {
    if (t.fingerprint == Fingerprint::none) continue;
    if (!any) out << "\nlikely causes:\n";
    any = true;
    out << "  " << t.name << ": [" << fingerprint_name(t.fingerprint) << "] " << t.diagnosis << "\n";
  }
  if (!kinks.empty()) {
    std::size_t outside = 0;
    for (const GradcheckEntry& e : kinks) outside += e.in_bracket ? 0 : 1;
    out << "\n" << kinks.size() << " entries straddle a ReLU kink (" << kinks.size() - outside << " in bracket, "
        << outside << " outside): (layer,row,col) analytic in [left, right]?";
    for (std::size_t k = 0; k < kinks.size() && k < 8; ++k)
      out << "\n  (" << kinks[k].layer << "," << kinks[k].row << "," << kinks[k].col << ") "
          << format("%.6e", kinks[k].analytic) << (kinks[k].in_bracket ? " in " : " OUTSIDE ") << "["
          << format("%.6e", kinks[k].left) << ", " << format("%.6e", kinks[k].right) << "]";
    out << (kinks.size() > 8 ? "\n  ..." : "") << "\n";
  }
  return out.str();
}

std::string GradcheckReport::to_json() const {
  check_report_enums("GradcheckReport::to_json", *this);
  nlohmann::json j;
  j["relative_error"] = relative_error;
  j["verdict"] = verdict_name(verdict);
  j["mode"] = gradcheck_mode_name(mode);
  j["eps"] = eps;
  j["scheme"] = difference_scheme_name(scheme);
  if (scheme != DifferenceScheme::central) j["agreement"] = agreement_name(agreement);
  j["checked"] = checked;
  j["total"] = total;
  j["coverage"] = coverage;
  j["evaluations"] = evaluations;
  j["cancelled"] = cancelled;
  j["model_accuracy"] = accuracy_name(model_accuracy);
  j["evaluated_accuracy"] = accuracy_name(evaluated_accuracy);
  j["tensors"] = nlohmann::json::array();
  for (const TensorCheck& t : tensors) {
    nlohmann::json tj{{"name", t.name},
                      {"layer", t.layer},
                      {"offset", t.offset},
                      {"rows", t.rows},
                      {"cols", t.cols},
                      {"relative_error", t.relative_error},
                      {"verdict", verdict_name(t.verdict)},
                      {"max_abs_diff", t.max_abs_diff},
                      {"worst", entry_json(t.worst, cotangents > 0)},
                      {"checked", t.checked},
                      {"total", t.total},
                      {"kinks", t.kinks},
                      {"kinks_outside", t.kinks_outside},
                      {"fingerprint", fingerprint_name(t.fingerprint)},
                      {"fit_alpha", t.fit_alpha},
                      {"fit_beta", t.fit_beta},
                      {"diagnosis", t.diagnosis}};
    if (t.suspect_row_end > t.suspect_row_begin)
      tj["suspect_rows"] = {t.suspect_row_begin, t.suspect_row_end};
    if (scheme != DifferenceScheme::central) {
      tj["agreement"] = agreement_name(t.agreement);
      tj["agreeing"] = t.agreeing;
      tj["disagreeing"] = t.disagreeing;
      tj["unresolved"] = t.unresolved;
      tj["coherence"] = t.coherence;
    }
    if (!t.taylor.steps.empty()) tj["taylor"] = taylor_json(t.taylor);
    tj["hit_probability"] = {{"1%", t.hit_probability_1pct}, {"10%", t.hit_probability_10pct}};
    j["tensors"].push_back(std::move(tj));
  }
  j["kinks"] = nlohmann::json::array();
  for (const GradcheckEntry& e : kinks) {
    nlohmann::json kj = entry_json(e, cotangents > 0);
    kj["left"] = e.left;
    kj["right"] = e.right;
    kj["in_bracket"] = e.in_bracket;
    j["kinks"].push_back(std::move(kj));
  }
  if (!taylor.steps.empty()) j["taylor"] = taylor_json(taylor);
  if (cotangents > 0) {
    j["cotangents"] = cotangents;
    j["outputs"] = outputs;
  }
  // NaN/inf (a wrong worst entry may hold one) become null rather than invalid JSON.
  return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace mlpkit
