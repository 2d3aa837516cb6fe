// Pooled buffers (npool_buf.h) on one thread: every function, both byte
// orders, views sharing memory and count, the growth policy and growth in
// place, recycling of buffer objects, and every error case, each checked to
// change nothing (indices, count, the bytes of the buffer and of the pool).
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include <functional>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "npool.h"
#include "npool_buf.h"
#include "core/test_support.h"

// The recycler's private allocator (hidden; tests link statically).
extern "C" np_allocator* np_recycler_allocator(void);

namespace {

using np_test::Stats;

constexpr size_t KiB = 1024;
constexpr size_t MiB = 1024 * KiB;

struct Destroyer {
  void operator()(np_allocator* a) const { np_allocator_destroy(a); }
};
using AllocPtr = std::unique_ptr<np_allocator, Destroyer>;

AllocPtr Make() {
  np_config cfg = np_config_default();
  np_allocator* a = nullptr;
  int rc = np_allocator_create(&cfg, &a);
  EXPECT_EQ(rc, NP_OK) << np_strerror(rc);
  return AllocPtr(a);
}

size_t Cap(const np_buf* b) {
  size_t v = 0;
  EXPECT_EQ(np_buf_capacity(b, &v), NP_OK);
  return v;
}
size_t MaxCap(const np_buf* b) {
  size_t v = 0;
  EXPECT_EQ(np_buf_max_capacity(b, &v), NP_OK);
  return v;
}
size_t Reader(const np_buf* b) {
  size_t v = 0;
  EXPECT_EQ(np_buf_reader_index(b, &v), NP_OK);
  return v;
}
size_t Writer(const np_buf* b) {
  size_t v = 0;
  EXPECT_EQ(np_buf_writer_index(b, &v), NP_OK);
  return v;
}
size_t Readable(const np_buf* b) {
  size_t v = 0;
  EXPECT_EQ(np_buf_readable_bytes(b, &v), NP_OK);
  return v;
}
size_t Writable(const np_buf* b) {
  size_t v = 0;
  EXPECT_EQ(np_buf_writable_bytes(b, &v), NP_OK);
  return v;
}
uint32_t RefCnt(const np_buf* b) {
  uint32_t v = 12345;
  EXPECT_EQ(np_buf_refcnt(b, &v), NP_OK);
  return v;
}
// The buffer's whole capacity, byte by byte.
std::string Bytes(const np_buf* b) {
  std::string s(Cap(b), '\0');
  EXPECT_EQ(np_buf_get_bytes(b, 0, &s[0], s.size()), NP_OK);
  return s;
}
// Where the writable bytes start (the block's address plus the writer index).
char* WritePtr(np_buf* b) {
  struct iovec iov[1];
  int n = -1;
  EXPECT_EQ(np_buf_writable_iov(b, 0, iov, 1, &n), NP_OK);
  return n ? static_cast<char*>(iov[0].iov_base) : nullptr;
}

// Everything observable about a buffer: a failed call must leave it equal.
struct Snapshot {
  size_t cap, max, reader, writer;
  uint32_t refcnt;
  std::string bytes;
  bool operator==(const Snapshot& o) const {
    return cap == o.cap && max == o.max && reader == o.reader && writer == o.writer &&
           refcnt == o.refcnt && bytes == o.bytes;
  }
};
Snapshot Snap(const np_buf* b) { return {Cap(b), MaxCap(b), Reader(b), Writer(b), RefCnt(b), Bytes(b)}; }

class BufferTest : public ::testing::Test {
 protected:
  void SetUp() override { a_ = Make(); }
  void TearDown() override {
    for (np_buf* b : live_) {
      uint32_t n = RefCnt(b);
      if (n) EXPECT_EQ(np_buf_release_n(b, n), NP_OK);
    }
    np_thread_cache_flush(a_.get());
    np_stats s = Stats(a_.get());
    EXPECT_EQ(s.small.active + s.normal.active + s.huge.active, 0u) << "a buffer's memory leaked";
  }
  // A buffer released (if still live) at the end of the test.
  np_buf* New(size_t initial, size_t max = NP_BUF_DEFAULT_MAX_CAPACITY) {
    np_buf* b = np_buf_alloc(a_.get(), initial, max);
    EXPECT_NE(b, nullptr) << strerror(errno);
    live_.push_back(b);
    return b;
  }
  // A buffer holding bytes 0, 1, 2, ... n-1 (capacity n).
  np_buf* Counting(size_t n, size_t max = NP_BUF_DEFAULT_MAX_CAPACITY) {
    np_buf* b = New(n, max);
    for (size_t i = 0; i < n; i++) EXPECT_EQ(np_buf_write_u8(b, uint8_t(i)), NP_OK);
    return b;
  }
  AllocPtr a_;
  std::vector<np_buf*> live_;
};

// ---- The seed document's test ------------------------------------------------------

TEST(BufferSeed, WriteIntReadBackReleaseTwiceSameObjectThenUseAfterRelease) {
  np_allocator* a = np_default_allocator();
  ASSERT_NE(a, nullptr);
  np_buf* first = nullptr;
  for (int round = 0; round < 2; round++) {
    np_buf* b = np_buf_alloc(a, 256, NP_BUF_DEFAULT_MAX_CAPACITY);
    ASSERT_NE(b, nullptr);
    ASSERT_EQ(np_buf_write_u32(b, 10), NP_OK);
    uint32_t v = 0;
    ASSERT_EQ(np_buf_read_u32(b, &v), NP_OK);
    EXPECT_EQ(v, 10u);
    ASSERT_EQ(np_buf_release(b), NP_OK);
    if (round == 0) first = b;
    else EXPECT_EQ(b, first) << "the released buffer object was not recycled";
  }
  EXPECT_EQ(np_buf_write_u32(first, 10), NP_ERR_REFCNT);
  EXPECT_STRNE(np_strerror(NP_ERR_REFCNT), np_strerror(NP_ERR__COUNT));
}

TEST(BufferDefault, OneAllocatorForTheProcessFromEveryThread) {
  np_allocator* mine = np_default_allocator();
  ASSERT_NE(mine, nullptr);
  std::vector<np_allocator*> seen(4);
  std::vector<std::thread> ts;
  for (int i = 0; i < 4; i++) ts.emplace_back([&seen, i] { seen[i] = np_default_allocator(); });
  for (auto& t : ts) t.join();
  for (np_allocator* a : seen) EXPECT_EQ(a, mine);
  // It is an ordinary allocator: a buffer's memory is one of its blocks.
  np_buf* b = np_buf_alloc(mine, 100, 100);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(np_usable_size(mine, WritePtr(b)), 112u);
  EXPECT_EQ(np_buf_release(b), NP_OK);
}

TEST(BufferErrors, MessagesForTheBufferCodes) {
  for (int code : {NP_ERR_REFCNT, NP_ERR_INDEX, NP_ERR_MAX_CAPACITY}) {
    std::string msg = np_strerror(code);
    EXPECT_NE(msg, "unknown npool error code") << code;
    EXPECT_NE(msg.find("buffer"), std::string::npos) << msg;
  }
}

// ---- Allocation ---------------------------------------------------------------------

TEST_F(BufferTest, NewBufferState) {
  np_buf* b = New(100, 1000);
  EXPECT_EQ(Cap(b), 100u);
  EXPECT_EQ(MaxCap(b), 1000u);
  EXPECT_EQ(Reader(b), 0u);
  EXPECT_EQ(Writer(b), 0u);
  EXPECT_EQ(Readable(b), 0u);
  EXPECT_EQ(Writable(b), 100u);
  EXPECT_EQ(RefCnt(b), 1u);
  // Its memory is a block of the allocator, of the class the capacity rounds to.
  EXPECT_EQ(np_usable_size(a_.get(), WritePtr(b)), 112u);
  EXPECT_EQ(Stats(a_.get()).small.active, 1u);
}

TEST_F(BufferTest, ZeroCapacityBufferGrowsOnWrite) {
  np_buf* b = New(0);
  EXPECT_EQ(Cap(b), 0u);
  EXPECT_EQ(Writable(b), 0u);
  ASSERT_EQ(np_buf_write_u8(b, 7), NP_OK);
  EXPECT_EQ(Cap(b), 16u);  // the smallest block, taken in place
  uint8_t v;
  ASSERT_EQ(np_buf_read_u8(b, &v), NP_OK);
  EXPECT_EQ(v, 7);
}

TEST_F(BufferTest, AllocRejectsBadArguments) {
  errno = 0;
  EXPECT_EQ(np_buf_alloc(nullptr, 1, 1), nullptr);
  EXPECT_EQ(errno, EINVAL);
  errno = 0;
  EXPECT_EQ(np_buf_alloc(a_.get(), 11, 10), nullptr);
  EXPECT_EQ(errno, EINVAL);
  errno = 0;
  EXPECT_EQ(np_buf_alloc(a_.get(), size_t(-1), size_t(-1)), nullptr);  // a negative int
  EXPECT_EQ(errno, EINVAL);
  errno = 0;
  EXPECT_EQ(np_buf_alloc(a_.get(), size_t(1) << 60, size_t(1) << 60), nullptr);  // no such memory
  EXPECT_EQ(errno, ENOMEM);
  np_stats s = Stats(a_.get());
  EXPECT_EQ(s.small.active + s.normal.active + s.huge.active, 0u);
}

// ---- Reference count ---------------------------------------------------------------------

TEST_F(BufferTest, RetainReleaseCount) {
  np_buf* b = New(16);
  EXPECT_EQ(np_buf_retain(b), NP_OK);
  EXPECT_EQ(RefCnt(b), 2u);
  EXPECT_EQ(np_buf_retain_n(b, 5), NP_OK);
  EXPECT_EQ(RefCnt(b), 7u);
  EXPECT_EQ(np_buf_release_n(b, 3), NP_OK);
  EXPECT_EQ(RefCnt(b), 4u);
  EXPECT_EQ(np_buf_release(b), NP_OK);
  EXPECT_EQ(RefCnt(b), 3u);
  EXPECT_EQ(Stats(a_.get()).small.active, 1u);
  EXPECT_EQ(np_buf_release_n(b, 3), NP_OK);  // to 0: freed
  EXPECT_EQ(RefCnt(b), 0u);
  np_thread_cache_flush(a_.get());
  EXPECT_EQ(Stats(a_.get()).small.active, 0u);
}

TEST_F(BufferTest, CountErrorsChangeNothing) {
  np_buf* b = New(16);
  ASSERT_EQ(np_buf_retain(b), NP_OK);  // 2
  EXPECT_EQ(np_buf_release_n(b, 3), NP_ERR_REFCNT);  // below 0
  EXPECT_EQ(RefCnt(b), 2u);
  EXPECT_EQ(np_buf_release_n(b, uint32_t(-1)), NP_ERR_REFCNT);  // a negative count
  EXPECT_EQ(np_buf_release_n(b, 0), NP_ERR_REFCNT);
  EXPECT_EQ(np_buf_retain_n(b, 0), NP_ERR_REFCNT);
  EXPECT_EQ(np_buf_retain_n(b, UINT32_MAX - 1), NP_ERR_REFCNT);  // overflow
  EXPECT_EQ(RefCnt(b), 2u);
  EXPECT_EQ(np_buf_retain_n(b, UINT32_MAX - 2), NP_OK);  // exactly the maximum
  EXPECT_EQ(RefCnt(b), UINT32_MAX);
  EXPECT_EQ(np_buf_retain(b), NP_ERR_REFCNT);
  EXPECT_EQ(np_buf_release_n(b, UINT32_MAX - 1), NP_OK);
  EXPECT_EQ(RefCnt(b), 1u);
}

TEST_F(BufferTest, NullBuffer) {
  uint32_t v = 5;
  size_t z = 5;
  EXPECT_EQ(np_buf_release(nullptr), NP_ERR_NULL_ARGUMENT);
  EXPECT_EQ(np_buf_retain(nullptr), NP_ERR_NULL_ARGUMENT);
  EXPECT_EQ(np_buf_refcnt(nullptr, &v), NP_ERR_NULL_ARGUMENT);
  EXPECT_EQ(np_buf_capacity(nullptr, &z), NP_ERR_NULL_ARGUMENT);
  EXPECT_EQ(np_buf_write_u32(nullptr, 1), NP_ERR_NULL_ARGUMENT);
  EXPECT_EQ(np_buf_read_u32(nullptr, &v), NP_ERR_NULL_ARGUMENT);
  EXPECT_EQ(v, 5u);
  EXPECT_EQ(z, 5u);
  np_buf* b = New(16);
  EXPECT_EQ(np_buf_refcnt(b, nullptr), NP_ERR_NULL_ARGUMENT);
  EXPECT_EQ(np_buf_capacity(b, nullptr), NP_ERR_NULL_ARGUMENT);
  EXPECT_EQ(np_buf_get_u32(b, 0, nullptr), NP_ERR_NULL_ARGUMENT);
  EXPECT_EQ(np_buf_read_u8(b, nullptr), NP_ERR_NULL_ARGUMENT);
  EXPECT_EQ(np_buf_write_bytes(b, nullptr, 1), NP_ERR_NULL_ARGUMENT);
  EXPECT_EQ(np_buf_write_bytes(b, nullptr, 0), NP_OK);
  EXPECT_EQ(np_buf_read_bytes(b, nullptr, 0), NP_OK);
  EXPECT_EQ(np_buf_get_bytes(b, 0, nullptr, 0), NP_OK);
  EXPECT_EQ(np_buf_set_bytes(b, 0, nullptr, 0), NP_OK);
  EXPECT_EQ(np_buf_slice(b, 0, 1, nullptr), NP_ERR_NULL_ARGUMENT);
  EXPECT_EQ(np_buf_duplicate(b, nullptr), NP_ERR_NULL_ARGUMENT);
  EXPECT_EQ(np_buf_calculate_new_capacity(1, 1, nullptr), NP_ERR_NULL_ARGUMENT);
  EXPECT_EQ(Writer(b), 0u);
}

// Every call on a released buffer is refused; the memory it had (back in
// the pool, perhaps already another block) is not touched.
TEST_F(BufferTest, EveryOperationAfterReleaseIsRefused) {
  np_buf* b = np_buf_alloc(a_.get(), 64, 64);
  ASSERT_NE(b, nullptr);
  ASSERT_EQ(np_buf_write_u64(b, 1), NP_OK);
  np_buf* s = nullptr;
  np_buf* d = nullptr;
  ASSERT_EQ(np_buf_slice(b, 0, 8, &s), NP_OK);
  ASSERT_EQ(np_buf_duplicate(b, &d), NP_OK);
  char* mem = WritePtr(b) - 8;
  ASSERT_EQ(np_buf_release(b), NP_OK);
  // Its block is back in the pool: take it again (the cache hands it out
  // first; with per-CPU caches it may take a few) and fill it.
  std::vector<void*> others;
  char* p = nullptr;
  for (int i = 0; i < 10000 && p != mem; i++) {
    if (p) others.push_back(p);
    p = static_cast<char*>(np_alloc(a_.get(), 64));
    ASSERT_NE(p, nullptr);
  }
  for (void* o : others) ASSERT_EQ(np_free(a_.get(), o), NP_OK);
  memset(p, 0x5a, 64);

  uint8_t u8 = 9;
  uint16_t u16 = 9;
  uint32_t u32 = 9;
  uint64_t u64 = 9;
  float f = 9;
  double dd = 9;
  size_t z = 9;
  char bytes[8] = {9, 9, 9, 9, 9, 9, 9, 9};
  struct iovec iov[1] = {{nullptr, 9}};
  int cnt = 9;
  np_buf* out = nullptr;
  for (np_buf* x : {b, s, d}) {
    std::vector<std::function<int()>> calls = {
        [&] { return np_buf_retain(x); },
        [&] { return np_buf_retain_n(x, 2); },
        [&] { return np_buf_release(x); },
        [&] { return np_buf_release_n(x, 1); },
        [&] { return np_buf_touch(x, "hint"); },
        [&] { return np_buf_capacity(x, &z); },
        [&] { return np_buf_max_capacity(x, &z); },
        [&] { return np_buf_reader_index(x, &z); },
        [&] { return np_buf_writer_index(x, &z); },
        [&] { return np_buf_readable_bytes(x, &z); },
        [&] { return np_buf_writable_bytes(x, &z); },
        [&] { return np_buf_set_reader_index(x, 0); },
        [&] { return np_buf_set_writer_index(x, 0); },
        [&] { return np_buf_set_index(x, 0, 0); },
        [&] { return np_buf_clear(x); },
        [&] { return np_buf_discard_read_bytes(x); },
        [&] { return np_buf_ensure_writable(x, 1); },
        [&] { return np_buf_get_u8(x, 0, &u8); },
        [&] { return np_buf_get_u16(x, 0, &u16); },
        [&] { return np_buf_get_u16_le(x, 0, &u16); },
        [&] { return np_buf_get_u32(x, 0, &u32); },
        [&] { return np_buf_get_u32_le(x, 0, &u32); },
        [&] { return np_buf_get_u64(x, 0, &u64); },
        [&] { return np_buf_get_u64_le(x, 0, &u64); },
        [&] { return np_buf_get_float(x, 0, &f); },
        [&] { return np_buf_get_float_le(x, 0, &f); },
        [&] { return np_buf_get_double(x, 0, &dd); },
        [&] { return np_buf_get_double_le(x, 0, &dd); },
        [&] { return np_buf_set_u8(x, 0, 1); },
        [&] { return np_buf_set_u16(x, 0, 1); },
        [&] { return np_buf_set_u16_le(x, 0, 1); },
        [&] { return np_buf_set_u32(x, 0, 1); },
        [&] { return np_buf_set_u32_le(x, 0, 1); },
        [&] { return np_buf_set_u64(x, 0, 1); },
        [&] { return np_buf_set_u64_le(x, 0, 1); },
        [&] { return np_buf_set_float(x, 0, 1); },
        [&] { return np_buf_set_float_le(x, 0, 1); },
        [&] { return np_buf_set_double(x, 0, 1); },
        [&] { return np_buf_set_double_le(x, 0, 1); },
        [&] { return np_buf_read_u8(x, &u8); },
        [&] { return np_buf_read_u16(x, &u16); },
        [&] { return np_buf_read_u16_le(x, &u16); },
        [&] { return np_buf_read_u32(x, &u32); },
        [&] { return np_buf_read_u32_le(x, &u32); },
        [&] { return np_buf_read_u64(x, &u64); },
        [&] { return np_buf_read_u64_le(x, &u64); },
        [&] { return np_buf_read_float(x, &f); },
        [&] { return np_buf_read_float_le(x, &f); },
        [&] { return np_buf_read_double(x, &dd); },
        [&] { return np_buf_read_double_le(x, &dd); },
        [&] { return np_buf_write_u8(x, 1); },
        [&] { return np_buf_write_u16(x, 1); },
        [&] { return np_buf_write_u16_le(x, 1); },
        [&] { return np_buf_write_u32(x, 1); },
        [&] { return np_buf_write_u32_le(x, 1); },
        [&] { return np_buf_write_u64(x, 1); },
        [&] { return np_buf_write_u64_le(x, 1); },
        [&] { return np_buf_write_float(x, 1); },
        [&] { return np_buf_write_float_le(x, 1); },
        [&] { return np_buf_write_double(x, 1); },
        [&] { return np_buf_write_double_le(x, 1); },
        [&] { return np_buf_get_bytes(x, 0, bytes, 8); },
        [&] { return np_buf_set_bytes(x, 0, bytes, 8); },
        [&] { return np_buf_read_bytes(x, bytes, 8); },
        [&] { return np_buf_write_bytes(x, bytes, 8); },
        [&] { return np_buf_slice(x, 0, 1, &out); },
        [&] { return np_buf_slice_readable(x, &out); },
        [&] { return np_buf_read_slice(x, 1, &out); },
        [&] { return np_buf_duplicate(x, &out); },
        [&] { return np_buf_readable_iov(x, iov, 1, &cnt); },
        [&] { return np_buf_writable_iov(x, 1, iov, 1, &cnt); },
        [&] { return np_buf_advance_reader(x, 0); },
        [&] { return np_buf_advance_writer(x, 0); },
    };
    for (size_t i = 0; i < calls.size(); i++) EXPECT_EQ(calls[i](), NP_ERR_REFCNT) << "call " << i;
    uint32_t n = 7;
    EXPECT_EQ(np_buf_refcnt(x, &n), NP_OK);
    EXPECT_EQ(n, 0u);
  }
  // Nothing was written anywhere: the out-parameters and the reused block.
  EXPECT_EQ(u8 + u16 + u32 + u64, 36u);
  EXPECT_EQ(f, 9.0f);
  EXPECT_EQ(dd, 9.0);
  EXPECT_EQ(z, 9u);
  EXPECT_EQ(bytes[0], 9);
  EXPECT_EQ(iov[0].iov_len, 9u);
  EXPECT_EQ(cnt, 9);
  EXPECT_EQ(out, nullptr);
  for (int i = 0; i < 64; i++) ASSERT_EQ(static_cast<unsigned char>(p[i]), 0x5a) << i;
  np_stats st = Stats(a_.get());
  EXPECT_EQ(st.small.active, 1u);  // p only
  EXPECT_EQ(st.invalid_frees, 0u);
  EXPECT_EQ(np_free(a_.get(), p), NP_OK);
}

// ---- Indices -------------------------------------------------------------------------

TEST_F(BufferTest, ReaderAndWriterIndex) {
  np_buf* b = Counting(10);
  EXPECT_EQ(np_buf_set_reader_index(b, 4), NP_OK);
  EXPECT_EQ(Readable(b), 6u);
  EXPECT_EQ(np_buf_set_reader_index(b, 11), NP_ERR_INDEX);  // past the writer
  EXPECT_EQ(np_buf_set_writer_index(b, 3), NP_ERR_INDEX);   // below the reader
  EXPECT_EQ(np_buf_set_writer_index(b, 11), NP_ERR_INDEX);  // past the capacity
  EXPECT_EQ(np_buf_set_writer_index(b, size_t(-1)), NP_ERR_INDEX);
  EXPECT_EQ(Reader(b), 4u);
  EXPECT_EQ(Writer(b), 10u);
  EXPECT_EQ(np_buf_set_writer_index(b, 4), NP_OK);
  EXPECT_EQ(Readable(b), 0u);
  EXPECT_EQ(Writable(b), 6u);
  EXPECT_EQ(np_buf_set_index(b, 2, 8), NP_OK);
  EXPECT_EQ(np_buf_set_index(b, 9, 8), NP_ERR_INDEX);
  EXPECT_EQ(np_buf_set_index(b, 0, 11), NP_ERR_INDEX);
  EXPECT_EQ(Reader(b), 2u);
  EXPECT_EQ(Writer(b), 8u);
  EXPECT_EQ(np_buf_advance_reader(b, 7), NP_ERR_INDEX);
  EXPECT_EQ(np_buf_advance_reader(b, size_t(-1)), NP_ERR_INDEX);
  EXPECT_EQ(np_buf_advance_reader(b, 6), NP_OK);
  EXPECT_EQ(np_buf_advance_writer(b, 3), NP_ERR_INDEX);  // 2 writable, no growth
  EXPECT_EQ(np_buf_advance_writer(b, size_t(-1)), NP_ERR_INDEX);
  EXPECT_EQ(np_buf_advance_writer(b, 2), NP_OK);
  EXPECT_EQ(Writer(b), 10u);
  EXPECT_EQ(np_buf_clear(b), NP_OK);
  EXPECT_EQ(Reader(b), 0u);
  EXPECT_EQ(Writer(b), 0u);
  uint8_t v;
  EXPECT_EQ(np_buf_get_u8(b, 9, &v), NP_OK);  // clear keeps the bytes
  EXPECT_EQ(v, 9);
}

TEST_F(BufferTest, DiscardReadBytes) {
  np_buf* b = Counting(10);
  ASSERT_EQ(np_buf_set_reader_index(b, 3), NP_OK);
  ASSERT_EQ(np_buf_discard_read_bytes(b), NP_OK);
  EXPECT_EQ(Reader(b), 0u);
  EXPECT_EQ(Writer(b), 7u);
  EXPECT_EQ(Writable(b), 3u);
  for (size_t i = 0; i < 7; i++) {
    uint8_t v;
    ASSERT_EQ(np_buf_get_u8(b, i, &v), NP_OK);
    EXPECT_EQ(v, i + 3);
  }
  ASSERT_EQ(np_buf_set_reader_index(b, 7), NP_OK);  // all read
  ASSERT_EQ(np_buf_discard_read_bytes(b), NP_OK);
  EXPECT_EQ(Reader(b), 0u);
  EXPECT_EQ(Writer(b), 0u);
  ASSERT_EQ(np_buf_discard_read_bytes(b), NP_OK);  // nothing to discard
  EXPECT_EQ(Writer(b), 0u);
}

// ---- Integers, floats, byte order -------------------------------------------------------

TEST_F(BufferTest, WriteBothByteOrdersExactBytes) {
  np_buf* b = New(64);
  ASSERT_EQ(np_buf_write_u8(b, 0xa1), NP_OK);
  ASSERT_EQ(np_buf_write_u16(b, 0x0102), NP_OK);
  ASSERT_EQ(np_buf_write_u16_le(b, 0x0102), NP_OK);
  ASSERT_EQ(np_buf_write_u32(b, 0x01020304), NP_OK);
  ASSERT_EQ(np_buf_write_u32_le(b, 0x01020304), NP_OK);
  ASSERT_EQ(np_buf_write_u64(b, 0x0102030405060708ull), NP_OK);
  ASSERT_EQ(np_buf_write_u64_le(b, 0x0102030405060708ull), NP_OK);
  ASSERT_EQ(np_buf_write_float(b, 1.0f), NP_OK);      // 0x3f800000
  ASSERT_EQ(np_buf_write_float_le(b, 1.0f), NP_OK);
  ASSERT_EQ(np_buf_write_double(b, -2.0), NP_OK);     // 0xc000000000000000
  ASSERT_EQ(np_buf_write_double_le(b, -2.0), NP_OK);
  const unsigned char want[] = {
      0xa1, 1, 2, 2, 1, 1, 2, 3, 4, 4, 3, 2, 1, 1, 2, 3, 4, 5, 6, 7, 8, 8, 7, 6, 5, 4, 3, 2, 1,
      0x3f, 0x80, 0, 0, 0, 0, 0x80, 0x3f, 0xc0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xc0};
  ASSERT_EQ(Readable(b), sizeof want);
  unsigned char got[sizeof want];
  ASSERT_EQ(np_buf_get_bytes(b, 0, got, sizeof got), NP_OK);
  EXPECT_EQ(memcmp(got, want, sizeof want), 0);

  // Read back in the same order.
  uint8_t u8;
  uint16_t u16;
  uint32_t u32;
  uint64_t u64;
  float f;
  double d;
  ASSERT_EQ(np_buf_read_u8(b, &u8), NP_OK);
  EXPECT_EQ(u8, 0xa1);
  ASSERT_EQ(np_buf_read_u16(b, &u16), NP_OK);
  EXPECT_EQ(u16, 0x0102);
  ASSERT_EQ(np_buf_read_u16_le(b, &u16), NP_OK);
  EXPECT_EQ(u16, 0x0102);
  ASSERT_EQ(np_buf_read_u32(b, &u32), NP_OK);
  EXPECT_EQ(u32, 0x01020304u);
  ASSERT_EQ(np_buf_read_u32_le(b, &u32), NP_OK);
  EXPECT_EQ(u32, 0x01020304u);
  ASSERT_EQ(np_buf_read_u64(b, &u64), NP_OK);
  EXPECT_EQ(u64, 0x0102030405060708ull);
  ASSERT_EQ(np_buf_read_u64_le(b, &u64), NP_OK);
  EXPECT_EQ(u64, 0x0102030405060708ull);
  ASSERT_EQ(np_buf_read_float(b, &f), NP_OK);
  EXPECT_EQ(f, 1.0f);
  ASSERT_EQ(np_buf_read_float_le(b, &f), NP_OK);
  EXPECT_EQ(f, 1.0f);
  ASSERT_EQ(np_buf_read_double(b, &d), NP_OK);
  EXPECT_EQ(d, -2.0);
  ASSERT_EQ(np_buf_read_double_le(b, &d), NP_OK);
  EXPECT_EQ(d, -2.0);
  EXPECT_EQ(Readable(b), 0u);
  // Reading a big-endian value as little-endian swaps it.
  ASSERT_EQ(np_buf_get_u32_le(b, 5, &u32), NP_OK);
  EXPECT_EQ(u32, 0x04030201u);
}

TEST_F(BufferTest, GetSetAbsoluteLeaveIndicesAlone) {
  np_buf* b = New(32);
  ASSERT_EQ(np_buf_set_u8(b, 0, 0xff), NP_OK);
  ASSERT_EQ(np_buf_set_u16(b, 1, 0xbeef), NP_OK);
  ASSERT_EQ(np_buf_set_u16_le(b, 3, 0xbeef), NP_OK);
  ASSERT_EQ(np_buf_set_u32(b, 5, 0xdeadbeef), NP_OK);
  ASSERT_EQ(np_buf_set_u32_le(b, 9, 0xdeadbeef), NP_OK);
  ASSERT_EQ(np_buf_set_u64(b, 13, 0x1122334455667788ull), NP_OK);
  ASSERT_EQ(np_buf_set_u64_le(b, 21, 0x1122334455667788ull), NP_OK);
  EXPECT_EQ(Reader(b), 0u);
  EXPECT_EQ(Writer(b), 0u);
  uint8_t u8;
  uint16_t u16;
  uint32_t u32;
  uint64_t u64;
  ASSERT_EQ(np_buf_get_u8(b, 0, &u8), NP_OK);
  EXPECT_EQ(u8, 0xff);
  ASSERT_EQ(np_buf_get_u16(b, 1, &u16), NP_OK);
  EXPECT_EQ(u16, 0xbeef);
  ASSERT_EQ(np_buf_get_u16_le(b, 3, &u16), NP_OK);
  EXPECT_EQ(u16, 0xbeef);
  ASSERT_EQ(np_buf_get_u16(b, 3, &u16), NP_OK);
  EXPECT_EQ(u16, 0xefbe);
  ASSERT_EQ(np_buf_get_u32(b, 5, &u32), NP_OK);
  EXPECT_EQ(u32, 0xdeadbeefu);
  ASSERT_EQ(np_buf_get_u32_le(b, 9, &u32), NP_OK);
  EXPECT_EQ(u32, 0xdeadbeefu);
  ASSERT_EQ(np_buf_get_u64(b, 13, &u64), NP_OK);
  EXPECT_EQ(u64, 0x1122334455667788ull);
  ASSERT_EQ(np_buf_get_u64_le(b, 21, &u64), NP_OK);
  EXPECT_EQ(u64, 0x1122334455667788ull);
  ASSERT_EQ(np_buf_get_u64(b, 21, &u64), NP_OK);
  EXPECT_EQ(u64, 0x8877665544332211ull);

  float f;
  double d;
  ASSERT_EQ(np_buf_set_float(b, 0, 3.5f), NP_OK);
  ASSERT_EQ(np_buf_get_float(b, 0, &f), NP_OK);
  EXPECT_EQ(f, 3.5f);
  ASSERT_EQ(np_buf_get_u32(b, 0, &u32), NP_OK);
  EXPECT_EQ(u32, 0x40600000u);
  ASSERT_EQ(np_buf_set_float_le(b, 4, -0.25f), NP_OK);
  ASSERT_EQ(np_buf_get_float_le(b, 4, &f), NP_OK);
  EXPECT_EQ(f, -0.25f);
  ASSERT_EQ(np_buf_get_u32_le(b, 4, &u32), NP_OK);
  EXPECT_EQ(u32, 0xbe800000u);
  ASSERT_EQ(np_buf_set_double(b, 8, 1e300), NP_OK);
  ASSERT_EQ(np_buf_get_double(b, 8, &d), NP_OK);
  EXPECT_EQ(d, 1e300);
  ASSERT_EQ(np_buf_set_double_le(b, 16, 0.1), NP_OK);
  ASSERT_EQ(np_buf_get_double_le(b, 16, &d), NP_OK);
  EXPECT_EQ(d, 0.1);
  ASSERT_EQ(np_buf_get_u64_le(b, 16, &u64), NP_OK);
  EXPECT_EQ(u64, 0x3fb999999999999aull);
  // The last bytes of the capacity are reachable, one past is not.
  ASSERT_EQ(np_buf_set_u64(b, 24, 1), NP_OK);
  EXPECT_EQ(np_buf_set_u64(b, 25, 1), NP_ERR_INDEX);
  EXPECT_EQ(Reader(b), 0u);
  EXPECT_EQ(Writer(b), 0u);
}

TEST_F(BufferTest, ByteRanges) {
  np_buf* b = New(8);
  const char msg[] = "hello, pooled world";
  ASSERT_EQ(np_buf_write_bytes(b, msg, sizeof msg), NP_OK);  // grows
  EXPECT_EQ(Readable(b), sizeof msg);
  char out[sizeof msg] = {};
  ASSERT_EQ(np_buf_get_bytes(b, 7, out, 6), NP_OK);
  EXPECT_EQ(std::string(out, 6), "pooled");
  ASSERT_EQ(np_buf_set_bytes(b, 7, "POOLED", 6), NP_OK);
  ASSERT_EQ(np_buf_read_bytes(b, out, sizeof msg), NP_OK);
  EXPECT_STREQ(out, "hello, POOLED world");
  EXPECT_EQ(np_buf_read_bytes(b, out, 1), NP_ERR_INDEX);
}

TEST_F(BufferTest, SourceInsideTheBufferItselfEvenWhenItMoves) {
  np_buf* b = New(16, 1024);
  ASSERT_EQ(np_buf_write_bytes(b, "0123456789abcdef", 16), NP_OK);
  ASSERT_EQ(Cap(b), 16u);
  struct iovec iov[1];
  int n;
  ASSERT_EQ(np_buf_readable_iov(b, iov, 1, &n), NP_OK);
  char* old = static_cast<char*>(iov[0].iov_base);
  // Appending its own bytes: the write grows (moves) the buffer first.
  ASSERT_EQ(np_buf_write_bytes(b, old, 16), NP_OK);
  ASSERT_EQ(np_buf_readable_iov(b, iov, 1, &n), NP_OK);
  EXPECT_NE(iov[0].iov_base, old);
  EXPECT_EQ(std::string(static_cast<char*>(iov[0].iov_base), 32), "0123456789abcdef0123456789abcdef");
  // Overlapping set within the buffer.
  char* cur = static_cast<char*>(iov[0].iov_base);
  ASSERT_EQ(np_buf_set_bytes(b, 2, cur, 10), NP_OK);
  EXPECT_EQ(std::string(cur, 12), "010123456789");
  ASSERT_EQ(np_buf_get_bytes(b, 0, cur + 1, 8), NP_OK);  // overlapping get
  EXPECT_EQ(std::string(cur, 9), "001012345");
}

// ---- Errors change nothing ----------------------------------------------------------

TEST_F(BufferTest, ReadingPastTheWriterIndex) {
  np_buf* b = Counting(8, 64);
  ASSERT_EQ(np_buf_set_reader_index(b, 5), NP_OK);  // 3 readable
  Snapshot before = Snap(b);
  uint32_t u32 = 77;
  uint64_t u64 = 77;
  double d = 77;
  char bytes[8] = {77, 77, 77, 77, 77, 77, 77, 77};
  np_buf* out = nullptr;
  EXPECT_EQ(np_buf_read_u32(b, &u32), NP_ERR_INDEX);
  EXPECT_EQ(np_buf_read_u32_le(b, &u32), NP_ERR_INDEX);
  EXPECT_EQ(np_buf_read_u64(b, &u64), NP_ERR_INDEX);
  EXPECT_EQ(np_buf_read_double(b, &d), NP_ERR_INDEX);
  EXPECT_EQ(np_buf_read_bytes(b, bytes, 4), NP_ERR_INDEX);
  EXPECT_EQ(np_buf_read_bytes(b, bytes, size_t(-1)), NP_ERR_INDEX);
  EXPECT_EQ(np_buf_read_slice(b, 4, &out), NP_ERR_INDEX);
  EXPECT_EQ(np_buf_advance_reader(b, 4), NP_ERR_INDEX);
  EXPECT_EQ(u32, 77u);
  EXPECT_EQ(u64, 77u);
  EXPECT_EQ(d, 77.0);
  for (char c : bytes) EXPECT_EQ(c, 77);
  EXPECT_EQ(out, nullptr);
  EXPECT_TRUE(Snap(b) == before);
  uint16_t u16;
  uint8_t u8;
  EXPECT_EQ(np_buf_read_u16(b, &u16), NP_OK);  // what is there still reads
  EXPECT_EQ(np_buf_read_u8(b, &u8), NP_OK);
  EXPECT_EQ(u8, 7);
}

TEST_F(BufferTest, IndexOutOfRangeAndOverflowingLengths) {
  np_buf* b = Counting(16, 64);
  Snapshot before = Snap(b);
  const size_t huge[] = {16, 17, 100, size_t(1) << 40, SIZE_MAX / 2, SIZE_MAX - 3, SIZE_MAX};
  uint8_t u8 = 1;
  uint16_t u16 = 1;
  uint32_t u32 = 1;
  uint64_t u64 = 1;
  char bytes[16] = {};
  np_buf* out = nullptr;
  for (size_t i : huge) {
    EXPECT_EQ(np_buf_get_u8(b, i, &u8), NP_ERR_INDEX) << i;
    EXPECT_EQ(np_buf_get_u16(b, i - 1 + (i == 0), &u16), NP_ERR_INDEX) << i;
    EXPECT_EQ(np_buf_get_u32_le(b, i - 3, &u32), NP_ERR_INDEX) << i;
    EXPECT_EQ(np_buf_get_u64(b, i - 7, &u64), NP_ERR_INDEX) << i;
    EXPECT_EQ(np_buf_set_u8(b, i, 1), NP_ERR_INDEX) << i;
    EXPECT_EQ(np_buf_set_u64_le(b, i - 7, 1), NP_ERR_INDEX) << i;
    EXPECT_EQ(np_buf_set_double(b, i - 7, 1), NP_ERR_INDEX) << i;
    EXPECT_EQ(np_buf_get_bytes(b, i, bytes, 1), NP_ERR_INDEX) << i;
    EXPECT_EQ(np_buf_set_bytes(b, i, bytes, 1), NP_ERR_INDEX) << i;
    EXPECT_EQ(np_buf_slice(b, i, 1, &out), NP_ERR_INDEX) << i;
  }
  // Lengths that are negative ints converted, or whose end overflows.
  for (size_t len : {size_t(17), size_t(-1), size_t(-16), SIZE_MAX / 2 + 1}) {
    EXPECT_EQ(np_buf_get_bytes(b, 0, bytes, len), NP_ERR_INDEX) << len;
    EXPECT_EQ(np_buf_get_bytes(b, 8, bytes, len), NP_ERR_INDEX) << len;
    EXPECT_EQ(np_buf_set_bytes(b, 1, bytes, len), NP_ERR_INDEX) << len;
    EXPECT_EQ(np_buf_read_bytes(b, bytes, len), NP_ERR_INDEX) << len;
    EXPECT_EQ(np_buf_slice(b, 1, len, &out), NP_ERR_INDEX) << len;
    EXPECT_EQ(np_buf_read_slice(b, len, &out), NP_ERR_INDEX) << len;
  }
  for (size_t len : {size_t(-1), size_t(-16), SIZE_MAX / 2 + 1}) {
    EXPECT_EQ(np_buf_write_bytes(b, bytes, len), NP_ERR_INDEX) << len;
    EXPECT_EQ(np_buf_ensure_writable(b, len), NP_ERR_INDEX) << len;
    EXPECT_EQ(np_buf_advance_writer(b, len), NP_ERR_INDEX) << len;
    EXPECT_EQ(np_buf_advance_reader(b, len), NP_ERR_INDEX) << len;
  }
  struct iovec iov[1];
  int cnt = 5;
  EXPECT_EQ(np_buf_readable_iov(b, iov, 0, &cnt), NP_ERR_INDEX);
  EXPECT_EQ(np_buf_writable_iov(b, 0, iov, -1, &cnt), NP_ERR_INDEX);
  EXPECT_EQ(np_buf_writable_iov(b, size_t(-1), iov, 1, &cnt), NP_ERR_INDEX);
  EXPECT_EQ(cnt, 5);
  EXPECT_EQ(u8 + u16 + u32 + u64, 4u);
  EXPECT_EQ(out, nullptr);
  EXPECT_TRUE(Snap(b) == before);
  EXPECT_EQ(Stats(a_.get()).small.active, 1u);  // no stray view or block
}

TEST_F(BufferTest, WritingPastMaxCapacity) {
  np_buf* b = Counting(10, 10);  // full: capacity 10 = max
  Snapshot before = Snap(b);
  char* mem = WritePtr(b);
  EXPECT_EQ(np_buf_write_u8(b, 1), NP_ERR_MAX_CAPACITY);
  EXPECT_EQ(np_buf_write_u64(b, 1), NP_ERR_MAX_CAPACITY);
  EXPECT_EQ(np_buf_write_double_le(b, 1), NP_ERR_MAX_CAPACITY);
  EXPECT_EQ(np_buf_write_bytes(b, "x", 1), NP_ERR_MAX_CAPACITY);
  EXPECT_EQ(np_buf_ensure_writable(b, 1), NP_ERR_MAX_CAPACITY);
  struct iovec iov[1];
  int cnt = 5;
  EXPECT_EQ(np_buf_writable_iov(b, 1, iov, 1, &cnt), NP_ERR_MAX_CAPACITY);
  EXPECT_EQ(cnt, 5);
  EXPECT_TRUE(Snap(b) == before);
  EXPECT_EQ(WritePtr(b), mem);  // not moved (its block has room to 16, but max is 10)
  EXPECT_EQ(np_buf_write_bytes(b, "", 0), NP_OK);  // an empty write fits

  // Partly written: a write that would cross the max changes nothing.
  np_buf* c = New(4, 12);
  ASSERT_EQ(np_buf_write_u64(c, 0x0102030405060708ull), NP_OK);
  Snapshot c_before = Snap(c);
  EXPECT_EQ(np_buf_write_u64(c, 5), NP_ERR_MAX_CAPACITY);
  EXPECT_EQ(np_buf_write_bytes(c, "abcdefgh", 5), NP_ERR_MAX_CAPACITY);
  EXPECT_TRUE(Snap(c) == c_before);
  EXPECT_EQ(np_buf_write_u32(c, 9), NP_OK);  // exactly to the max
  EXPECT_EQ(Cap(c), 12u);
}

// ---- Growth ------------------------------------------------------------------------------

TEST(BufferGrowth, NettyCalculateNewCapacity) {
  const size_t T = NP_BUF_GROWTH_THRESHOLD;
  ASSERT_EQ(T, 4 * MiB);
  const size_t M = NP_BUF_DEFAULT_MAX_CAPACITY;
  struct Case {
    size_t min, max, want;
  } cases[] = {
      {0, M, 64},
      {1, M, 64},
      {64, M, 64},
      {65, M, 128},
      {100, M, 128},
      {1000, M, 1024},
      {1024, M, 1024},
      {1025, M, 2048},
      {T - 1, M, T},
      {T, M, T},
      {T + 1, M, 2 * T},
      {2 * T - 1, M, 2 * T},
      {2 * T, M, 3 * T},  // above the threshold: the multiple below, plus one step
      {5 * T + 7, M, 6 * T},
      {65, 100, 100},       // capped by the max
      {100, 100, 100},
      {1025, 1500, 1500},
      {5 * MiB, 6 * MiB, 6 * MiB},  // a step would pass the max: the max
      {M - 5, M, M},
      {SIZE_MAX - 1, SIZE_MAX, SIZE_MAX},
  };
  for (const Case& c : cases) {
    size_t got = 0;
    ASSERT_EQ(np_buf_calculate_new_capacity(c.min, c.max, &got), NP_OK) << c.min;
    EXPECT_EQ(got, c.want) << "min " << c.min << " max " << c.max;
  }
  size_t got = 42;
  EXPECT_EQ(np_buf_calculate_new_capacity(101, 100, &got), NP_ERR_MAX_CAPACITY);
  EXPECT_EQ(got, 42u);
}

TEST_F(BufferTest, GrowsInPlaceWhenTheBlockHasRoom) {
  np_buf* b = New(100, 1000);  // a 112-byte block
  char* mem = WritePtr(b);
  std::string data(101, 'x');
  ASSERT_EQ(np_buf_write_bytes(b, data.data(), data.size()), NP_OK);
  EXPECT_EQ(Cap(b), 112u) << "in place: the whole block";
  EXPECT_EQ(WritePtr(b), mem + 101);
  np_stats s = Stats(a_.get());
  EXPECT_EQ(s.small.allocations, 1u);

  // Past the block: Netty's policy (113 -> 128), a new block, the bytes copied.
  ASSERT_EQ(np_buf_write_bytes(b, "0123456789abc", 13), NP_OK);
  EXPECT_EQ(Cap(b), 128u);
  char* moved = WritePtr(b) - 114;
  EXPECT_NE(moved, mem);
  EXPECT_EQ(np_usable_size(a_.get(), moved), 128u);
  EXPECT_EQ(std::string(moved, 114), data + "0123456789abc");
  s = Stats(a_.get());
  EXPECT_EQ(s.small.allocations, 2u);
  EXPECT_EQ(s.small.active, 1u) << "the old block was freed";

  // The max caps a growth: 128 + 900 -> 1024 would pass 1000.
  ASSERT_EQ(np_buf_ensure_writable(b, 800), NP_OK);
  EXPECT_EQ(Cap(b), 1000u);
  EXPECT_EQ(std::string(WritePtr(b) - 114, 114), data + "0123456789abc");
}

TEST_F(BufferTest, GrowthInPlaceStopsAtTheMaxCapacity) {
  np_buf* b = New(20, 40);  // a 32-byte block
  char* mem = WritePtr(b);
  ASSERT_EQ(np_buf_ensure_writable(b, 25), NP_OK);
  EXPECT_EQ(Cap(b), 32u);
  EXPECT_EQ(WritePtr(b), mem);
  ASSERT_EQ(np_buf_ensure_writable(b, 33), NP_OK);  // 64 by the policy, capped at 40
  EXPECT_EQ(Cap(b), 40u);
  EXPECT_EQ(MaxCap(b), 40u);
  EXPECT_EQ(np_buf_ensure_writable(b, 41), NP_ERR_MAX_CAPACITY);
  EXPECT_EQ(Cap(b), 40u);
}

TEST_F(BufferTest, GrowthSequenceDoublesThenStepsByFourMiB) {
  np_buf* b = New(0, 64 * MiB);
  struct Step {
    size_t writable, capacity;
  } steps[] = {
      {1, 16},  // the smallest block, taken in place
      {15, 16},
      {16, 16},
      {17, 64},
      {64, 64},
      {65, 128},
      {200, 256},
      {1000, 1024},
      {5000, 8192},
      {4 * MiB - 1, 4 * MiB},
      {4 * MiB, 4 * MiB},
      {4 * MiB + 1, 8 * MiB},
      {8 * MiB, 8 * MiB},
      {8 * MiB + 1, 12 * MiB},
      {12 * MiB + 5, 16 * MiB},
      {60 * MiB, 64 * MiB},
  };
  for (const Step& st : steps) {
    ASSERT_EQ(np_buf_ensure_writable(b, st.writable), NP_OK) << st.writable;
    EXPECT_EQ(Cap(b), st.capacity) << st.writable;
  }
  EXPECT_EQ(np_buf_ensure_writable(b, 64 * MiB + 1), NP_ERR_MAX_CAPACITY);
  EXPECT_EQ(Cap(b), 64 * MiB);
}

TEST_F(BufferTest, GrowthKeepsContentAndBytesBeforeTheReader) {
  np_buf* b = Counting(200, 100 * KiB);
  ASSERT_EQ(np_buf_set_reader_index(b, 150), NP_OK);
  ASSERT_EQ(np_buf_ensure_writable(b, 50 * KiB), NP_OK);
  EXPECT_EQ(Cap(b), 64 * KiB);
  for (size_t i = 0; i < 200; i++) {
    uint8_t v;
    ASSERT_EQ(np_buf_get_u8(b, i, &v), NP_OK);
    ASSERT_EQ(v, uint8_t(i));
  }
  EXPECT_EQ(Reader(b), 150u);
  EXPECT_EQ(Writer(b), 200u);
}

// ---- Views ---------------------------------------------------------------------------------

TEST_F(BufferTest, SliceSharesMemoryAndCount) {
  np_buf* b = Counting(32);
  np_buf* s = nullptr;
  ASSERT_EQ(np_buf_slice(b, 8, 16, &s), NP_OK);
  EXPECT_EQ(Cap(s), 16u);
  EXPECT_EQ(MaxCap(s), 16u);
  EXPECT_EQ(Reader(s), 0u);
  EXPECT_EQ(Writer(s), 16u);
  EXPECT_EQ(RefCnt(s), 1u);  // the parent's
  uint8_t v;
  ASSERT_EQ(np_buf_get_u8(s, 0, &v), NP_OK);
  EXPECT_EQ(v, 8);
  // Memory is shared both ways.
  ASSERT_EQ(np_buf_set_u8(s, 1, 0xee), NP_OK);
  ASSERT_EQ(np_buf_get_u8(b, 9, &v), NP_OK);
  EXPECT_EQ(v, 0xee);
  ASSERT_EQ(np_buf_set_u32(b, 10, 0xa0b0c0d0), NP_OK);
  uint32_t u32;
  ASSERT_EQ(np_buf_read_u16(s, nullptr), NP_ERR_NULL_ARGUMENT);
  ASSERT_EQ(np_buf_get_u32(s, 2, &u32), NP_OK);
  EXPECT_EQ(u32, 0xa0b0c0d0u);
  // Own indices.
  ASSERT_EQ(np_buf_read_u32(s, &u32), NP_OK);
  EXPECT_EQ(Reader(s), 4u);
  EXPECT_EQ(Reader(b), 0u);
  // The count is the parent's.
  ASSERT_EQ(np_buf_retain(s), NP_OK);
  EXPECT_EQ(RefCnt(b), 2u);
  ASSERT_EQ(np_buf_release(b), NP_OK);
  EXPECT_EQ(RefCnt(s), 1u);
  // Bounds: a slice cannot reach outside its window, or grow.
  EXPECT_EQ(np_buf_get_u8(s, 16, &v), NP_ERR_INDEX);
  EXPECT_EQ(np_buf_set_u32(s, 13, 1), NP_ERR_INDEX);
  EXPECT_EQ(np_buf_write_u8(s, 1), NP_ERR_MAX_CAPACITY);
  ASSERT_EQ(np_buf_set_writer_index(s, 12), NP_OK);
  EXPECT_EQ(np_buf_write_u32(s, 0x01020304), NP_OK);
  EXPECT_EQ(np_buf_write_u8(s, 1), NP_ERR_MAX_CAPACITY);
  ASSERT_EQ(np_buf_get_u32(b, 20, &u32), NP_OK);
  EXPECT_EQ(u32, 0x01020304u);
  EXPECT_EQ(Cap(b), 32u);
  // Releasing through the slice frees the parent; both are refused after.
  ASSERT_EQ(np_buf_release(s), NP_OK);
  EXPECT_EQ(RefCnt(b), 0u);
  EXPECT_EQ(np_buf_get_u8(b, 0, &v), NP_ERR_REFCNT);
  EXPECT_EQ(np_buf_get_u8(s, 0, &v), NP_ERR_REFCNT);
  EXPECT_EQ(np_buf_release(s), NP_ERR_REFCNT);
}

TEST_F(BufferTest, SliceOfSliceAndReadSliceAndReadableSlice) {
  np_buf* b = Counting(64);
  np_buf *s1, *s2, *r1, *rs;
  ASSERT_EQ(np_buf_slice(b, 10, 40, &s1), NP_OK);
  ASSERT_EQ(np_buf_slice(s1, 5, 10, &s2), NP_OK);  // parent bytes 15..24
  uint8_t v;
  ASSERT_EQ(np_buf_get_u8(s2, 0, &v), NP_OK);
  EXPECT_EQ(v, 15);
  ASSERT_EQ(np_buf_get_u8(s2, 9, &v), NP_OK);
  EXPECT_EQ(v, 24);
  EXPECT_EQ(np_buf_slice(s1, 35, 6, &rs), NP_ERR_INDEX);  // outside s1
  ASSERT_EQ(np_buf_set_reader_index(b, 2), NP_OK);
  ASSERT_EQ(np_buf_read_slice(b, 3, &r1), NP_OK);
  EXPECT_EQ(Reader(b), 5u);
  ASSERT_EQ(np_buf_read_u8(r1, &v), NP_OK);
  EXPECT_EQ(v, 2);
  EXPECT_EQ(Cap(r1), 3u);
  ASSERT_EQ(np_buf_set_writer_index(b, 60), NP_OK);
  ASSERT_EQ(np_buf_slice_readable(b, &rs), NP_OK);  // 5..59
  EXPECT_EQ(Readable(rs), 55u);
  ASSERT_EQ(np_buf_get_u8(rs, 0, &v), NP_OK);
  EXPECT_EQ(v, 5);
  EXPECT_EQ(Reader(b), 5u);
  np_buf* empty;
  ASSERT_EQ(np_buf_slice(b, 64, 0, &empty), NP_OK);  // an empty slice at the end
  EXPECT_EQ(Cap(empty), 0u);
  EXPECT_EQ(np_buf_read_u8(empty, &v), NP_ERR_INDEX);
  EXPECT_EQ(RefCnt(s2), 1u);
  // Discarding read bytes inside a slice moves only the slice's bytes.
  ASSERT_EQ(np_buf_set_reader_index(s2, 4), NP_OK);
  ASSERT_EQ(np_buf_discard_read_bytes(s2), NP_OK);
  ASSERT_EQ(np_buf_get_u8(b, 15, &v), NP_OK);
  EXPECT_EQ(v, 19);
  ASSERT_EQ(np_buf_get_u8(b, 25, &v), NP_OK);
  EXPECT_EQ(v, 25);
}

TEST_F(BufferTest, DuplicateSharesMemoryAndCountGrowsTheParent) {
  np_buf* b = New(16, 4096);
  ASSERT_EQ(np_buf_write_u32(b, 0x11223344), NP_OK);
  np_buf* s;
  ASSERT_EQ(np_buf_slice(b, 0, 4, &s), NP_OK);  // made before the parent moves
  np_buf* d;
  ASSERT_EQ(np_buf_duplicate(b, &d), NP_OK);
  EXPECT_EQ(Writer(d), 4u);
  EXPECT_EQ(Cap(d), 16u);
  EXPECT_EQ(MaxCap(d), 4096u);
  uint32_t u32;
  ASSERT_EQ(np_buf_read_u32(d, &u32), NP_OK);
  EXPECT_EQ(u32, 0x11223344u);
  EXPECT_EQ(Reader(b), 0u);  // own indices
  // Writing through the duplicate past the capacity grows the parent.
  std::string big(300, 'z');
  ASSERT_EQ(np_buf_write_bytes(d, big.data(), big.size()), NP_OK);
  EXPECT_EQ(Cap(b), 512u);
  EXPECT_EQ(Cap(d), 512u);
  EXPECT_EQ(Writer(b), 4u);
  char c;
  ASSERT_EQ(np_buf_get_bytes(b, 303, &c, 1), NP_OK);
  EXPECT_EQ(c, 'z');
  // The slice follows the move.
  ASSERT_EQ(np_buf_get_u32(s, 0, &u32), NP_OK);
  EXPECT_EQ(u32, 0x11223344u);
  ASSERT_EQ(np_buf_set_u8(s, 0, 0x99), NP_OK);
  uint8_t v;
  ASSERT_EQ(np_buf_get_u8(d, 0, &v), NP_OK);
  EXPECT_EQ(v, 0x99);
  // A duplicate of a slice sees the slice's window and indices.
  np_buf* ds;
  ASSERT_EQ(np_buf_set_reader_index(s, 1), NP_OK);
  ASSERT_EQ(np_buf_duplicate(s, &ds), NP_OK);
  EXPECT_EQ(Cap(ds), 4u);
  EXPECT_EQ(Reader(ds), 1u);
  EXPECT_EQ(np_buf_write_u8(ds, 1), NP_ERR_MAX_CAPACITY);
  // Count shared by all four.
  ASSERT_EQ(np_buf_retain(d), NP_OK);
  ASSERT_EQ(np_buf_retain(ds), NP_OK);
  EXPECT_EQ(RefCnt(s), 3u);
  ASSERT_EQ(np_buf_release_n(d, 3), NP_OK);
  for (np_buf* x : {b, s, d, ds}) EXPECT_EQ(np_buf_read_u8(x, &v), NP_ERR_REFCNT);
  EXPECT_EQ(np_buf_duplicate(d, &ds), NP_ERR_REFCNT);
}

// ---- I/O through iovecs --------------------------------------------------------------------

TEST_F(BufferTest, IovecsDescribeReadableAndWritableBytes) {
  np_buf* b = New(8, 1024);
  struct iovec iov[4];
  int n = -1;
  ASSERT_EQ(np_buf_readable_iov(b, iov, 4, &n), NP_OK);
  EXPECT_EQ(n, 0);
  ASSERT_EQ(np_buf_writable_iov(b, 100, iov, 4, &n), NP_OK);  // grows first
  ASSERT_EQ(n, 1);
  EXPECT_EQ(Cap(b), 128u);
  EXPECT_EQ(iov[0].iov_len, 128u);
  memcpy(iov[0].iov_base, "abcdef", 6);
  ASSERT_EQ(np_buf_advance_writer(b, 6), NP_OK);
  ASSERT_EQ(np_buf_advance_reader(b, 2), NP_OK);
  ASSERT_EQ(np_buf_readable_iov(b, iov, 4, &n), NP_OK);
  ASSERT_EQ(n, 1);
  EXPECT_EQ(std::string(static_cast<char*>(iov[0].iov_base), iov[0].iov_len), "cdef");
  ASSERT_EQ(np_buf_writable_iov(b, 0, iov, 1, &n), NP_OK);
  EXPECT_EQ(iov[0].iov_len, 122u);
  ASSERT_EQ(np_buf_set_writer_index(b, 128), NP_OK);
  ASSERT_EQ(np_buf_writable_iov(b, 0, iov, 1, &n), NP_OK);
  EXPECT_EQ(n, 0);  // full, no growth asked
}

TEST_F(BufferTest, ReadvAndWritevThroughAPipe) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  np_buf* out = New(0);
  ASSERT_EQ(np_buf_write_u32(out, 5), NP_OK);
  ASSERT_EQ(np_buf_write_bytes(out, "hello", 5), NP_OK);
  struct iovec iov[2];
  int n;
  ASSERT_EQ(np_buf_readable_iov(out, iov, 2, &n), NP_OK);
  ssize_t w = writev(fds[1], iov, n);
  ASSERT_EQ(w, 9);
  ASSERT_EQ(np_buf_advance_reader(out, size_t(w)), NP_OK);
  EXPECT_EQ(Readable(out), 0u);

  np_buf* in = New(4);
  ASSERT_EQ(np_buf_writable_iov(in, 9, iov, 2, &n), NP_OK);
  ssize_t r = readv(fds[0], iov, n);
  ASSERT_EQ(r, 9);
  ASSERT_EQ(np_buf_advance_writer(in, size_t(r)), NP_OK);
  uint32_t len;
  ASSERT_EQ(np_buf_read_u32(in, &len), NP_OK);
  ASSERT_EQ(len, 5u);
  char text[5];
  ASSERT_EQ(np_buf_read_bytes(in, text, len), NP_OK);
  EXPECT_EQ(std::string(text, 5), "hello");
  close(fds[0]);
  close(fds[1]);
}

// ---- Recycling ------------------------------------------------------------------------------

TEST_F(BufferTest, ObjectsComeFromNpAllocAndAreRecycled) {
  np_allocator* objs = np_recycler_allocator();
  ASSERT_NE(objs, nullptr);
  np_buf* b = np_buf_alloc(a_.get(), 8, 8);
  ASSERT_NE(b, nullptr);
  EXPECT_GE(np_usable_size(objs, b), 64u) << "the object is a block of the recycler's allocator";
  ASSERT_EQ(np_buf_release(b), NP_OK);
  EXPECT_GE(np_usable_size(objs, b), 64u) << "recycled, never freed";
  // Thousands released and allocated again: no new objects the second time.
  std::vector<np_buf*> v;
  for (int i = 0; i < 3000; i++) v.push_back(np_buf_alloc(a_.get(), 8, 8));
  for (np_buf* x : v) ASSERT_EQ(np_buf_release(x), NP_OK);
  uint64_t objects = Stats(objs).small.active;
  std::set<np_buf*> first(v.begin(), v.end());
  v.clear();
  for (int i = 0; i < 3000; i++) v.push_back(np_buf_alloc(a_.get(), 8, 8));
  EXPECT_EQ(Stats(objs).small.active, objects);
  for (np_buf* x : v) EXPECT_EQ(first.count(x), 1u);
  for (np_buf* x : v) ASSERT_EQ(np_buf_release(x), NP_OK);
}

TEST_F(BufferTest, ViewsAreRecycledWithTheirParentAndStayRefused) {
  np_buf* b = np_buf_alloc(a_.get(), 32, 32);
  ASSERT_NE(b, nullptr);
  np_buf *s, *d;
  ASSERT_EQ(np_buf_slice(b, 0, 4, &s), NP_OK);
  ASSERT_EQ(np_buf_duplicate(b, &d), NP_OK);
  ASSERT_EQ(np_buf_release(b), NP_OK);
  // The parent is recycled last, so it comes back first: a new buffer in the
  // same object. The old views still refuse: their parent is another buffer now.
  np_buf* again = np_buf_alloc(a_.get(), 32, 32);
  ASSERT_EQ(again, b);
  uint8_t v;
  EXPECT_EQ(np_buf_get_u8(s, 0, &v), NP_ERR_REFCNT);
  EXPECT_EQ(np_buf_write_u8(d, 1), NP_ERR_REFCNT);
  EXPECT_EQ(np_buf_retain(s), NP_ERR_REFCNT);
  EXPECT_EQ(np_buf_release(d), NP_ERR_REFCNT);
  EXPECT_EQ(RefCnt(again), 1u);
  ASSERT_EQ(np_buf_release(again), NP_OK);
}

TEST_F(BufferTest, TouchIsAcceptedOnLiveBuffers) {
  np_buf* b = New(8);
  EXPECT_EQ(np_buf_touch(b, "handed to the decoder"), NP_OK);
  EXPECT_EQ(np_buf_touch(b, nullptr), NP_OK);
  np_buf* s;
  ASSERT_EQ(np_buf_slice(b, 0, 8, &s), NP_OK);
  EXPECT_EQ(np_buf_touch(s, "slice"), NP_OK);
}

}  // namespace
