// A C++ program that allocates through operator new and delete in every form:
// containers on several threads (plain and sized delete), arrays, nothrow,
// over-aligned types (aligned new and delete), a failing new that throws
// std::bad_alloc, and one that calls the new-handler first.
//
// Built twice: plain (new_delete_prog), which malloc_preload_test.sh runs under
// LD_PRELOAD=libnpool_malloc.so, and linked with //core:npool_new_delete_<s>
// (new_delete_test_<s>), so the operators are npool's under ASan and TSan too.
// Prints "new_delete: ok, npool: yes|no" (whether new's blocks are npool's);
// exits 1 with a message on the first failure.
#include <dlfcn.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <new>
#include <string>
#include <thread>
#include <vector>

namespace {

void fail(const char *what) {
  std::fprintf(stderr, "new_delete: FAILED: %s\n", what);
  std::exit(1);
}

struct alignas(64) Line {
  char bytes[64];
};
struct alignas(4096) Page {
  char bytes[100];
};
struct alignas(1 << 16) Big {  // beyond npool's page: a mapping of its own
  int x;
};

uint64_t churn(int seed) {
  std::map<std::string, std::vector<int>> m;
  uint64_t sum = 0;
  for (int i = 0; i < 20000; i++) {
    std::string key = std::to_string((i * 7919 + seed) % 5000) + std::string(i % 40, 'x');
    m[key].push_back(i);
    if (i % 3 == 0) m.erase(m.begin());
  }
  for (auto &kv : m) sum += kv.first.size() + kv.second.size();
  auto shared = std::make_shared<std::vector<std::string>>(1000, std::string(100, 'y'));
  sum += shared->size();
  return sum;
}

int handler_calls = 0;
void handler() {
  handler_calls++;
  std::set_new_handler(nullptr);  // the next failure throws
}

}  // namespace

int main() {
  // Containers on four threads.
  std::vector<uint64_t> sums(4);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; t++) threads.emplace_back([t, &sums] { sums[t] = churn(t); });
  for (auto &t : threads) t.join();
  for (uint64_t s : sums)
    if (s == 0) fail("churn");

  // Arrays and nothrow.
  int *array = new int[1000]();
  for (int i = 0; i < 1000; i++)
    if (array[i] != 0) fail("new int[]() not zeroed");
  delete[] array;
  int *one = new (std::nothrow) int(7);
  if (one == nullptr || *one != 7) fail("nothrow new");
  delete one;

  // Over-aligned types: aligned new and delete (sized and unsized).
  std::vector<std::unique_ptr<Line>> lines;
  for (int i = 0; i < 100; i++) lines.emplace_back(new Line);
  for (auto &l : lines)
    if (reinterpret_cast<uintptr_t>(l.get()) % 64) fail("alignas(64)");
  Page *pages = new Page[3];
  if (reinterpret_cast<uintptr_t>(pages) % 4096) fail("alignas(4096)[]");
  delete[] pages;
  Big *big = new Big;
  if (reinterpret_cast<uintptr_t>(big) % (1 << 16)) fail("alignas(65536)");
  delete big;
  Line *nl = new (std::nothrow) Line;
  if (nl == nullptr || reinterpret_cast<uintptr_t>(nl) % 64) fail("nothrow aligned new");
  delete nl;

  // Failure: nothrow gives nullptr, plain throws, the new-handler runs first.
  const std::size_t too_much = SIZE_MAX / 2;
  if (operator new(too_much, std::nothrow) != nullptr) fail("nothrow new of too much");
  bool threw = false;
  try {
    void *p = operator new(too_much);
    operator delete(p);
  } catch (const std::bad_alloc &) {
    threw = true;
  }
  if (!threw) fail("new of too much did not throw");
  std::set_new_handler(handler);
  threw = false;
  try {
    void *p = operator new[](too_much);
    operator delete[](p);
  } catch (const std::bad_alloc &) {
    threw = true;
  }
  if (!threw || handler_calls != 1) fail("the new-handler was not called once before bad_alloc");

  // Whose blocks these are: npool's usable size of a block new made.
  int *probe = new int;
  using usable_fn = std::size_t (*)(void *, const void *);
  using default_fn = void *(*)();
  auto usable = reinterpret_cast<usable_fn>(dlsym(RTLD_DEFAULT, "np_usable_size"));
  auto def = reinterpret_cast<default_fn>(dlsym(RTLD_DEFAULT, "np_default_allocator"));
  bool npool = usable && def && usable(def(), probe) >= sizeof(int);
  delete probe;
  std::printf("new_delete: ok, npool: %s\n", npool ? "yes" : "no");
  return 0;
}
