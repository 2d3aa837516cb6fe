// Helpers shared by the GoogleTest suites of core/.
#ifndef NP_TEST_SUPPORT_H
#define NP_TEST_SUPPORT_H

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "npool.h"

namespace np_test {

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
