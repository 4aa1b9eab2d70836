// The GEMM configuration table (gemm_config.hpp): every row is a valid blocking, gemm_config picks
// the row of each (ISA, vendor), and the kernels of every ISA run with the row of this CPU.
#include <cstddef>
#include <string>

#include "kernels/gemm/gemm_config.hpp"
#include "kernels/gemm/gemm_kernels.hpp"
#include "mlpkit/mlpkit.hpp"
#include "test_support.hpp"

using namespace mlpkit;
using detail::CpuVendor;
using detail::gemm_config;
using detail::GemmBlocking;
using detail::gemm_configs;

namespace {

template <class T>
void check_valid(const GemmBlocking& b) {
  CHECK(b.mr > 0);
  CHECK(b.nr > 0);
  CHECK(b.narrow_nr > 0);
  CHECK(b.kc > 0);
  CHECK(b.mc > 0);
  CHECK(b.nc > 0);
  // The tile divides the blocks, and the narrow tile the wide one.
  CHECK(b.mc % b.mr == 0);
  CHECK(b.nc % b.nr == 0);
  CHECK(b.nr % b.narrow_nr == 0);
  // One vector: 16, 32 or 64 bytes.
  const std::size_t vector_bytes = b.narrow_nr * sizeof(T);
  CHECK((vector_bytes == 16 || vector_bytes == 32 || vector_bytes == 64));
  CHECK(b.direct_max_m >= b.mr);
  CHECK(b.direct_max_n >= b.nr);
  CHECK(b.direct_max_k >= b.kc);
  CHECK(b.direct_in_place_max_m <= b.direct_max_m);
  CHECK(b.skinny_max > 0);
  CHECK(b.skinny_axpy_max >= b.skinny_max);
  CHECK(b.skinny_axpy_max <= detail::SkinnyProblem<T>::max_short);
  CHECK(b.skinny_axpy_min_work <= b.small_max_work);
}

}  // namespace

TEST_CASE("every row of the GEMM configuration table is a valid blocking") {
  for (const detail::GemmConfig& row : gemm_configs()) {
    const std::string isa(isa_name(row.isa));
    CAPTURE(isa);
    CHECK(!row.reason.empty());
    check_valid<float>(row.f32);
    check_valid<double>(row.f64);
    // The micro-kernel is compiled once per ISA: all rows of an ISA share its tile.
    const GemmBlocking f32 = gemm_config(row.isa, CpuVendor::any).f32;
    const GemmBlocking f64 = gemm_config(row.isa, CpuVendor::any).f64;
    CHECK(row.f32.mr == f32.mr);
    CHECK(row.f32.nr == f32.nr);
    CHECK(row.f32.narrow_nr == f32.narrow_nr);
    CHECK(row.f64.mr == f64.mr);
    CHECK(row.f64.nr == f64.nr);
    CHECK(row.f64.narrow_nr == f64.narrow_nr);
    // float and double run on the same registers: a tile of the same rows and vectors.
    CHECK(row.f32.mr == row.f64.mr);
    CHECK(row.f32.nr == 2 * row.f64.nr);
    CHECK(row.f32.narrow_nr == 2 * row.f64.narrow_nr);
  }
}

TEST_CASE("gemm_config picks the row of each ISA and vendor") {
  const auto index = [](Isa isa, CpuVendor vendor) {
    const auto rows = gemm_configs();
    for (std::size_t i = 0; i < rows.size(); ++i)
      if (rows[i] == gemm_config(isa, vendor)) return int(i);
    return -1;
  };
  CHECK(index(Isa::avx512, CpuVendor::amd) == 0);
  CHECK(index(Isa::avx512, CpuVendor::any) == 1);
  CHECK(index(Isa::avx2, CpuVendor::amd) == 2);
  CHECK(index(Isa::avx2, CpuVendor::any) == 2);
  CHECK(index(Isa::sse2, CpuVendor::amd) == 3);
  CHECK(index(Isa::sse2, CpuVendor::any) == 3);
  for (Isa isa : {Isa::sse2, Isa::avx2, Isa::avx512})
    for (CpuVendor vendor : {CpuVendor::any, CpuVendor::amd}) {
      const detail::GemmConfig row = gemm_config(isa, vendor);
      CHECK(row.isa == isa);
      CHECK((row.vendor == vendor || row.vendor == CpuVendor::any));
    }
  // What tells the two avx512 rows apart: AMD reads B in place on the whole direct path; the
  // other vendors pack B past 32 rows, stop the direct path at 256 columns, and block double's A
  // in 48 rows.
  const detail::GemmConfig amd = gemm_config(Isa::avx512, CpuVendor::amd),
                           other = gemm_config(Isa::avx512, CpuVendor::any);
  CHECK(amd.f32.direct_in_place_max_m == amd.f32.direct_max_m);
  CHECK(other.f32.direct_in_place_max_m == 32);
  CHECK(amd.f32.direct_max_n == detail::kGemmNoLimit);
  CHECK(other.f32.direct_max_n == 256);
  CHECK(amd.f64.mc == 192);
  CHECK(other.f64.mc == 48);
}

TEST_CASE_TEMPLATE("the GEMM kernels of every ISA run with this CPU's row of the table", T, float, double) {
  test::for_each_isa([&](Isa isa) {
    const detail::GemmKernels<T>& kernels = detail::active_gemm_kernels<T>();
    const GemmBlocking row = gemm_config(isa, detail::cpu_vendor()).template blocking<T>();
    CHECK(kernels.blocking == row);
    // A small kernel exists exactly where the row gives it work (AVX-512).
    CHECK((kernels.small_kernel != nullptr) == (row.small_max_work > 0));
  });
}
