// Configuration: the settings table (config.c), np_config_set, the
// "key:value,..." parser, NPOOL_CONF, and how np_allocator_create checks the
// settings in combination.
#include <gtest/gtest.h>

#include <climits>
#include <cstdlib>
#include <set>
#include <string>
#include <vector>

#include "core/internal.h"
#include "core/test_support.h"
#include "npool.h"

namespace {

using np_test::AllocPtr;
using np_test::Make;
using np_test::MiB;
using np_test::Stats;

// Netty's defaults, written out independently of the table.
TEST(ConfigDefaults, EqualNettys) {
  np_config c = np_config_default();
  EXPECT_EQ(c.page_size, 8192u);
  EXPECT_EQ(c.max_order, 9u);  // 4 MiB chunks
  EXPECT_EQ(c.alignment, 0u);
  EXPECT_EQ(c.arenas, 0u);     // 2 x cores
  EXPECT_EQ(c.release_empty_init_chunks, 0);
  EXPECT_EQ(c.small_cache_size, 256u);
  EXPECT_EQ(c.normal_cache_size, 64u);
  EXPECT_EQ(c.max_cached_buffer_capacity, 32u * 1024);
  EXPECT_EQ(c.cache_trim_interval, 8192u);
  EXPECT_EQ(c.leak_detection, NP_LEAK_SIMPLE);
  EXPECT_EQ(c.leak_sampling_interval, 128u);
  EXPECT_EQ(c.stats_print, 0);
  EXPECT_EQ(c.invalid_free, NP_INVALID_FREE_REPORT);
  EXPECT_EQ(c.large_cache_bytes, 1u << 20);
  EXPECT_EQ(c.dirty_decay_ms, 1000u);
  EXPECT_EQ(c.background_purge, 0);
  EXPECT_EQ(c.retained_max, 256u << 20);
  EXPECT_EQ(c.run_placement, NP_PLACEMENT_BEST_FIT);
  EXPECT_EQ(c.cache_grow_bytes, 2u << 20);
  EXPECT_EQ(c.cache_max_bytes, 2u << 20);
  EXPECT_EQ(c.transfer_cache_bytes, 64u << 10);
  EXPECT_EQ(c.exact_double_free, 0);
}

const std::vector<std::string> kKeys = {
    "page_size",         "max_order",         "alignment",
    "arenas",            "release_empty_init_chunks",
    "small_cache_size",  "normal_cache_size", "max_cached_buffer_capacity",
    "cache_trim_interval", "trim_low_water",  "cache_refill_batch",
    "large_cache_bytes",
    "leak_detection",    "leak_sampling_interval",
    "stats_print",       "invalid_free",
    "dirty_decay_ms",    "background_purge",  "retained_max",
    "run_placement",     "cache_grow_bytes", "cache_max_bytes",
    "transfer_cache_bytes", "exact_double_free"};

size_t TypeSize(np_option_type t) {
  switch (t) {
    case NP_OPT_SIZE: return sizeof(size_t);
    case NP_OPT_UINT: return sizeof(unsigned);
    case NP_OPT_BOOL: return sizeof(int);
    case NP_OPT_ENUM: return sizeof(int);
  }
  return 0;
}

// One row per field, in field order, each with a description; the rows tile
// the struct (so a field added without a row shows up here).
TEST(ConfigTable, OneRowPerFieldInOrder) {
  ASSERT_EQ(np_option_count, kKeys.size());
  size_t end = 0;
  np_config d = np_config_default();
  for (unsigned i = 0; i < np_option_count; ++i) {
    const np_option& o = np_options[i];
    SCOPED_TRACE(o.name);
    EXPECT_EQ(o.name, kKeys[i]);
    EXPECT_GT(strlen(o.description), 10u);
    EXPECT_EQ(np_option_find(o.name), &o);
    size_t size = TypeSize(o.type);
    EXPECT_GE(o.offset, end) << "rows out of field order";
    EXPECT_LT(o.offset - end, size) << "a gap bigger than padding: a field without a row?";
    end = o.offset + size;
    // np_config_default reads the table.
    EXPECT_EQ(np_option_get(&d, &o), o.def);
  }
  EXPECT_EQ((end + alignof(np_config) - 1) / alignof(np_config) * alignof(np_config), sizeof(np_config))
      << "a field after the last row?";
  EXPECT_EQ(np_option_find("no_such_key"), nullptr);
}

void ExpectSame(const np_config& a, const np_config& b) {
  for (unsigned i = 0; i < np_option_count; ++i)
    EXPECT_EQ(np_option_get(&a, &np_options[i]), np_option_get(&b, &np_options[i])) << np_options[i].name;
}

// Every setting, a value other than its default, and what the struct holds then.
struct KeySample {
  const char* key;
  const char* value;
  uint64_t expect;
};
const KeySample kSamples[] = {
    {"page_size", "16k", 16384},
    {"max_order", "11", 11},
    {"alignment", "64", 64},
    {"arenas", "3", 3},
    {"release_empty_init_chunks", "true", 1},
    {"small_cache_size", "128", 128},
    {"normal_cache_size", "32", 32},
    {"max_cached_buffer_capacity", "64K", 65536},
    {"cache_trim_interval", "100", 100},
    {"trim_low_water", "false", 0},
    {"cache_refill_batch", "1", 1},
    {"leak_detection", "paranoid", NP_LEAK_PARANOID},
    {"leak_sampling_interval", "64", 64},
    {"stats_print", "1", 1},
    {"invalid_free", "abort", NP_INVALID_FREE_ABORT},
    {"large_cache_bytes", "0", 0},
    {"dirty_decay_ms", "250", 250},
    {"background_purge", "true", 1},
    {"retained_max", "1G", 1u << 30},
    {"run_placement", "netty", NP_PLACEMENT_NETTY},
    {"cache_grow_bytes", "0", 0},
    {"cache_max_bytes", "512k", 512u << 10},
    {"transfer_cache_bytes", "0", 0},
    {"exact_double_free", "true", 1},
};

// run_placement: its two names (any case), no numbers; the message lists both.
TEST(ConfigSet, RunPlacement) {
  np_config c = np_config_default();
  EXPECT_EQ(np_config_set(&c, "run_placement", "NETTY"), NP_OK);
  EXPECT_EQ(c.run_placement, NP_PLACEMENT_NETTY);
  EXPECT_EQ(np_config_set(&c, "run_placement", "best_fit"), NP_OK);
  EXPECT_EQ(c.run_placement, NP_PLACEMENT_BEST_FIT);
  for (const char* bad : {"", "0", "1", "best", "first_fit"}) {
    EXPECT_EQ(np_config_set(&c, "run_placement", bad), NP_ERR_CONFIG_VALUE) << bad;
    EXPECT_EQ(c.run_placement, NP_PLACEMENT_BEST_FIT);
  }
  std::string msg;
  EXPECT_EQ(np_config_from_string(&c, "run_placement:worst",
                                  [](void* ctx, const char* m) { *static_cast<std::string*>(ctx) = m; }, &msg),
            NP_ERR_CONFIG_VALUE);
  EXPECT_NE(msg.find("best_fit or netty"), std::string::npos) << msg;
  c.run_placement = static_cast<np_run_placement>(7);
  np_allocator* a = nullptr;
  EXPECT_EQ(np_allocator_create(&c, &a), NP_ERR_CONFIG_VALUE);
  EXPECT_EQ(a, nullptr);
}

// invalid_free: the three names (any case), nothing else.
TEST(ConfigSet, InvalidFreeModes) {
  np_config c = np_config_default();
  EXPECT_EQ(np_config_set(&c, "invalid_free", "ignore"), NP_OK);
  EXPECT_EQ(c.invalid_free, NP_INVALID_FREE_IGNORE);
  EXPECT_EQ(np_config_set(&c, "invalid_free", "ABORT"), NP_OK);
  EXPECT_EQ(c.invalid_free, NP_INVALID_FREE_ABORT);
  EXPECT_EQ(np_config_set(&c, "invalid_free", "report"), NP_OK);
  EXPECT_EQ(c.invalid_free, NP_INVALID_FREE_REPORT);
  for (const char* bad : {"", "1", "crash", "reports", "abort "}) {
    EXPECT_EQ(np_config_set(&c, "invalid_free", bad), NP_ERR_CONFIG_VALUE) << bad;
    EXPECT_EQ(c.invalid_free, NP_INVALID_FREE_REPORT);
  }
  std::string msg;
  EXPECT_EQ(np_config_from_string(&c, "invalid_free:panic",
                                  [](void* ctx, const char* m) { *static_cast<std::string*>(ctx) = m; }, &msg),
            NP_ERR_CONFIG_VALUE);
  EXPECT_NE(msg.find("report, abort or ignore"), std::string::npos) << msg;
  EXPECT_NE(msg.find("keeping report"), std::string::npos) << msg;
}

TEST(ConfigSet, EveryKeyByApi) {
  std::set<std::string> covered;
  for (const KeySample& k : kSamples) {
    SCOPED_TRACE(k.key);
    const np_option* o = np_option_find(k.key);
    ASSERT_NE(o, nullptr);
    ASSERT_NE(o->def, k.expect) << "the sample must differ from the default";
    np_config c = np_config_default();
    ASSERT_EQ(np_config_set(&c, k.key, k.value), NP_OK);
    EXPECT_EQ(np_option_get(&c, o), k.expect);
    // Nothing else changed.
    np_config d = np_config_default();
    ASSERT_EQ(np_config_set(&d, k.key, k.value), NP_OK);
    for (unsigned i = 0; i < np_option_count; ++i)
      if (&np_options[i] != o)
        EXPECT_EQ(np_option_get(&c, &np_options[i]), np_options[i].def) << np_options[i].name;
    covered.insert(k.key);
  }
  EXPECT_EQ(covered, std::set<std::string>(kKeys.begin(), kKeys.end()));
  // The struct fields themselves, for the new settings.
  np_config c = np_config_default();
  EXPECT_EQ(np_config_set(&c, "leak_detection", "advanced"), NP_OK);
  EXPECT_EQ(c.leak_detection, NP_LEAK_ADVANCED);
  EXPECT_EQ(np_config_set(&c, "leak_sampling_interval", "1"), NP_OK);
  EXPECT_EQ(c.leak_sampling_interval, 1u);
  EXPECT_EQ(np_config_set(&c, "stats_print", "true"), NP_OK);
  EXPECT_EQ(c.stats_print, 1);
}

struct Reports {
  std::vector<std::string> msgs;
  static void Add(void* ctx, const char* msg) { static_cast<Reports*>(ctx)->msgs.push_back(msg); }
};

TEST(ConfigString, EveryKeyByString) {
  std::string conf;
  np_config by_api = np_config_default();
  for (const KeySample& k : kSamples) {
    conf += std::string(conf.empty() ? "" : ",") + k.key + ":" + k.value;
    ASSERT_EQ(np_config_set(&by_api, k.key, k.value), NP_OK);
  }
  np_config c = np_config_default();
  Reports r;
  EXPECT_EQ(np_config_from_string(&c, conf.c_str(), Reports::Add, &r), NP_OK) << conf;
  EXPECT_TRUE(r.msgs.empty()) << r.msgs[0];
  ExpectSame(c, by_api);
  EXPECT_EQ(c.page_size, 16384u);
  EXPECT_EQ(c.leak_detection, NP_LEAK_PARANOID);
}

TEST(ConfigSet, Sizes) {
  struct {
    const char* text;
    size_t value;
  } ok[] = {{"0", 0},           {"4096", 4096},       {"1k", 1024},         {"1K", 1024},
            {"3m", 3u << 20},   {"3M", 3u << 20},     {"2g", size_t(2) << 30},
            {"2G", size_t(2) << 30}, {"0k", 0},       {"17179869184", size_t(16) << 30}};
  for (const auto& t : ok) {
    SCOPED_TRACE(t.text);
    np_config c = np_config_default();
    EXPECT_EQ(np_config_set(&c, "max_cached_buffer_capacity", t.text), NP_OK);
    EXPECT_EQ(c.max_cached_buffer_capacity, t.value);
  }
  np_config c = np_config_default();
  EXPECT_EQ(np_config_set(&c, "page_size", "64K"), NP_OK);
  EXPECT_EQ(c.page_size, 65536u);
  EXPECT_EQ(np_config_set(&c, "alignment", "0"), NP_OK);
  EXPECT_EQ(np_config_set(&c, "alignment", "4k"), NP_OK);
  EXPECT_EQ(c.alignment, 4096u);
}

TEST(ConfigSet, BooleansAndLevels) {
  np_config c = np_config_default();
  for (const char* t : {"true", "TRUE", "True", "1"}) {
    c.release_empty_init_chunks = 0;
    EXPECT_EQ(np_config_set(&c, "release_empty_init_chunks", t), NP_OK) << t;
    EXPECT_EQ(c.release_empty_init_chunks, 1) << t;
  }
  for (const char* t : {"false", "FALSE", "0"}) {
    c.stats_print = 1;
    EXPECT_EQ(np_config_set(&c, "stats_print", t), NP_OK) << t;
    EXPECT_EQ(c.stats_print, 0) << t;
  }
  struct {
    const char* text;
    np_leak_level level;
  } levels[] = {{"disabled", NP_LEAK_DISABLED}, {"simple", NP_LEAK_SIMPLE},
                {"advanced", NP_LEAK_ADVANCED}, {"paranoid", NP_LEAK_PARANOID},
                {"PARANOID", NP_LEAK_PARANOID}, {"Disabled", NP_LEAK_DISABLED},
                {"0", NP_LEAK_DISABLED},       {"3", NP_LEAK_PARANOID}};
  for (const auto& l : levels) {
    EXPECT_EQ(np_config_set(&c, "leak_detection", l.text), NP_OK) << l.text;
    EXPECT_EQ(c.leak_detection, l.level) << l.text;
  }
}

// A bad value is refused with NP_ERR_CONFIG_VALUE and changes nothing.
TEST(ConfigSet, BadValuesKeepTheSetting) {
  const struct {
    const char* key;
    const char* value;
  } bad[] = {
      {"page_size", ""},          {"page_size", "abc"},        {"page_size", "-8192"},
      {"page_size", "8192.0"},    {"page_size", " 8192"},      {"page_size", "8192 "},
      {"page_size", "16kb"},      {"page_size", "16x"},        {"page_size", "12k"} /* not 2^n */,
      {"page_size", "2048"},      {"page_size", "0"},          {"page_size", "0x2000"},
      {"page_size", "99999999999999999999999"},                {"page_size", "17179869184g"},
      {"max_order", "15"},        {"max_order", "4k"},         {"max_order", "4294967305"},
      {"alignment", "3"},         {"alignment", "48"},         {"arenas", "1025"},
      {"arenas", "-1"},           {"release_empty_init_chunks", "yes"},
      {"release_empty_init_chunks", "2"},                      {"stats_print", ""},
      {"small_cache_size", "65537"},                           {"normal_cache_size", "1m"},
      {"max_cached_buffer_capacity", "1t"},                    {"cache_trim_interval", "0"},
      {"leak_detection", "verbose"},                           {"leak_detection", "4"},
      {"leak_detection", ""},     {"leak_sampling_interval", "0"},
      {"leak_sampling_interval", "4294967296"},
  };
  for (const auto& b : bad) {
    SCOPED_TRACE(std::string(b.key) + " = \"" + b.value + "\"");
    np_config c = np_config_default();
    c.page_size = 16384;  // not the default, to see it is kept as it was
    np_config before = c;
    EXPECT_EQ(np_config_set(&c, b.key, b.value), NP_ERR_CONFIG_VALUE);
    ExpectSame(c, before);
  }
}

TEST(ConfigSet, UnknownKeysAndNulls) {
  np_config c = np_config_default();
  for (const char* k : {"", "page", "Page_Size", "page_size ", "pagesize", "npool.page_size"})
    EXPECT_EQ(np_config_set(&c, k, "8192"), NP_ERR_CONFIG_KEY) << k;
  EXPECT_EQ(np_config_set(nullptr, "arenas", "1"), NP_ERR_NULL_ARGUMENT);
  EXPECT_EQ(np_config_set(&c, nullptr, "1"), NP_ERR_NULL_ARGUMENT);
  EXPECT_EQ(np_config_set(&c, "arenas", nullptr), NP_ERR_NULL_ARGUMENT);
  EXPECT_EQ(np_config_from_string(nullptr, "arenas:1", nullptr, nullptr), NP_ERR_NULL_ARGUMENT);
  ExpectSame(c, np_config_default());
  EXPECT_STRNE(np_strerror(NP_ERR_CONFIG_KEY), np_strerror(NP_ERR_CONFIG_VALUE));
}

// Unknown keys and bad values are reported by name; the rest still applies
// and the setting with the bad value keeps what it had (here the default).
TEST(ConfigString, ProblemsReportedByNameRestApplies) {
  np_config c = np_config_default();
  Reports r;
  int rc = np_config_from_string(&c, "page_size:16k,bogus_key:1,max_order:big,arenas:3,small_cache_size:-1",
                                 Reports::Add, &r);
  EXPECT_EQ(rc, NP_ERR_CONFIG_KEY) << "the first problem's code";
  EXPECT_EQ(c.page_size, 16384u);
  EXPECT_EQ(c.arenas, 3u);
  EXPECT_EQ(c.max_order, 9u);
  EXPECT_EQ(c.small_cache_size, 256u);
  ASSERT_EQ(r.msgs.size(), 3u);
  EXPECT_NE(r.msgs[0].find("unknown key \"bogus_key\""), std::string::npos) << r.msgs[0];
  EXPECT_NE(r.msgs[0].find("page_size"), std::string::npos) << "lists the keys: " << r.msgs[0];
  EXPECT_NE(r.msgs[1].find("\"big\""), std::string::npos) << r.msgs[1];
  EXPECT_NE(r.msgs[1].find("max_order"), std::string::npos) << r.msgs[1];
  EXPECT_NE(r.msgs[1].find("keeping 9"), std::string::npos) << r.msgs[1];
  EXPECT_NE(r.msgs[1].find("0 to 14"), std::string::npos) << "says the range: " << r.msgs[1];
  EXPECT_NE(r.msgs[2].find("small_cache_size"), std::string::npos) << r.msgs[2];
  EXPECT_NE(r.msgs[2].find("keeping 256"), std::string::npos) << r.msgs[2];

  // The value kept is what the config had, not necessarily the default.
  Reports r2;
  np_config d = np_config_default();
  d.leak_detection = NP_LEAK_ADVANCED;
  EXPECT_EQ(np_config_from_string(&d, "leak_detection:loud", Reports::Add, &r2), NP_ERR_CONFIG_VALUE);
  EXPECT_EQ(d.leak_detection, NP_LEAK_ADVANCED);
  ASSERT_EQ(r2.msgs.size(), 1u);
  EXPECT_NE(r2.msgs[0].find("leak_detection"), std::string::npos);
  EXPECT_NE(r2.msgs[0].find("keeping advanced"), std::string::npos) << r2.msgs[0];
  EXPECT_NE(r2.msgs[0].find("paranoid"), std::string::npos) << "names the levels: " << r2.msgs[0];
}

TEST(ConfigString, Syntax) {
  Reports r;
  np_config c = np_config_default();
  // Blanks around keys and values, empty items and a trailing comma are fine;
  // a key given twice takes the last value.
  EXPECT_EQ(np_config_from_string(&c, " page_size : 16k ,, arenas:2,arenas:5,", Reports::Add, &r), NP_OK);
  EXPECT_TRUE(r.msgs.empty());
  EXPECT_EQ(c.page_size, 16384u);
  EXPECT_EQ(c.arenas, 5u);
  // Nothing to do.
  np_config before = c;
  EXPECT_EQ(np_config_from_string(&c, "", Reports::Add, &r), NP_OK);
  EXPECT_EQ(np_config_from_string(&c, nullptr, Reports::Add, &r), NP_OK);
  EXPECT_EQ(np_config_from_string(&c, " , ", Reports::Add, &r), NP_OK);
  EXPECT_TRUE(r.msgs.empty());
  ExpectSame(c, before);
  // An item without ':'.
  EXPECT_EQ(np_config_from_string(&c, "arenas,max_order:10", Reports::Add, &r), NP_ERR_CONFIG_VALUE);
  ASSERT_EQ(r.msgs.size(), 1u);
  EXPECT_NE(r.msgs[0].find("\"arenas\""), std::string::npos) << r.msgs[0];
  EXPECT_EQ(c.arenas, 5u);
  EXPECT_EQ(c.max_order, 10u);
  // An empty value, an empty key.
  r.msgs.clear();
  EXPECT_EQ(np_config_from_string(&c, "arenas:,:7", Reports::Add, &r), NP_ERR_CONFIG_VALUE);
  EXPECT_EQ(r.msgs.size(), 2u);
  EXPECT_EQ(c.arenas, 5u);
  // Very long keys and values are reported, not overflowed.
  r.msgs.clear();
  std::string long_key(300, 'k'), long_value(300, '1');
  EXPECT_EQ(np_config_from_string(&c, (long_key + ":1,arenas:" + long_value).c_str(), Reports::Add, &r),
            NP_ERR_CONFIG_KEY);
  ASSERT_EQ(r.msgs.size(), 2u);
  EXPECT_NE(r.msgs[0].find("unknown key"), std::string::npos) << r.msgs[0];
  EXPECT_NE(r.msgs[1].find("arenas"), std::string::npos) << r.msgs[1];
  EXPECT_EQ(c.arenas, 5u);
  // A value with leading zeros that fits is fine.
  EXPECT_EQ(np_config_from_string(&c, "arenas:0007", Reports::Add, &r), NP_OK);
  EXPECT_EQ(c.arenas, 7u);
}

TEST(ConfigString, DefaultReportGoesToStderr) {
  np_config c = np_config_default();
  testing::internal::CaptureStderr();
  int rc = np_config_from_string(&c, "nope:1,page_size:5", nullptr, nullptr);
  std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(rc, NP_ERR_CONFIG_KEY);
  EXPECT_EQ(err.rfind("npool: ", 0), 0u) << err;
  EXPECT_NE(err.find("\"nope\""), std::string::npos) << err;
  EXPECT_NE(err.find("\nnpool: bad value \"5\" for page_size"), std::string::npos) << err;
  EXPECT_NE(err.find("keeping 8192"), std::string::npos) << err;
  EXPECT_EQ(c.page_size, 8192u);
}

TEST(ConfigEnv, NpoolConf) {
  unsetenv("NPOOL_CONF");
  ExpectSame(np_config_from_env(), np_config_default());

  setenv("NPOOL_CONF", "page_size:16k,max_order:10,leak_detection:disabled,stats_print:true", 1);
  testing::internal::CaptureStderr();
  np_config c = np_config_from_env();
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
  EXPECT_EQ(c.page_size, 16384u);
  EXPECT_EQ(c.max_order, 10u);
  EXPECT_EQ(c.leak_detection, NP_LEAK_DISABLED);
  EXPECT_EQ(c.stats_print, 1);
  EXPECT_EQ(c.small_cache_size, 256u);

  setenv("NPOOL_CONF", "arenas:2,bogus:1,max_order:99", 1);
  testing::internal::CaptureStderr();
  c = np_config_from_env();
  std::string err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("npool: NPOOL_CONF: unknown key \"bogus\""), std::string::npos) << err;
  EXPECT_NE(err.find("npool: NPOOL_CONF: bad value \"99\" for max_order"), std::string::npos) << err;
  EXPECT_EQ(c.arenas, 2u);
  EXPECT_EQ(c.max_order, 9u);
  unsetenv("NPOOL_CONF");
}

// The settings reach the allocator; how they combine is np_allocator_create's.
TEST(ConfigCreate, SettingsFromStringReachTheAllocator) {
  np_config c = np_config_default();
  ASSERT_EQ(np_config_from_string(&c, "page_size:4k,max_order:10,arenas:3,small_cache_size:32,"
                                      "normal_cache_size:8,max_cached_buffer_capacity:16k",
                                  nullptr, nullptr),
            NP_OK);
  np_allocator* a = nullptr;
  ASSERT_EQ(np_allocator_create(&c, &a), NP_OK);
  np_stats s = np_test::Stats(a);
  EXPECT_EQ(s.page_size, 4096u);
  EXPECT_EQ(s.chunk_size, 4096u << 10);
  EXPECT_EQ(s.arenas, 3u);
  EXPECT_EQ(s.small_cache_size, 32u);
  EXPECT_EQ(s.normal_cache_size, 8u);
  EXPECT_EQ(s.max_cached_buffer_capacity, 16384u);
  np_allocator_destroy(a);
}

TEST(ConfigCreate, CombinationsAndStructValuesAreChecked) {
  np_allocator* a = nullptr;
  np_config c = np_config_default();
  ASSERT_EQ(np_config_set(&c, "page_size", "1g"), NP_OK);  // fine alone ...
  EXPECT_EQ(np_allocator_create(&c, &a), NP_ERR_CHUNK_SIZE);  // ... not with max_order 9
  c = np_config_default();
  ASSERT_EQ(np_config_set(&c, "alignment", "16k"), NP_OK);
  EXPECT_EQ(np_allocator_create(&c, &a), NP_ERR_ALIGNMENT);  // above page_size
  // Values put in the struct directly get the same range checks.
  c = np_config_default();
  c.leak_detection = static_cast<np_leak_level>(4);
  EXPECT_EQ(np_allocator_create(&c, &a), NP_ERR_LEAK_DETECTION);
  c.leak_detection = static_cast<np_leak_level>(-1);
  EXPECT_EQ(np_allocator_create(&c, &a), NP_ERR_LEAK_DETECTION);
  c = np_config_default();
  c.leak_sampling_interval = 0;
  EXPECT_EQ(np_allocator_create(&c, &a), NP_ERR_LEAK_DETECTION);
  c = np_config_default();
  c.cache_trim_interval = 0;
  EXPECT_EQ(np_allocator_create(&c, &a), NP_ERR_CACHE);
  c = np_config_default();
  c.small_cache_size = 65537;
  EXPECT_EQ(np_allocator_create(&c, &a), NP_ERR_CACHE);
  c = np_config_default();
  c.stats_print = 7;  // any non-zero int is true
  c.release_empty_init_chunks = -1;
  c.leak_detection = NP_LEAK_PARANOID;
  c.leak_sampling_interval = 1;
  ASSERT_EQ(np_allocator_create(&c, &a), NP_OK);
  c.stats_print = 0;
  testing::internal::CaptureStderr();
  np_allocator_destroy(a);
  EXPECT_NE(testing::internal::GetCapturedStderr().find("npool stats"), std::string::npos);
}

// ---- What np_allocator_create accepts -----------------------------------------

// The defaults (ConfigDefaults above) make Netty's geometry.
TEST(Config, DefaultAllocatorHasNettysGeometry) {
  np_config c = np_config_default();
  AllocPtr a = Make(c);
  ASSERT_TRUE(a);
  np_stats s = Stats(a.get());
  EXPECT_EQ(s.page_size, 8192u);
  EXPECT_EQ(s.chunk_size, 4 * MiB);
  EXPECT_GE(s.arenas, 1u);
}

struct BadConfig {
  const char* what;
  size_t page;
  unsigned max_order;
  size_t alignment;
  unsigned arenas;
  int expect;
};

TEST(Config, RefusesEachInvalidFieldWithItsOwnCode) {
  const BadConfig cases[] = {
      {"page not a power of two", 12288, 9, 0, 0, NP_ERR_PAGE_SIZE},
      {"page 4095", 4095, 9, 0, 0, NP_ERR_PAGE_SIZE},
      {"page below 4096", 2048, 9, 0, 0, NP_ERR_PAGE_SIZE},
      {"page 0", 0, 9, 0, 0, NP_ERR_PAGE_SIZE},
      {"max_order 15", 8192, 15, 0, 0, NP_ERR_MAX_ORDER},
      {"max_order 64", 8192, 64, 0, 0, NP_ERR_MAX_ORDER},
      {"chunk 2 GiB (131072 << 14)", 131072, 14, 0, 0, NP_ERR_CHUNK_SIZE},
      {"chunk 2 GiB (1 MiB << 11)", 1 << 20, 11, 0, 0, NP_ERR_CHUNK_SIZE},
      {"page 2 GiB", size_t(1) << 31, 0, 0, 0, NP_ERR_CHUNK_SIZE},
      {"page 2^62", size_t(1) << 62, 9, 0, 0, NP_ERR_CHUNK_SIZE},
      {"alignment 3", 8192, 9, 3, 0, NP_ERR_ALIGNMENT},
      {"alignment 48", 8192, 9, 48, 0, NP_ERR_ALIGNMENT},
      {"alignment above page", 8192, 9, 16384, 0, NP_ERR_ALIGNMENT},
      {"alignment above 4 KiB page", 4096, 9, 8192, 0, NP_ERR_ALIGNMENT},
      {"arenas absurd", 8192, 9, 0, UINT_MAX, NP_ERR_ARENAS},
      // The first invalid field (in declaration order) is the one named.
      {"page and max_order bad", 12288, 15, 3, 0, NP_ERR_PAGE_SIZE},
      {"max_order and alignment bad", 8192, 15, 3, 0, NP_ERR_MAX_ORDER},
  };
  for (const BadConfig& bc : cases) {
    SCOPED_TRACE(bc.what);
    np_config c = np_config_default();
    c.page_size = bc.page;
    c.max_order = bc.max_order;
    c.alignment = bc.alignment;
    c.arenas = bc.arenas;
    np_allocator* sentinel = reinterpret_cast<np_allocator*>(uintptr_t{0x5a5a5a5a0});
    np_allocator* out = sentinel;
    int rc = np_allocator_create(&c, &out);
    EXPECT_EQ(rc, bc.expect) << np_strerror(rc);
    EXPECT_EQ(out, sentinel) << "*out must be untouched on error";
    if (rc == NP_OK && out != sentinel) np_allocator_destroy(out);
  }
}

TEST(Config, AcceptsTheEdgesOfTheValidRange) {
  struct Ok {
    size_t page;
    unsigned max_order;
    size_t alignment;
  } cases[] = {
      {4096, 9, 0},  {4096, 3, 0},     {8192, 14, 0},    {65536, 14, 0} /* 1 GiB */,
      {131072, 13, 0} /* 1 GiB */,     {8192, 9, 1},     {8192, 9, 16},
      {8192, 9, 8192}, {4096, 9, 4096},
  };
  for (const Ok& ok : cases) {
    SCOPED_TRACE(testing::Message() << "page " << ok.page << " order " << ok.max_order
                                    << " align " << ok.alignment);
    np_config c = np_config_default();
    c.page_size = ok.page;
    c.max_order = ok.max_order;
    c.alignment = ok.alignment;
    np_allocator* a = nullptr;
    int rc = np_allocator_create(&c, &a);
    ASSERT_EQ(rc, NP_OK) << np_strerror(rc);
    ASSERT_NE(a, nullptr);
    np_stats s = Stats(a);
    EXPECT_EQ(s.chunk_size, ok.page << ok.max_order);
    // Every class of every shape (and the tiny-chunk shapes) is covered by
    // ConfigShape below.
    void* p = np_alloc(a, 100);
    EXPECT_NE(p, nullptr);
    EXPECT_EQ(np_free(a, p), NP_OK);
    np_allocator_destroy(a);
  }
}

TEST(Config, NullArguments) {
  np_config c = np_config_default();
  np_allocator* out = nullptr;
  EXPECT_EQ(np_allocator_create(nullptr, &out), NP_ERR_NULL_ARGUMENT);
  EXPECT_EQ(out, nullptr);
  EXPECT_EQ(np_allocator_create(&c, nullptr), NP_ERR_NULL_ARGUMENT);
  np_stats s;
  EXPECT_EQ(np_allocator_stats(nullptr, &s), NP_ERR_NULL_ARGUMENT);
  AllocPtr a = Make(c);
  ASSERT_TRUE(a);
  EXPECT_EQ(np_allocator_stats(a.get(), nullptr), NP_ERR_NULL_ARGUMENT);
  void* p = np_alloc(a.get(), 16);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(np_free(nullptr, p), NP_ERR_NULL_ARGUMENT);
  EXPECT_EQ(np_alloc(nullptr, 16), nullptr);
  EXPECT_EQ(np_usable_size(nullptr, p), 0u);
  EXPECT_EQ(np_usable_size(a.get(), nullptr), 0u);
  EXPECT_EQ(np_free(a.get(), nullptr), NP_OK);
  np_allocator_destroy(nullptr);  // ignored
  // The block is still live and freeable after all that.
  EXPECT_EQ(np_usable_size(a.get(), p), 16u);
  EXPECT_EQ(np_free(a.get(), p), NP_OK);
  np_stats st = Stats(a.get());
  EXPECT_EQ(st.invalid_frees, 0u) << "NULL pointer / NULL allocator frees are not invalid frees";
}

TEST(Config, StrerrorNamesEveryCodeDifferently) {
  std::set<std::string> seen;
  for (int code = 0; code < NP_ERR__COUNT; ++code) {
    const char* m = np_strerror(code);
    ASSERT_NE(m, nullptr) << code;
    EXPECT_GT(strlen(m), 0u) << code;
    EXPECT_TRUE(seen.insert(m).second) << "duplicate message for code " << code << ": " << m;
  }
  for (int code : {-1, static_cast<int>(NP_ERR__COUNT), 1000, INT_MIN, INT_MAX}) {
    const char* m = np_strerror(code);
    ASSERT_NE(m, nullptr) << code;
    EXPECT_GT(strlen(m), 0u) << code;
  }
}

}  // namespace
