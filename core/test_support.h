// Helpers shared by the GoogleTest suites of core/.
#ifndef NP_TEST_SUPPORT_H
#define NP_TEST_SUPPORT_H

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <vector>

#include "npool.h"

namespace np_test {

constexpr size_t KiB = 1024;
constexpr size_t MiB = 1024 * KiB;

// An allocator destroyed with its owner.
struct Destroyer {
  void operator()(np_allocator* a) const { np_allocator_destroy(a); }
};
using AllocPtr = std::unique_ptr<np_allocator, Destroyer>;

// An allocator of cfg (a failure to make it fails the test, and gives null).
inline AllocPtr Make(const np_config& cfg) {
  np_allocator* a = nullptr;
  int rc = np_allocator_create(&cfg, &a);
  EXPECT_EQ(rc, NP_OK) << np_strerror(rc);
  return AllocPtr(rc == NP_OK ? a : nullptr);
}

// The default settings with another page size and max order.
inline np_config Cfg(size_t page = 8192, unsigned max_order = 9) {
  np_config c = np_config_default();
  c.page_size = page;
  c.max_order = max_order;
  return c;
}

// A stats snapshot (zeroed first, so a failed call shows as zeros).
inline np_stats Stats(np_allocator* a) {
  np_stats s;
  memset(&s, 0, sizeof s);
  EXPECT_EQ(np_allocator_stats(a, &s), NP_OK);
  return s;
}

// Every pooled class size, 16 B up to and including the chunk size: an
// independent model of Netty's table (4 classes per doubling, quantum 16).
inline std::vector<size_t> SizeClassTable(size_t chunk) {
  std::vector<size_t> t = {16, 32, 48, 64};
  size_t size = 64;
  for (int log2_group = 6; size < chunk; ++log2_group) {
    size_t delta = size_t(1) << (log2_group - 2);
    for (int n = 0; n < 4 && size < chunk; ++n) {
      size += delta;
      t.push_back(size);
    }
  }
  return t;
}

}  // namespace np_test

#endif
