// A C++ program built against an installed npool with pkg-config only
// (//:install_test):
//   c++ example.cc $(pkg-config --cflags --libs npool)
// The headers from C++ (their extern "C"), np_alloc behind a standard
// allocator in a std::vector and a std::map, a pooled buffer. Built with
// -DWITH_NPOOL_MALLOC and `pkg-config --libs npool_malloc` instead, it also
// checks that operator new and malloc are npool's. Prints
// "example.cc: ok ..." and exits 0; a failed check prints what, exits 1.
#include <npool.h>
#include <npool_buf.h>
#include <npool_malloc.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <new>
#include <string>
#include <vector>

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond)) {                                                             \
      std::fprintf(stderr, "example.cc:%d: check failed: %s\n", __LINE__, #cond); \
      std::exit(1);                                                            \
    }                                                                          \
  } while (0)

// A standard allocator on npool's default allocator.
template <class T>
struct NpAllocator {
  using value_type = T;
  NpAllocator() = default;
  template <class U>
  NpAllocator(const NpAllocator<U> &) {}
  T *allocate(std::size_t n) {
    void *p = np_alloc(np_default_allocator(), n * sizeof(T));
    if (p == nullptr) throw std::bad_alloc();
    return static_cast<T *>(p);
  }
  void deallocate(T *p, std::size_t) { CHECK(np_free(np_default_allocator(), p) == NP_OK); }
};
template <class T, class U>
bool operator==(const NpAllocator<T> &, const NpAllocator<U> &) { return true; }
template <class T, class U>
bool operator!=(const NpAllocator<T> &, const NpAllocator<U> &) { return false; }

int main() {
  std::vector<std::string, NpAllocator<std::string>> v;
  for (int i = 0; i < 10000; i++) v.push_back(std::to_string(i));
  CHECK(np_usable_size(np_default_allocator(), v.data()) >= v.capacity() * sizeof(std::string));
  std::map<int, long, std::less<int>, NpAllocator<std::pair<const int, long>>> m;
  for (int i = 0; i < 5000; i++) m[i] = 3L * i;
  long sum = 0;
  for (const auto &kv : m) sum += kv.second;
  CHECK(sum == 3L * 4999 * 5000 / 2);
  CHECK(v[1234] == "1234");

  std::unique_ptr<np_buf, int (*)(np_buf *)> b(
      np_buf_alloc(np_default_allocator(), 64, NP_BUF_DEFAULT_MAX_CAPACITY), np_buf_release);
  CHECK(b != nullptr);
  CHECK(np_buf_write_u64_le(b.get(), 0x0102030405060708ull) == NP_OK);
  CHECK(np_buf_write_double(b.get(), 2.5) == NP_OK);
  uint64_t u = 0;
  double d = 0;
  CHECK(np_buf_read_u64_le(b.get(), &u) == NP_OK && u == 0x0102030405060708ull);
  CHECK(np_buf_read_double(b.get(), &d) == NP_OK && d == 2.5);

#ifdef WITH_NPOOL_MALLOC
  // Linked with libnpool_malloc: new, delete and malloc are npool's.
  auto *arr = new int[1000];
  CHECK(npool_malloc_usable_size(arr) >= 1000 * sizeof(int));
  delete[] arr;
  void *p = std::malloc(100);
  CHECK(npool_malloc_usable_size(p) >= 100);
  std::free(p);
  std::printf("example.cc: ok, strategy %s, operator new and malloc on npool\n", np_strategy_name());
#else
  std::printf("example.cc: ok, strategy %s\n", np_strategy_name());
#endif
  return 0;
}
