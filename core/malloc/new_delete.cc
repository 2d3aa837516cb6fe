// C++'s operators new and delete, every form (plain, array, nothrow, sized,
// aligned), on npool's malloc functions (npool_malloc.h). In
// libnpool_malloc.so, and linked into a program by //core:npool_new_delete.
//
// The throwing forms follow the standard: on failure call the new-handler and
// try again while there is one, then throw std::bad_alloc. The sizes that
// sized delete passes are not needed: npool finds a block's size itself.
#include <cstddef>
#include <new>

#include "npool_malloc.h"

namespace {

void *alloc(std::size_t size, std::size_t alignment) {
  return alignment <= __STDCPP_DEFAULT_NEW_ALIGNMENT__ ? npool_malloc(size)
                                                       : npool_aligned_alloc(alignment, size);
}

void *alloc_or_throw(std::size_t size, std::size_t alignment) {
  for (;;) {
    void *p = alloc(size, alignment);
    if (p != nullptr) return p;
    std::new_handler handler = std::get_new_handler();
    if (handler == nullptr) throw std::bad_alloc();
    handler();
  }
}

void *alloc_or_null(std::size_t size, std::size_t alignment) noexcept {
  try {
    return alloc_or_throw(size, alignment);
  } catch (...) {
    return nullptr;
  }
}

constexpr std::size_t kDefault = __STDCPP_DEFAULT_NEW_ALIGNMENT__;

}  // namespace

NP_API void *operator new(std::size_t n) { return alloc_or_throw(n, kDefault); }
NP_API void *operator new[](std::size_t n) { return alloc_or_throw(n, kDefault); }
NP_API void *operator new(std::size_t n, const std::nothrow_t &) noexcept { return alloc_or_null(n, kDefault); }
NP_API void *operator new[](std::size_t n, const std::nothrow_t &) noexcept { return alloc_or_null(n, kDefault); }
NP_API void *operator new(std::size_t n, std::align_val_t al) { return alloc_or_throw(n, static_cast<std::size_t>(al)); }
NP_API void *operator new[](std::size_t n, std::align_val_t al) { return alloc_or_throw(n, static_cast<std::size_t>(al)); }
NP_API void *operator new(std::size_t n, std::align_val_t al, const std::nothrow_t &) noexcept {
  return alloc_or_null(n, static_cast<std::size_t>(al));
}
NP_API void *operator new[](std::size_t n, std::align_val_t al, const std::nothrow_t &) noexcept {
  return alloc_or_null(n, static_cast<std::size_t>(al));
}

NP_API void operator delete(void *p) noexcept { npool_free(p); }
NP_API void operator delete[](void *p) noexcept { npool_free(p); }
NP_API void operator delete(void *p, const std::nothrow_t &) noexcept { npool_free(p); }
NP_API void operator delete[](void *p, const std::nothrow_t &) noexcept { npool_free(p); }
NP_API void operator delete(void *p, std::size_t) noexcept { npool_free(p); }
NP_API void operator delete[](void *p, std::size_t) noexcept { npool_free(p); }
NP_API void operator delete(void *p, std::align_val_t) noexcept { npool_free(p); }
NP_API void operator delete[](void *p, std::align_val_t) noexcept { npool_free(p); }
NP_API void operator delete(void *p, std::size_t, std::align_val_t) noexcept { npool_free(p); }
NP_API void operator delete[](void *p, std::size_t, std::align_val_t) noexcept { npool_free(p); }
NP_API void operator delete(void *p, std::align_val_t, const std::nothrow_t &) noexcept { npool_free(p); }
NP_API void operator delete[](void *p, std::align_val_t, const std::nothrow_t &) noexcept { npool_free(p); }
