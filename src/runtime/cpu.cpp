// ISA detection (CPUID and XCR0), MLPKIT_ARCH and the test override.
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include "runtime/checks.hpp"
#include "runtime/dispatch.hpp"

namespace mlpkit {
namespace {

#if defined(__x86_64__) || defined(__i386__)
struct CpuidRegisters {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
};

CpuidRegisters cpuid(unsigned leaf, unsigned subleaf) {
  CpuidRegisters r;
  if (__get_cpuid_count(leaf, subleaf, &r.eax, &r.ebx, &r.ecx, &r.edx) == 0) return {};
  return r;
}

// XGETBV(0): which register states the OS saves on a context switch. Written as inline assembly
// because _xgetbv needs -mxsave, which the baseline build must not use.
unsigned long long read_xcr0() {
  unsigned eax = 0, edx = 0;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (static_cast<unsigned long long>(edx) << 32) | eax;
}

bool bit(unsigned value, int index) { return ((value >> index) & 1u) != 0; }

Isa detect() {
  const CpuidRegisters leaf1 = cpuid(1, 0);
  const bool osxsave = bit(leaf1.ecx, 27);
  if (!osxsave || !bit(leaf1.ecx, 28) /*AVX*/ || !bit(leaf1.ecx, 12) /*FMA*/) return Isa::sse2;
  const unsigned long long xcr0 = read_xcr0();
  const bool os_saves_ymm = (xcr0 & 0x6) == 0x6;      // SSE and AVX state
  const bool os_saves_zmm = (xcr0 & 0xe6) == 0xe6;    // plus opmask, ZMM_Hi256, Hi16_ZMM
  if (!os_saves_ymm) return Isa::sse2;
  const CpuidRegisters leaf7 = cpuid(7, 0);
  if (!bit(leaf7.ebx, 5) /*AVX2*/) return Isa::sse2;
  const bool avx512 = bit(leaf7.ebx, 16) /*F*/ && bit(leaf7.ebx, 17) /*DQ*/ && bit(leaf7.ebx, 28) /*CD*/ &&
                      bit(leaf7.ebx, 30) /*BW*/;
  if (avx512 && os_saves_zmm) return Isa::avx512;
  return Isa::avx2;
}
bool vendor_is_amd() {
  // Leaf 0 spells the vendor in EBX, EDX, ECX: "AuthenticAMD" (and "HygonGenuine" for Zen-based Hygon parts).
  const CpuidRegisters leaf0 = cpuid(0, 0);
  char vendor[13] = {};
  std::memcpy(vendor, &leaf0.ebx, 4);
  std::memcpy(vendor + 4, &leaf0.edx, 4);
  std::memcpy(vendor + 8, &leaf0.ecx, 4);
  return std::string_view(vendor) == "AuthenticAMD" || std::string_view(vendor) == "HygonGenuine";
}
#else
Isa detect() { return Isa::sse2; }
bool vendor_is_amd() { return false; }
#endif

// What the environment asks for, read once: either an ISA or the error every call reports.
struct Selection {
  Isa detected = Isa::sse2;
  Isa chosen = Isa::sse2;
  std::string error;
};

Selection select() {
  Selection s;
  s.detected = detect();
  s.chosen = s.detected;
  const char* env = std::getenv("MLPKIT_ARCH");
  if (env == nullptr || *env == '\0') return s;
  try {
    const Isa wanted = parse_isa(env);
    if (static_cast<int>(wanted) > static_cast<int>(s.detected)) {
      s.error = detail::concat("mlpkit: MLPKIT_ARCH=", env, " asks for an ISA this machine cannot run (best: ",
                               isa_name(s.detected), ")");
    } else {
      s.chosen = wanted;
    }
  } catch (const Error& e) {
    s.error = detail::concat("mlpkit: MLPKIT_ARCH: ", e.what());
  }
  return s;
}

const Selection& selection() {
  static const Selection s = select();  // thread-safe one-time initialization
  return s;
}

constexpr int kNoOverride = -1;
std::atomic<int> isa_override{kNoOverride};

}  // namespace

std::string_view isa_name(Isa isa) { return detail::enum_name("isa_name", "isa", isa); }

Isa parse_isa(std::string_view name) {
  if (const auto isa = detail::find_enum<Isa>(name)) return *isa;
  detail::fail("parse_isa", "unknown ISA '", name, "' (accepted: ", detail::enum_names_list<Isa>(), ")");
}

Isa detected_isa() { return selection().detected; }

std::vector<Isa> supported_isas() {
  std::vector<Isa> isas;
  for (int i = 0; i <= static_cast<int>(detected_isa()); ++i) isas.push_back(static_cast<Isa>(i));
  return isas;
}

Isa current_isa() {
  const int forced = isa_override.load(std::memory_order_relaxed);
  if (forced != kNoOverride) return static_cast<Isa>(forced);
  const Selection& s = selection();
  if (!s.error.empty()) throw Error(s.error);
  return s.chosen;
}

std::string_view active_isa() { return isa_name(current_isa()); }

namespace detail {

void set_isa_override(Isa isa) {
  if (static_cast<int>(isa) > static_cast<int>(detected_isa()))
    fail("set_isa_override", "isa ", isa_name(isa), " is not supported here (best: ", isa_name(detected_isa()), ")");
  isa_override.store(static_cast<int>(isa));
}

ScopedIsa::ScopedIsa(Isa isa) : previous_(isa_override.load()) { set_isa_override(isa); }
ScopedIsa::~ScopedIsa() { isa_override.store(previous_); }

bool cpu_is_amd() {
  static const bool amd = vendor_is_amd();
  return amd;
}
}  // namespace detail

}  // namespace mlpkit
