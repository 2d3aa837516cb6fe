// np_stats_print: the text form shows what np_allocator_stats gives; the JSON
// form parses (a small strict parser here, and python3's json module when the
// machine has it) and its numbers are np_allocator_stats' and
// np_allocator_arena_stats'. Also the per-arena stats and stats_print.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/test_support.h"
#include "npool.h"

namespace {

using np_test::Stats;

// ---- A strict JSON parser (RFC 8259), enough to check the output ----------
struct Json {
  enum Kind { kNull, kBool, kNumber, kString, kArray, kObject } kind = kNull;
  std::string text;  // number as written, or string contents
  std::vector<Json> items;
  std::vector<std::pair<std::string, Json>> members;

  const Json& operator[](const std::string& key) const {
    for (const auto& m : members)
      if (m.first == key) return m.second;
    ADD_FAILURE() << "no key " << key;
    static Json none;
    return none;
  }
  bool Has(const std::string& key) const {
    for (const auto& m : members)
      if (m.first == key) return true;
    return false;
  }
  const Json& operator[](size_t i) const { return items.at(i); }
  uint64_t U() const {
    EXPECT_EQ(kind, kNumber);
    return strtoull(text.c_str(), nullptr, 10);
  }
  long long I() const {
    EXPECT_EQ(kind, kNumber);
    return strtoll(text.c_str(), nullptr, 10);
  }
};

class JsonParser {
 public:
  explicit JsonParser(const std::string& s) : s_(s) {}
  bool Parse(Json* out) {
    Ws();
    if (!Value(out, 0)) return false;
    Ws();
    return pos_ == s_.size();
  }
  size_t pos() const { return pos_; }

 private:
  void Ws() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r'))
      ++pos_;
  }
  bool Lit(const char* w) {
    size_t n = strlen(w);
    if (s_.compare(pos_, n, w) != 0) return false;
    pos_ += n;
    return true;
  }
  bool Value(Json* v, int depth) {
    if (depth > 64 || pos_ >= s_.size()) return false;
    char c = s_[pos_];
    if (c == '{') return Object(v, depth);
    if (c == '[') return Array(v, depth);
    if (c == '"') {
      v->kind = Json::kString;
      return String(&v->text);
    }
    if (c == 't' || c == 'f') {
      v->kind = Json::kBool;
      v->text = c == 't' ? "true" : "false";
      return Lit(v->text.c_str());
    }
    if (c == 'n') return Lit("null");
    return Number(v);
  }
  bool Number(Json* v) {
    size_t start = pos_;
    if (s_[pos_] == '-') ++pos_;
    if (pos_ >= s_.size() || !isdigit(static_cast<unsigned char>(s_[pos_]))) return false;
    if (s_[pos_] == '0') ++pos_;
    else
      while (pos_ < s_.size() && isdigit(static_cast<unsigned char>(s_[pos_]))) ++pos_;
    if (pos_ < s_.size() && s_[pos_] == '.') {
      ++pos_;
      if (pos_ >= s_.size() || !isdigit(static_cast<unsigned char>(s_[pos_]))) return false;
      while (pos_ < s_.size() && isdigit(static_cast<unsigned char>(s_[pos_]))) ++pos_;
    }
    if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
      ++pos_;
      if (pos_ < s_.size() && (s_[pos_] == '+' || s_[pos_] == '-')) ++pos_;
      if (pos_ >= s_.size() || !isdigit(static_cast<unsigned char>(s_[pos_]))) return false;
      while (pos_ < s_.size() && isdigit(static_cast<unsigned char>(s_[pos_]))) ++pos_;
    }
    v->kind = Json::kNumber;
    v->text = s_.substr(start, pos_ - start);
    return true;
  }
  bool String(std::string* out) {
    if (!Lit("\"")) return false;
    while (pos_ < s_.size()) {
      unsigned char c = static_cast<unsigned char>(s_[pos_++]);
      if (c == '"') return true;
      if (c < 0x20) return false;  // control characters must be escaped
      if (c != '\\') {
        out->push_back(static_cast<char>(c));
        continue;
      }
      if (pos_ >= s_.size()) return false;
      char e = s_[pos_++];
      switch (e) {
        case '"': case '\\': case '/': out->push_back(e); break;
        case 'b': out->push_back('\b'); break;
        case 'f': out->push_back('\f'); break;
        case 'n': out->push_back('\n'); break;
        case 'r': out->push_back('\r'); break;
        case 't': out->push_back('\t'); break;
        case 'u': {
          if (pos_ + 4 > s_.size()) return false;
          for (int i = 0; i < 4; ++i)
            if (!isxdigit(static_cast<unsigned char>(s_[pos_ + i]))) return false;
          unsigned code = static_cast<unsigned>(strtoul(s_.substr(pos_, 4).c_str(), nullptr, 16));
          pos_ += 4;
          out->push_back(code < 0x80 ? static_cast<char>(code) : '?');
          break;
        }
        default: return false;
      }
    }
    return false;
  }
  bool Array(Json* v, int depth) {
    v->kind = Json::kArray;
    ++pos_;
    Ws();
    if (Lit("]")) return true;
    for (;;) {
      Json item;
      Ws();
      if (!Value(&item, depth + 1)) return false;
      v->items.push_back(std::move(item));
      Ws();
      if (Lit("]")) return true;
      if (!Lit(",")) return false;
    }
  }
  bool Object(Json* v, int depth) {
    v->kind = Json::kObject;
    ++pos_;
    Ws();
    if (Lit("}")) return true;
    for (;;) {
      std::string key;
      Ws();
      if (!String(&key)) return false;
      for (const auto& m : v->members)
        if (m.first == key) return false;  // duplicate keys: not for us
      Ws();
      if (!Lit(":")) return false;
      Ws();
      Json value;
      if (!Value(&value, depth + 1)) return false;
      v->members.emplace_back(key, std::move(value));
      Ws();
      if (Lit("}")) return true;
      if (!Lit(",")) return false;
    }
  }
  const std::string& s_;
  size_t pos_ = 0;
};

TEST(JsonParser, AcceptsJsonRefusesTheRest) {
  for (const char* ok : {"{}", "[]", "0", "-1.5e3", "\"a\\\"b\\u0041\"", "{\"a\": [1, 2, {\"b\": null}], \"c\": true}"}) {
    Json j;
    EXPECT_TRUE(JsonParser(ok).Parse(&j)) << ok;
  }
  for (const char* bad : {"", "{", "[1,]", "{\"a\":1,}", "{a:1}", "01", "1.", "\"\x01\"", "[1] x",
                          "{\"a\":1,\"a\":2}", "'a'", "\"\\x\""}) {
    Json j;
    EXPECT_FALSE(JsonParser(bad).Parse(&j)) << bad;
  }
}

// ---- Helpers -----------------------------------------------------------------
std::string Print(np_allocator* a, int json) {
  char* buf = nullptr;
  size_t len = 0;
  FILE* f = open_memstream(&buf, &len);
  EXPECT_NE(f, nullptr);
  if (f == nullptr) return "";
  EXPECT_EQ(np_stats_print(a, f, json), NP_OK);
  fclose(f);
  std::string out(buf, len);
  free(buf);
  return out;
}

std::vector<std::string> Lines(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

std::vector<std::string> Tokens(const std::string& line) {
  std::vector<std::string> out;
  std::istringstream in(line);
  for (std::string t; in >> t;) out.push_back(t);
  return out;
}

bool IsNumber(const std::string& t) {
  return !t.empty() && t.find_first_not_of("0123456789") == std::string::npos;
}

// The first line after a line starting with `after` (or from the top) whose
// first token is `first` and whose second is a number.
std::vector<std::string> Row(const std::vector<std::string>& lines, const std::string& first,
                             const std::string& after = "") {
  bool on = after.empty();
  for (const std::string& l : lines) {
    if (!on) {
      on = l.rfind(after, 0) == 0;
      continue;
    }
    std::vector<std::string> t = Tokens(l);
    if (t.size() >= 2 && t[0] == first && IsNumber(t[1])) return t;
  }
  ADD_FAILURE() << "no row " << first;
  return {};
}

using np_test::AllocPtr;
using np_test::Make;

// Something in every kind, list and a few small classes: blocks of 16, 100
// and 3000 bytes, normal ones, enough 1 MiB blocks to fill a few chunks, a
// huge block; some freed; one invalid free.
struct Workload {
  std::vector<void*> live;
  void Run(np_allocator* a) {
    std::vector<void*> freed;
    for (int i = 0; i < 300; ++i) (i % 3 ? live : freed).push_back(np_alloc(a, 16));
    for (int i = 0; i < 40; ++i) (i % 2 ? live : freed).push_back(np_alloc(a, 100));
    for (int i = 0; i < 5; ++i) live.push_back(np_alloc(a, 3000));
    for (int i = 0; i < 6; ++i) (i % 3 ? live : freed).push_back(np_alloc(a, 40000));
    for (int i = 0; i < 9; ++i) live.push_back(np_alloc(a, 1 << 20));
    live.push_back(np_alloc(a, 5 << 20));
    for (void* p : live) ASSERT_NE(p, nullptr);
    for (void* p : freed) ASSERT_EQ(np_free(a, p), NP_OK);
    int x;
    EXPECT_NE(np_free(a, &x), NP_OK);
  }
  void Free(np_allocator* a) {
    for (void* p : live) EXPECT_EQ(np_free(a, p), NP_OK);
    live.clear();
  }
};

np_config PoolOnly(unsigned arenas) {
  np_config c = np_config_default();
  c.small_cache_size = c.normal_cache_size = 0;
  c.arenas = arenas;
  return c;
}

const char* const kLists[] = {"qInit", "q000", "q025", "q050", "q075", "q100"};

// ---- Text --------------------------------------------------------------------
void CheckText(np_allocator* a) {
  np_stats s = Stats(a);
  std::string out = Print(a, 0);
  SCOPED_TRACE(out);
  std::vector<std::string> lines = Lines(out);
  EXPECT_NE(out.find("strategy " + std::string(np_strategy_name())), std::string::npos);
  EXPECT_NE(out.find("caches " + std::string(s.cache_mode)), std::string::npos);
  EXPECT_NE(out.find(std::to_string(s.arenas) + " arenas, page " + std::to_string(s.page_size) + " B, chunk " +
                     std::to_string(s.chunk_size) + " B, " + std::to_string(s.size_classes) +
                     " size classes (" + std::to_string(s.small_classes) + " small)"),
            std::string::npos);
  EXPECT_NE(out.find(std::to_string(s.thread_caches) + " thread caches; " + std::to_string(s.small_cache_size) +
                     " entries per small class, " + std::to_string(s.normal_cache_size) +
                     " per normal class up to " + std::to_string(s.max_cached_buffer_capacity) + " B; " +
                     std::to_string(s.cached_bytes) + " B cached"),
            std::string::npos);
  EXPECT_NE(out.find(std::to_string(s.mapped_bytes) + " B mapped; chunks " + std::to_string(s.chunk_allocations) +
                     " allocated, " + std::to_string(s.chunk_deallocations) + " deallocated; " +
                     std::to_string(s.invalid_frees) + " invalid frees"),
            std::string::npos);
  const np_size_kind_stats* kinds[] = {&s.small, &s.normal, &s.huge};
  const char* names[] = {"small", "normal", "huge"};
  for (int k = 0; k < 3; ++k) {
    std::vector<std::string> t = Row(lines, names[k]);
    ASSERT_EQ(t.size(), 5u) << names[k];
    EXPECT_EQ(t[1], std::to_string(kinds[k]->allocations)) << names[k];
    EXPECT_EQ(t[2], std::to_string(kinds[k]->deallocations)) << names[k];
    EXPECT_EQ(t[3], std::to_string(kinds[k]->active)) << names[k];
    EXPECT_EQ(t[4], std::to_string(kinds[k]->active_bytes)) << names[k];
  }
  for (int i = 0; i < NP_CHUNK_LISTS; ++i) {
    const np_chunk_list_stats& l = s.lists[i];
    EXPECT_STREQ(l.name, kLists[i]);
    std::vector<std::string> t;
    for (const std::string& line : lines) {
      std::vector<std::string> tk = Tokens(line);
      if (!tk.empty() && tk[0] == kLists[i]) t = tk;
    }
    ASSERT_GE(t.size(), 4u) << kLists[i];
    EXPECT_EQ(t[1], std::to_string(l.min_usage) + ".." + std::to_string(l.max_usage));
    EXPECT_EQ(t[2], std::to_string(l.chunks)) << kLists[i];
    EXPECT_EQ(t[3], std::to_string(l.free_bytes)) << kLists[i];
    size_t shown = l.chunks < NP_STATS_MAX_CHUNKS ? l.chunks : NP_STATS_MAX_CHUNKS;
    ASSERT_GE(t.size(), 4 + shown) << kLists[i];
    for (size_t c = 0; c < shown; ++c) EXPECT_EQ(t[4 + c], std::to_string(l.usage[c])) << kLists[i] << " " << c;
  }
  // Small classes: exactly those with subpages, by index.
  std::map<unsigned, std::vector<std::string>> rows;
  bool in_classes = false;
  for (const std::string& line : lines) {
    if (line.rfind("class ", 0) == 0) in_classes = true;
    else if (line.empty()) in_classes = false;
    else if (in_classes) {
      std::vector<std::string> t = Tokens(line);
      ASSERT_EQ(t.size(), 7u) << line;
      rows[static_cast<unsigned>(std::stoul(t[0]))] = t;
    }
  }
  unsigned with_subpages = 0;
  for (unsigned i = 0; i < s.small_classes; ++i) {
    const np_small_class_stats& c = s.small_class[i];
    if (c.subpages == 0) {
      EXPECT_EQ(rows.count(i), 0u) << "class " << i << " has no subpages";
      continue;
    }
    ++with_subpages;
    ASSERT_EQ(rows.count(i), 1u) << "class " << i;
    const std::vector<std::string>& t = rows[i];
    EXPECT_EQ(t[1], std::to_string(c.elem_size));
    EXPECT_EQ(t[2], std::to_string(c.run_pages));
    EXPECT_EQ(t[3], std::to_string(c.elems_per_run));
    EXPECT_EQ(t[4], std::to_string(c.subpages));
    EXPECT_EQ(t[5], std::to_string(c.elements));
    EXPECT_EQ(t[6], std::to_string(c.free_elements));
  }
  EXPECT_EQ(rows.size(), with_subpages);
}

TEST(StatsPrintText, FreshAllocator) {
  AllocPtr a = Make(PoolOnly(2));
  CheckText(a.get());
  std::string out = Print(a.get(), 0);
  EXPECT_NE(out.find("small classes: none has subpages"), std::string::npos) << out;
  EXPECT_NE(out.find("(2 arenas never used, not shown)"), std::string::npos) << out;
}

TEST(StatsPrintText, AfterAWorkloadPoolOnly) {
  AllocPtr a = Make(PoolOnly(2));
  Workload w;
  w.Run(a.get());
  CheckText(a.get());
  np_stats s = Stats(a.get());
  EXPECT_GT(s.small.active, 0u);
  EXPECT_GT(s.normal.active, 0u);
  EXPECT_EQ(s.huge.active, 1u);
  EXPECT_EQ(s.invalid_frees, 1u);
  std::string out = Print(a.get(), 0);
  for (const char* l : kLists) EXPECT_NE(out.find(l), std::string::npos) << l;
  // The arena this thread used has a row; its numbers are the arena's.
  bool found = false;
  for (unsigned i = 0; i < s.arenas; ++i) {
    np_stats as;
    ASSERT_EQ(np_allocator_arena_stats(a.get(), i, &as), NP_OK);
    if (as.chunk_allocations == 0) continue;
    std::vector<std::string> t = Row(Lines(out), std::to_string(i), "arena ");
    ASSERT_EQ(t.size(), 9u);
    EXPECT_EQ(t[2], std::to_string(as.small.active));
    EXPECT_EQ(t[3], std::to_string(as.normal.active));
    EXPECT_EQ(t[4], std::to_string(as.huge.active));
    EXPECT_EQ(t[6], std::to_string(as.chunk_allocations));
    EXPECT_EQ(t[8], std::to_string(as.mapped_bytes));
    found = true;
  }
  EXPECT_TRUE(found);
  w.Free(a.get());
  CheckText(a.get());
}

TEST(StatsPrintText, AfterAWorkloadWithCaches) {
  AllocPtr a = Make(np_config_default());
  Workload w;
  w.Run(a.get());
  CheckText(a.get());
  w.Free(a.get());
  CheckText(a.get());
  np_thread_cache_flush(a.get());
  CheckText(a.get());
}

// ---- JSON --------------------------------------------------------------------
void CheckKind(const Json& j, const np_size_kind_stats& k) {
  EXPECT_EQ(j["allocations"].U(), k.allocations);
  EXPECT_EQ(j["deallocations"].U(), k.deallocations);
  EXPECT_EQ(j["active"].U(), k.active);
  EXPECT_EQ(j["active_bytes"].U(), k.active_bytes);
}

void CheckCounters(const Json& j, const np_stats& s) {
  CheckKind(j["small"], s.small);
  CheckKind(j["normal"], s.normal);
  CheckKind(j["huge"], s.huge);
  EXPECT_EQ(j["thread_caches"].U(), s.thread_caches);
  EXPECT_EQ(j["chunk_allocations"].U(), s.chunk_allocations);
  EXPECT_EQ(j["chunk_deallocations"].U(), s.chunk_deallocations);
  EXPECT_EQ(j["mapped_bytes"].U(), s.mapped_bytes);
  const Json& lists = j["lists"];
  ASSERT_EQ(lists.items.size(), size_t{NP_CHUNK_LISTS});
  for (int i = 0; i < NP_CHUNK_LISTS; ++i) {
    const Json& l = lists[i];
    EXPECT_EQ(l["name"].text, kLists[i]);
    EXPECT_EQ(l["min_usage"].I(), s.lists[i].min_usage);
    EXPECT_EQ(l["max_usage"].I(), s.lists[i].max_usage);
    EXPECT_EQ(l["chunks"].U(), s.lists[i].chunks);
    EXPECT_EQ(l["free_bytes"].U(), s.lists[i].free_bytes);
    size_t shown = s.lists[i].chunks < NP_STATS_MAX_CHUNKS ? s.lists[i].chunks : NP_STATS_MAX_CHUNKS;
    ASSERT_EQ(l["usage"].items.size(), shown);
    for (size_t c = 0; c < shown; ++c) EXPECT_EQ(l["usage"][c].U(), s.lists[i].usage[c]);
  }
}

void CheckClass(const Json& c, const np_stats& s) {
  unsigned i = static_cast<unsigned>(c["index"].U());
  ASSERT_LT(i, s.small_classes);
  const np_small_class_stats& k = s.small_class[i];
  EXPECT_EQ(c["elem_size"].U(), k.elem_size);
  EXPECT_EQ(c["run_pages"].U(), k.run_pages);
  EXPECT_EQ(c["elems_per_run"].U(), k.elems_per_run);
  EXPECT_EQ(c["subpages"].U(), k.subpages);
  EXPECT_EQ(c["elements"].U(), k.elements);
  EXPECT_EQ(c["free_elements"].U(), k.free_elements);
}

void CheckJson(np_allocator* a) {
  np_stats s = Stats(a);
  std::string out = Print(a, 1);
  SCOPED_TRACE(out);
  Json j;
  JsonParser p(out);
  ASSERT_TRUE(p.Parse(&j)) << "invalid JSON near byte " << p.pos();
  ASSERT_EQ(j.kind, Json::kObject);
  EXPECT_EQ(j["strategy"].text, s.strategy);
  EXPECT_EQ(j["cache_mode"].text, s.cache_mode);
  EXPECT_EQ(j["per_cpu_unavailable"].text, s.per_cpu_unavailable);
  EXPECT_EQ(j["page_size"].U(), s.page_size);
  EXPECT_EQ(j["chunk_size"].U(), s.chunk_size);
  EXPECT_EQ(j["arenas"].U(), s.arenas);
  EXPECT_EQ(j["size_classes"].U(), s.size_classes);
  EXPECT_EQ(j["small_classes"].U(), s.small_classes);
  EXPECT_EQ(j["small_cache_size"].U(), s.small_cache_size);
  EXPECT_EQ(j["normal_cache_size"].U(), s.normal_cache_size);
  EXPECT_EQ(j["max_cached_buffer_capacity"].U(), s.max_cached_buffer_capacity);
  EXPECT_EQ(j["cached_bytes"].U(), s.cached_bytes);
  EXPECT_EQ(j["thread_cached_bytes"].U(), s.thread_cached_bytes);
  EXPECT_EQ(j["remote_cached_bytes"].U(), s.remote_cached_bytes);
  EXPECT_EQ(j["cpu_cached_bytes"].U(), s.cpu_cached_bytes);
  EXPECT_EQ(j["transfer_cached_bytes"].U(), s.transfer_cached_bytes);
  EXPECT_EQ(j["subpage_free_bytes"].U(), s.subpage_free_bytes);
  EXPECT_EQ(j["chunk_free_dirty_bytes"].U(), s.chunk_free_dirty_bytes);
  EXPECT_EQ(j["chunk_free_purged_bytes"].U(), s.chunk_free_purged_bytes);
  EXPECT_EQ(j["metadata_bytes"].U(), s.metadata_bytes);
  EXPECT_EQ(j["huge_tail_bytes"].U(), s.huge_tail_bytes);
  EXPECT_EQ(j["invalid_frees"].U(), s.invalid_frees);
  CheckCounters(j, s);
  // Every small class, in order.
  const Json& classes = j["small_class"];
  ASSERT_EQ(classes.items.size(), s.small_classes);
  for (unsigned i = 0; i < s.small_classes; ++i) {
    EXPECT_EQ(classes[i]["index"].U(), i);
    CheckClass(classes[i], s);
  }
  // Every arena, with its classes that have subpages.
  const Json& arenas = j["arena"];
  ASSERT_EQ(arenas.items.size(), s.arenas);
  for (unsigned i = 0; i < s.arenas; ++i) {
    np_stats as;
    ASSERT_EQ(np_allocator_arena_stats(a, i, &as), NP_OK);
    EXPECT_EQ(arenas[i]["index"].U(), i);
    CheckCounters(arenas[i], as);
    size_t used = 0;
    for (unsigned c = 0; c < as.small_classes; ++c) used += as.small_class[c].subpages != 0;
    ASSERT_EQ(arenas[i]["small_class"].items.size(), used);
    for (const Json& c : arenas[i]["small_class"].items) {
      CheckClass(c, as);
      EXPECT_GT(c["subpages"].U(), 0u);
    }
  }
}

TEST(StatsPrintJson, FreshAllocator) {
  AllocPtr a = Make(PoolOnly(3));
  CheckJson(a.get());
}

TEST(StatsPrintJson, AfterAWorkloadPoolOnly) {
  AllocPtr a = Make(PoolOnly(2));
  Workload w;
  w.Run(a.get());
  CheckJson(a.get());
  w.Free(a.get());
  CheckJson(a.get());
}

TEST(StatsPrintJson, AfterAWorkloadWithCaches) {
  AllocPtr a = Make(np_config_default());
  Workload w;
  w.Run(a.get());
  CheckJson(a.get());
  w.Free(a.get());
  CheckJson(a.get());
}

// An independent check of the syntax: python3's json module, where installed.
TEST(StatsPrintJson, PythonParsesIt) {
  const char* python = "/usr/bin/python3";
  if (access(python, X_OK) != 0) GTEST_SKIP() << "no " << python;
  AllocPtr a = Make(np_config_default());
  Workload w;
  w.Run(a.get());
  const char* dir = getenv("TEST_TMPDIR");
  std::string path = std::string(dir ? dir : "/tmp") + "/npool_stats_" + std::to_string(getpid()) + ".json";
  FILE* f = fopen(path.c_str(), "w");
  ASSERT_NE(f, nullptr) << path;
  ASSERT_EQ(np_stats_print(a.get(), f, 1), NP_OK);
  fclose(f);
  np_stats s = Stats(a.get());
  // Parses, and a few numbers read back the same.
  std::string cmd = std::string(python) +
                    " -c 'import json,sys; d=json.load(open(sys.argv[1])); "
                    "print(d[\"arenas\"], d[\"mapped_bytes\"], d[\"small\"][\"active\"], "
                    "len(d[\"arena\"]), [l[\"name\"] for l in d[\"lists\"]])' " +
                    path;
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  char line[512] = "";
  if (fgets(line, sizeof line, p) == nullptr) line[0] = '\0';
  int rc = pclose(p);
  EXPECT_EQ(rc, 0) << "python3 could not parse " << path;
  std::string expect = std::to_string(s.arenas) + " " + std::to_string(s.mapped_bytes) + " " +
                       std::to_string(s.small.active) + " " + std::to_string(s.arenas) +
                       " ['qInit', 'q000', 'q025', 'q050', 'q075', 'q100']\n";
  EXPECT_EQ(line, expect);
  unlink(path.c_str());
  w.Free(a.get());
}

// ---- Per-arena stats, errors, stats_print at destroy --------------------------
TEST(ArenaStats, SumToTheAllocatorsWithoutCaches) {
  AllocPtr a = Make(PoolOnly(3));
  Workload w;
  w.Run(a.get());
  np_stats s = Stats(a.get()), sum;
  memset(&sum, 0, sizeof sum);
  for (unsigned i = 0; i < s.arenas; ++i) {
    np_stats as;
    ASSERT_EQ(np_allocator_arena_stats(a.get(), i, &as), NP_OK);
    EXPECT_EQ(as.arenas, s.arenas);
    EXPECT_EQ(as.chunk_size, s.chunk_size);
    EXPECT_EQ(as.invalid_frees, 0u);
    EXPECT_EQ(as.cached_bytes, 0u);
    using KP = std::pair<np_size_kind_stats*, const np_size_kind_stats*>;
    for (KP kp : {KP{&sum.small, &as.small}, KP{&sum.normal, &as.normal}, KP{&sum.huge, &as.huge}}) {
      kp.first->allocations += kp.second->allocations;
      kp.first->deallocations += kp.second->deallocations;
      kp.first->active += kp.second->active;
      kp.first->active_bytes += kp.second->active_bytes;
    }
    sum.chunk_allocations += as.chunk_allocations;
    sum.mapped_bytes += as.mapped_bytes;
    for (int l = 0; l < NP_CHUNK_LISTS; ++l) sum.lists[l].chunks += as.lists[l].chunks;
    for (unsigned c = 0; c < s.small_classes; ++c) sum.small_class[c].subpages += as.small_class[c].subpages;
  }
  EXPECT_EQ(sum.small.allocations, s.small.allocations);
  EXPECT_EQ(sum.small.active_bytes, s.small.active_bytes);
  EXPECT_EQ(sum.normal.active, s.normal.active);
  EXPECT_EQ(sum.huge.active_bytes, s.huge.active_bytes);
  EXPECT_EQ(sum.chunk_allocations, s.chunk_allocations);
  EXPECT_EQ(sum.mapped_bytes, s.mapped_bytes);
  for (int l = 0; l < NP_CHUNK_LISTS; ++l) EXPECT_EQ(sum.lists[l].chunks, s.lists[l].chunks);
  for (unsigned c = 0; c < s.small_classes; ++c) EXPECT_EQ(sum.small_class[c].subpages, s.small_class[c].subpages);
  w.Free(a.get());
}

// ---- Where the bytes are -------------------------------------------------------
// The parts of np_stats that say where memory sits add up to the totals they
// split, and each moves when blocks move there.
void CheckWhereAddsUp(const np_stats& s) {
  EXPECT_EQ(s.thread_cached_bytes + s.remote_cached_bytes + s.cpu_cached_bytes + s.transfer_cached_bytes,
            s.cached_bytes);
  uint64_t subpage_free = 0, chunk_free = 0;
  for (unsigned c = 0; c < s.small_classes; ++c)
    subpage_free += s.small_class[c].free_elements * s.small_class[c].elem_size;
  for (int l = 0; l < NP_CHUNK_LISTS; ++l) chunk_free += s.lists[l].free_bytes;
  EXPECT_EQ(s.subpage_free_bytes, subpage_free);
  EXPECT_EQ(s.chunk_free_dirty_bytes + s.chunk_free_purged_bytes, chunk_free);
  EXPECT_EQ(s.chunk_free_dirty_bytes + s.retained_bytes, s.dirty_bytes);
  EXPECT_GT(s.metadata_bytes, 0u);
}

TEST(WhereTheBytesAre, OwnAndRemoteFreesAndPurges) {
  np_config c = np_config_default();
  c.arenas = 1;
  AllocPtr a = Make(c);
  std::vector<void*> mine(200);
  for (void*& p : mine) ASSERT_NE(p = np_alloc(a.get(), 100), nullptr);
  np_stats s = Stats(a.get());
  CheckWhereAddsUp(s);
  EXPECT_GT(s.subpage_free_bytes, 0u) << "the rest of the runs the blocks came from";
  for (int i = 0; i < 50; ++i) ASSERT_EQ(np_free(a.get(), mine[i]), NP_OK);
  np_stats own = Stats(a.get());
  CheckWhereAddsUp(own);
  const bool per_cpu = std::string(own.cache_mode) == "per-CPU";
  EXPECT_EQ(per_cpu ? own.cpu_cached_bytes : own.thread_cached_bytes, s.thread_cached_bytes +
                                                                          s.cpu_cached_bytes + 50 * 112);
  // Another thread frees 40 of this thread's blocks and exits: with thread
  // caches they wait for their owner (remote); per CPU they are on that CPU.
  std::thread other([&] {
    for (int i = 50; i < 90; ++i) EXPECT_EQ(np_free(a.get(), mine[i]), NP_OK);
  });
  other.join();
  np_stats remote = Stats(a.get());
  CheckWhereAddsUp(remote);
  EXPECT_EQ(remote.cached_bytes, own.cached_bytes + 40 * 112);
  if (!per_cpu) EXPECT_EQ(remote.remote_cached_bytes, own.remote_cached_bytes + 40 * 112);
  // Everything back, caches flushed, then purged: free pages are no longer resident.
  for (int i = 90; i < 200; ++i) ASSERT_EQ(np_free(a.get(), mine[i]), NP_OK);
  np_thread_cache_flush(a.get());
  void* keep = np_alloc(a.get(), 100000);  // a chunk stays in use, with free pages
  ASSERT_NE(keep, nullptr);
  ASSERT_EQ(np_allocator_purge(a.get()), NP_OK);
  np_stats purged = Stats(a.get());
  CheckWhereAddsUp(purged);
  EXPECT_EQ(purged.chunk_free_dirty_bytes, 0u);
  EXPECT_GT(purged.chunk_free_purged_bytes, 0u);
  ASSERT_EQ(np_free(a.get(), keep), NP_OK);
}

TEST(ArenaStats, Errors) {
  AllocPtr a = Make(PoolOnly(2));
  np_stats s;
  EXPECT_EQ(np_allocator_arena_stats(a.get(), 2, &s), NP_ERR_ARENA_INDEX);
  EXPECT_EQ(np_allocator_arena_stats(a.get(), UINT32_MAX, &s), NP_ERR_ARENA_INDEX);
  EXPECT_EQ(np_allocator_arena_stats(nullptr, 0, &s), NP_ERR_NULL_ARGUMENT);
  EXPECT_EQ(np_allocator_arena_stats(a.get(), 0, nullptr), NP_ERR_NULL_ARGUMENT);
  EXPECT_EQ(np_stats_print(nullptr, stdout, 0), NP_ERR_NULL_ARGUMENT);
  EXPECT_EQ(np_stats_print(a.get(), nullptr, 1), NP_ERR_NULL_ARGUMENT);
  FILE* full = fopen("/dev/full", "w");
  if (full == nullptr) GTEST_SKIP() << "no /dev/full";
  EXPECT_EQ(np_stats_print(a.get(), full, 0), NP_ERR_OUTPUT);
  clearerr(full);
  EXPECT_EQ(np_stats_print(a.get(), full, 1), NP_ERR_OUTPUT);
  fclose(full);
}

TEST(StatsPrintAtDestroy, PrintsWhenAsked) {
  np_config c = np_config_default();
  ASSERT_EQ(np_config_from_string(&c, "stats_print:true", nullptr, nullptr), NP_OK);
  np_allocator* a = nullptr;
  ASSERT_EQ(np_allocator_create(&c, &a), NP_OK);
  void* p = np_alloc(a, 100);
  ASSERT_NE(p, nullptr);
  testing::internal::CaptureStderr();
  np_allocator_destroy(a);
  std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(err.rfind("npool stats: strategy ", 0), 0u) << err;
  for (const char* l : kLists) EXPECT_NE(err.find(l), std::string::npos) << l;
  EXPECT_NE(err.find("small classes with subpages"), std::string::npos) << err;

  // Off (the default): nothing.
  c = np_config_default();
  ASSERT_EQ(np_allocator_create(&c, &a), NP_OK);
  testing::internal::CaptureStderr();
  np_allocator_destroy(a);
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
}

// A string with characters JSON must escape goes out escaped: the rseq
// fallback's reason is the only free text; check the escaping through it
// when present, and the whole output parses either way (CheckJson).
TEST(StatsPrintJson, StringsAreEscaped) {
  AllocPtr a = Make(np_config_default());
  np_stats s = Stats(a.get());
  std::string out = Print(a.get(), 1);
  Json j;
  ASSERT_TRUE(JsonParser(out).Parse(&j));
  EXPECT_EQ(j["per_cpu_unavailable"].text, s.per_cpu_unavailable);
}

}  // namespace
