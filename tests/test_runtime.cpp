#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <random>
#include <limits>
#include <set>
#include <string>

#include "mlpkit/mlpkit.hpp"
#include "mlpkit/version.hpp"
#include "runtime/checks.hpp"
#include "runtime/info.hpp"
#include "runtime/threads.hpp"
#include "test_support.hpp"

using namespace mlpkit;

TEST_CASE("detection reports a supported ISA and sse2 is always available") {
  const auto isas = supported_isas();
  REQUIRE(!isas.empty());
  CHECK(isas.front() == Isa::sse2);
  CHECK(isas.back() == detected_isa());
  MESSAGE("detected ISA: " << isa_name(detected_isa()));
}

TEST_CASE("the ISA override selects each supported ISA") {
  for (Isa isa : supported_isas()) {
    detail::ScopedIsa forced(isa);
    CHECK(current_isa() == isa);
    CHECK(isa_name(current_isa()) == isa_name(isa));
  }
}

TEST_CASE("set_num_threads takes effect and rejects n < 1") {
  const int before = num_threads();
  set_num_threads(3);
  CHECK(num_threads() == 3);
  set_num_threads(before);
  CHECK(num_threads() == before);
}

TEST_CASE("parallel_for visits every item once and rethrows the lowest failing item's exception") {
  test::ScopedThreads threads(3);
  std::vector<int> visits(1000, 0);
  detail::parallel_for(visits.size(), 1e6, [&](std::size_t i) { visits[i] += 1; });
  for (int v : visits) REQUIRE(v == 1);
  CHECK_THROWS_WITH(detail::parallel_for(100, 1e6,
                                         [](std::size_t i) {
                                           if (i % 10 == 7) throw std::runtime_error("item " + std::to_string(i));
                                         }),
                    "item 7");
}

TEST_CASE("parallel_for stays serial inside a parallel region and for small work") {
  test::ScopedThreads threads(2);
  CHECK(detail::threads_for(1000, 1.0) == 1);    // too little work
  CHECK(detail::threads_for(1000, 1e6) == 2);
  CHECK(detail::threads_for(1, 1e9) == 1);       // one item
  CHECK(detail::team_size() == 2);
  int inner = 0, inner_team = 0;
#pragma omp parallel num_threads(2)
  {
#pragma omp single
    {
      inner = detail::threads_for(1000, 1e6);
      inner_team = detail::team_size();
    }
  }
  CHECK(inner == 1);  // no nesting
  CHECK(inner_team == 1);
}

TEST_CASE("parallel_for uses one team size, so the OpenMP runtime keeps its threads between regions") {
  // libgomp ends the surplus threads of a shrinking team and starts new ones when it grows: regions
  // of 2 items after regions of many would start threads every call. Any parallel region is the
  // whole team, whatever its items and work.
  test::ScopedThreads threads(3);
  CHECK(detail::threads_for(2, 1e6) == 3);
  CHECK(detail::threads_for(1000, 1e6) == 3);
  CHECK(detail::threads_for(2, 2.0 * detail::kMinWorkPerThread) == 3);
  std::set<int> teams;
  for (std::size_t items : {2, 3, 1000}) {
    detail::parallel_for(items, 1e6, [&](std::size_t i) {
      if (i == 0) teams.insert(omp_get_num_threads());
    });
  }
  CHECK(teams == std::set<int>{3});
}

TEST_CASE("AlignedVector storage is 64-byte aligned at every size and survives growth") {
  for (std::size_t n : {1, 3, 17, 1000}) {
    detail::AlignedVector<float> v(n, 1.5F);
    CHECK(reinterpret_cast<std::uintptr_t>(v.data()) % 64 == 0);
    v.resize(3 * n + 1, 2.5F);
    CHECK(reinterpret_cast<std::uintptr_t>(v.data()) % 64 == 0);
    CHECK(v[n - 1] == 1.5F);
    CHECK(v.back() == 2.5F);
  }
}

TEST_CASE("Matrix is 64-byte aligned with a padded leading dimension and zero-filled") {
  Matrix<float> a(3, 5);
  CHECK(a.rows() == 3);
  CHECK(a.cols() == 5);
  CHECK(a.ld() == 16);
  CHECK(reinterpret_cast<std::uintptr_t>(a.data()) % 64 == 0);
  for (std::size_t i = 0; i < a.storage_size(); ++i) REQUIRE(a.data()[i] == 0.0F);
  Matrix<double> b(2, 9);
  CHECK(b.ld() == 16);
  a(2, 4) = 7.0F;
  Matrix<float> c = a;
  CHECK(c(2, 4) == 7.0F);
  CHECK(c.data() != a.data());
  MatrixView<const float> v = c.view();
  CHECK(v(2, 4) == 7.0F);
  Matrix<float> empty(0, 0);
  CHECK(empty.data() == nullptr);
}

TEST_CASE("a Matrix of 8 MiB or more lies on 2 MiB boundaries (huge pages) and is zero-filled and usable") {
  // Just below and above the threshold, and a size that is no multiple of 2 MiB.
  for (std::size_t rows : {std::size_t{2047}, std::size_t{2048}, std::size_t{3001}}) {
    CAPTURE(rows);
    Matrix<float> a(rows, 1024);
    const auto address = reinterpret_cast<std::uintptr_t>(a.data());
    CHECK(address % 64 == 0);
    if (a.storage_size() * sizeof(float) >= (std::size_t{8} << 20)) CHECK(address % (std::size_t{2} << 20) == 0);
    for (std::size_t i = 0; i < a.storage_size(); i += 4093) REQUIRE(a.data()[i] == 0.0F);
    a(rows - 1, 1023) = 3.0F;  // the last element is inside the allocation (ASan checks it)
    CHECK(a(rows - 1, 1023) == 3.0F);
  }
}

TEST_CASE("cache_info and version answer") {
  const CacheInfo info = cache_info();
  CHECK(info.line >= 32);
  MESSAGE("L1d " << info.l1d << " L2 " << info.l2 << " L3 " << info.l3 << " shared by " << info.l3_cpus << " CPUs");
  // The CPUs sharing the L3 come from the same sysfs entry as its size, and are CPUs this machine has.
  if (info.l3_cpus != 0) {
    CHECK(info.l3 != 0);
    CHECK(info.l3_cpus <= static_cast<std::size_t>(::sysconf(_SC_NPROCESSORS_CONF)));
  }
  CHECK(version() == MLPKIT_VERSION_STRING);
}

TEST_CASE("cpu_list_count reads the CPU lists of sysfs (the CPUs sharing a cache)") {
  CHECK(detail::cpu_list_count("0") == 1);
  CHECK(detail::cpu_list_count("3") == 1);
  CHECK(detail::cpu_list_count("0-1") == 2);
  CHECK(detail::cpu_list_count("0-15,32-47") == 32);
  CHECK(detail::cpu_list_count("0,2,4-7") == 6);
  CHECK(detail::cpu_list_count("12-12") == 1);
  for (const char* malformed : {"", ",", "0-", "-3", "3-1", "a", "0-1,,4", "1 2", "0x3"}) {
    INFO(malformed);
    CHECK(detail::cpu_list_count(malformed) == 0);
  }
}

TEST_CASE("views_overlap is exact: it agrees with a byte-by-byte comparison on random strided views") {
  // Views into one buffer with random offsets, shapes and leading dimensions (column slices whose
  // spans interleave included); the check must say "overlap" exactly when some byte is in both.
  std::vector<float> buffer(512);
  std::mt19937 random(7);
  const auto draw = [&](std::size_t hi) { return std::uniform_int_distribution<std::size_t>(0, hi)(random); };
  const auto random_view = [&] {
    const std::size_t rows = draw(6), cols = draw(6), ld = cols + draw(6);
    const std::size_t offset = draw(64);
    return MatrixView<const float>{buffer.data() + offset, rows, cols, ld};
  };
  const auto covered = [&](const MatrixView<const float>& v) {
    std::vector<bool> in(buffer.size(), false);
    for (std::size_t i = 0; i < v.rows; ++i)
      for (std::size_t j = 0; j < v.cols; ++j) in[static_cast<std::size_t>(v.data - buffer.data()) + i * v.ld + j] = true;
    return in;
  };
  std::size_t overlapping = 0, interleaved = 0;
  for (int trial = 0; trial < 20000; ++trial) {
    const MatrixView<const float> a = random_view(), b = random_view();
    const std::vector<bool> in_a = covered(a), in_b = covered(b);
    bool expected = false;
    for (std::size_t k = 0; k < buffer.size(); ++k) expected = expected || (in_a[k] && in_b[k]);
    INFO("a at " << a.data - buffer.data() << " " << a.rows << "×" << a.cols << " ld " << a.ld << ", b at "
                 << b.data - buffer.data() << " " << b.rows << "×" << b.cols << " ld " << b.ld);
    REQUIRE(detail::views_overlap(a, b) == expected);
    REQUIRE(detail::views_overlap(b, a) == expected);
    overlapping += expected;
    interleaved += !expected && detail::view_span_bytes(a) != 0 && detail::view_span_bytes(b) != 0 &&
                   a.data < b.data + (detail::view_span_bytes(b) / sizeof(float)) &&
                   b.data < a.data + (detail::view_span_bytes(a) / sizeof(float));
  }
  // Both answers, and the case a span test gets wrong, were exercised.
  CHECK(overlapping > 1000);
  CHECK(interleaved > 100);
}
