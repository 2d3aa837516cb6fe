/* Error messages for np_error codes. */
#include "npool.h"

static const char *const messages[NP_ERR__COUNT] = {
    [NP_OK] = "success",
    [NP_ERR_NULL_ARGUMENT] = "a required pointer argument is NULL",
    [NP_ERR_PAGE_SIZE] = "invalid page_size: it must be a power of two and at least 4096",
    [NP_ERR_MAX_ORDER] = "invalid max_order: it must be at most 14",
    [NP_ERR_CHUNK_SIZE] = "invalid chunk size: page_size << max_order must be at most 1 GiB",
    [NP_ERR_ALIGNMENT] = "invalid alignment: it must be 0 or a power of two no larger than page_size",
    [NP_ERR_ARENAS] = "invalid arenas: at most 1024 arenas",
    [NP_ERR_CACHE] = "invalid thread cache setting: cache sizes at most 65536 entries, "
                     "cache_trim_interval at least 1",
    [NP_ERR_NO_MEMORY] = "out of memory: the system refused a mapping",
    [NP_ERR_FOREIGN_POINTER] = "pointer was not allocated by this allocator",
    [NP_ERR_NOT_BLOCK_START] = "pointer points inside a block, not at its start",
    [NP_ERR_DOUBLE_FREE] = "block is not allocated (double free, or never handed out)",
    [NP_ERR_CONFIG_KEY] = "unknown configuration key",
    [NP_ERR_CONFIG_VALUE] = "invalid configuration value: it does not parse or is out of the setting's range",
    [NP_ERR_LEAK_DETECTION] = "invalid leak detection setting: leak_detection must be disabled, simple, "
                              "advanced or paranoid, leak_sampling_interval at least 1",
    [NP_ERR_ARENA_INDEX] = "no arena with that index",
    [NP_ERR_OUTPUT] = "writing the output failed",
    [NP_ERR_REFCNT] = "buffer reference count error: used after release (count 0), a release "
                      "below 0, a retain past the maximum, or a change by 0",
    [NP_ERR_INDEX] = "buffer index out of range: beyond the capacity, past the writer index, or a "
                     "negative or overflowing length",
    [NP_ERR_MAX_CAPACITY] = "buffer would grow past its max capacity",
};

const char *np_strerror(int code) {
  if (code < 0 || code >= NP_ERR__COUNT || messages[code] == 0) return "unknown npool error code";
  return messages[code];
}
