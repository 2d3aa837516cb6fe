// The sweep's parts: size distributions, the latency histogram, the CSV
// writer, the run folders, the closing summary.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <vector>

extern "C" {
#include "experiments/latency_histogram.h"
#include "experiments/result_csv.h"
#include "experiments/run_dir.h"
#include "experiments/size_dist.h"
#include "experiments/sweep_summary.h"
}

namespace {

std::vector<uint32_t> Draw(size_dist d, uint64_t seed, size_t n = 100000) {
  std::vector<uint32_t> v(n);
  size_dist_fill(d, seed, v.data(), n);
  return v;
}

TEST(SizeDist, NamesRoundTrip) {
  for (int d = 0; d < DIST_COUNT; d++)
    EXPECT_EQ(size_dist_parse(size_dist_name(static_cast<size_dist>(d))), d);
  EXPECT_EQ(size_dist_parse("nosuch"), -1);
  EXPECT_EQ(size_dist_parse(nullptr), -1);
  EXPECT_STREQ(size_dist_all(), "fixed64,small,net,mixed,large,invsq");
}

TEST(SizeDist, SameSeedSameSizes) {
  for (int d = 0; d < DIST_COUNT; d++) {
    auto a = Draw(static_cast<size_dist>(d), 42), b = Draw(static_cast<size_dist>(d), 42);
    EXPECT_EQ(a, b);
  }
  EXPECT_NE(Draw(DIST_SMALL, 1), Draw(DIST_SMALL, 2));
}

TEST(SizeDist, Fixed64) {
  for (uint32_t s : Draw(DIST_FIXED64, 7)) ASSERT_EQ(s, 64u);
}

TEST(SizeDist, SmallIsUniform16To512) {
  auto v = Draw(DIST_SMALL, 7);
  double sum = 0;
  uint32_t lo = ~0u, hi = 0;
  for (uint32_t s : v) {
    ASSERT_GE(s, 16u);
    ASSERT_LE(s, 512u);
    lo = std::min(lo, s), hi = std::max(hi, s);
    sum += s;
  }
  EXPECT_EQ(lo, 16u);
  EXPECT_EQ(hi, 512u);
  EXPECT_NEAR(sum / v.size(), 264.0, 3.0);
}

TEST(SizeDist, NetIsMostly256To16KWithATailPast64K) {
  auto v = Draw(DIST_NET, 7);
  size_t body = 0, tail = 0;
  for (uint32_t s : v) {
    if (s >= 256 && s <= 16384) body++;
    else if (s > 65536 && s <= (1u << 20)) tail++;
    else FAIL() << "size " << s << " outside both ranges";
  }
  EXPECT_NEAR(static_cast<double>(tail) / v.size(), 0.08, 0.005);
  // Log-uniform: as many in [256, 2 KiB) as in [2 KiB, 16 KiB].
  size_t low = 0;
  for (uint32_t s : v) low += s >= 256 && s < 2048;
  EXPECT_NEAR(static_cast<double>(low) / body, 0.5, 0.02);
}

TEST(SizeDist, MixedHasSmallNormalAndHuge) {
  auto v = Draw(DIST_MIXED, 7);
  size_t small = 0, normal = 0, huge = 0;
  for (uint32_t s : v) {
    if (s >= 16 && s <= 512) small++;
    else if (s >= 8192 && s <= (1u << 20)) normal++;
    else if (s >= (5u << 20) && s <= (8u << 20)) huge++;
    else FAIL() << "size " << s << " outside the three ranges";
  }
  EXPECT_NEAR(static_cast<double>(small) / v.size(), 0.89, 0.01);
  EXPECT_NEAR(static_cast<double>(normal) / v.size(), 0.10, 0.01);
  EXPECT_NEAR(static_cast<double>(huge) / v.size(), 0.01, 0.002);
}

// Log-uniform over [1 MiB, 32 MiB]: about half the blocks above 5.6 MiB
// (the geometric middle), and above the 4 MiB chunk (huge) about 60%.
TEST(SizeDist, LargeIsLogUniform1To32MiB) {
  auto v = Draw(DIST_LARGE, 7);
  size_t above_mid = 0, huge = 0;
  for (uint32_t s : v) {
    ASSERT_GE(s, 1u << 20);
    ASSERT_LE(s, 32u << 20);
    above_mid += s > 5931642;  // 2^22.5
    huge += s > (4u << 20);
  }
  EXPECT_NEAR(static_cast<double>(above_mid) / v.size(), 0.5, 0.03);
  EXPECT_NEAR(static_cast<double>(huge) / v.size(), 0.6, 0.03);
}

// Inverse-square over [4 B, 32 KiB]: P(size < x) = (1/4 - 1/x) / (1/4 -
// 1/32768), so about half under 8 B, 90% under 40 B, 1% at 400 B and up,
// and some in the 16-32 KiB tail.
TEST(SizeDist, InvsqIsInverseSquare4BTo32KiB) {
  auto v = Draw(DIST_INVSQ, 7);
  size_t under8 = 0, under40 = 0, from400 = 0, tail = 0;
  for (uint32_t s : v) {
    ASSERT_GE(s, 4u);
    ASSERT_LE(s, 32768u);
    under8 += s < 8;
    under40 += s < 40;
    from400 += s >= 400;
    tail += s >= 16384;
  }
  EXPECT_NEAR(static_cast<double>(under8) / v.size(), 0.5, 0.01);
  EXPECT_NEAR(static_cast<double>(under40) / v.size(), 0.9, 0.01);
  EXPECT_NEAR(static_cast<double>(from400) / v.size(), 0.01, 0.002);
  EXPECT_GT(tail, 0u);
}

TEST(LatencyHistogram, BucketsAreContiguousAndOrdered) {
  for (unsigned b = 0; b + 1 < LH_BUCKETS; b++) {
    ASSERT_LT(lh_bucket_low(b), lh_bucket_low(b + 1)) << b;
    ASSERT_EQ(lh_bucket(lh_bucket_low(b)), b);
    ASSERT_EQ(lh_bucket(lh_bucket_low(b + 1) - 1), b);
  }
  EXPECT_EQ(lh_bucket(UINT64_MAX), LH_BUCKETS - 1);
}

TEST(LatencyHistogram, PercentilesWithinABucket) {
  static latency_histogram h;
  memset(&h, 0, sizeof h);
  EXPECT_EQ(lh_percentile(&h, 0.5), 0u);
  for (uint64_t v = 1; v <= 100000; v++) lh_record(&h, v);
  EXPECT_EQ(h.total, 100000u);
  const double qs[] = {0.5, 0.99, 0.999};
  for (double q : qs) {
    double want = q * 100000, got = static_cast<double>(lh_percentile(&h, q));
    EXPECT_NEAR(got, want, want / 16) << q;
  }
  EXPECT_EQ(lh_percentile(&h, 1.0) >= 100000 * 15 / 16, true);
}

TEST(LatencyHistogram, MergeAddsCounts) {
  static latency_histogram a, b;
  memset(&a, 0, sizeof a);
  memset(&b, 0, sizeof b);
  for (int i = 0; i < 90; i++) lh_record(&a, 10);
  for (int i = 0; i < 10; i++) lh_record(&b, 5000);
  lh_merge(&a, &b);
  EXPECT_EQ(a.total, 100u);
  EXPECT_EQ(lh_percentile(&a, 0.5), 10u);
  EXPECT_NEAR(static_cast<double>(lh_percentile(&a, 0.99)), 5000, 5000 / 16);
}

std::string Written(const result_row *r) {
  char *buf = nullptr;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  EXPECT_EQ(result_csv_write_header(f), 0);
  if (r) EXPECT_EQ(result_csv_write_row(f, r), 0);
  fclose(f);
  std::string s(buf, len);
  free(buf);
  return s;
}

TEST(ResultCsv, HeaderAndRow) {
  result_row r = {"amd-epyc-2cpu", "npool-ck", "ck", "churn", "fixed64", 4, 2, 1,
                  12345678.4, 30, 250, 1200, 1u << 30, 5000000, 0, {}};
  const std::string header =
      "machine,allocator,strategy,workload,distribution,threads,repeat,ops_per_s,"
      "lat_p50_ns,lat_p99_ns,lat_p999_ns,peak_rss_bytes,live_bytes,np_active_bytes,"
      "np_thread_cache_bytes,np_remote_bytes,np_cpu_cache_bytes,np_transfer_bytes,"
      "np_subpage_free_bytes,np_pages_resident_bytes,np_pages_purged_bytes,np_retained_bytes,"
      "np_metadata_bytes,np_breakdown_rss_bytes,np_huge_tail_bytes\n";
  EXPECT_EQ(Written(&r), header +
                             "amd-epyc-2cpu,npool-ck,ck,churn,fixed64,4,2,12345678,30,250,1200,1073741824,"
                             "5000000,,,,,,,,,,,,\n");
  // With the allocator's breakdown: its twelve columns.
  r.has_where = 1;
  for (int i = 0; i < RESULT_CSV_WHERE_COLUMNS; i++) r.where[i] = 100 + i;
  EXPECT_EQ(Written(&r), header +
                             "amd-epyc-2cpu,npool-ck,ck,churn,fixed64,4,2,12345678,30,250,1200,1073741824,"
                             "5000000,100,101,102,103,104,105,106,107,108,109,110,111\n");
}

TEST(ResultCsv, FailedRunLeavesMeasurementsEmpty) {
  result_row r = {"m", "glibc", "-", "larson", "net", 1, 3, 0, 99, 1, 2, 3, 4, 5, 0, {}};
  std::string s = Written(&r);
  EXPECT_EQ(s.substr(s.find('\n') + 1), "m,glibc,-,larson,net,1,3,,,,,,,,,,,,,,,,,,\n");
}

TEST(ResultCsv, QuotesTextWithCommasAndQuotes) {
  result_row r = {"box, \"big\"", "jemalloc", "-", "churn", "small", 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, {}};
  std::string s = Written(&r);
  EXPECT_EQ(s.substr(s.find('\n') + 1), "\"box, \"\"big\"\"\",jemalloc,-,churn,small,1,1,1,1,1,1,1,1,,,,,,,,,,,,\n");
}

TEST(ResultCsv, NullTextIsAnError) {
  result_row r = {"m", nullptr, "-", "churn", "small", 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, {}};
  char *buf = nullptr;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  errno = 0;
  EXPECT_EQ(result_csv_write_row(f, &r), -1);
  EXPECT_EQ(errno, EINVAL);
  fclose(f);
  free(buf);
}

// ---- Run folders -------------------------------------------------------------

std::string TempDir() {
  const char *t = getenv("TEST_TMPDIR");
  std::string tmpl = std::string(t && *t ? t : "/tmp") + "/run_dir.XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  EXPECT_NE(mkdtemp(buf.data()), nullptr);
  return buf.data();
}

bool IsDir(const std::string &p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// 2026-12-02 15:44:10 in local time.
time_t When() {
  struct tm tm = {};
  tm.tm_year = 2026 - 1900, tm.tm_mon = 11, tm.tm_mday = 2;
  tm.tm_hour = 15, tm.tm_min = 44, tm.tm_sec = 10, tm.tm_isdst = -1;
  return mktime(&tm);
}

TEST(RunDir, NameIsKindDateAndTime) {
  char buf[64];
  ASSERT_EQ(run_dir_name(buf, sizeof buf, "default", When()), 0);
  EXPECT_STREQ(buf, "default-2026-12-02T154410");
  ASSERT_EQ(run_dir_name(buf, sizeof buf, "custom", When()), 0);
  EXPECT_STREQ(buf, "custom-2026-12-02T154410");
  EXPECT_EQ(run_dir_name(buf, 10, "default", When()), -1);  // too small
  EXPECT_EQ(run_dir_name(buf, sizeof buf, nullptr, When()), -1);
}

TEST(RunDir, EveryRunGetsANewFolderAndAnOldOneIsNeverReused) {
  std::string parent = TempDir() + "/results/some-machine";  // made as needed
  char a[4096], b[4096], c[4096];
  ASSERT_EQ(run_dir_create_new(parent.c_str(), "default", When(), a, sizeof a), 0);
  EXPECT_EQ(std::string(a), parent + "/default-2026-12-02T154410");
  EXPECT_TRUE(IsDir(a));
  // A file in the first run stays: the second run, in the same second, goes elsewhere.
  std::string kept = std::string(a) + "/sweep.csv";
  FILE *f = fopen(kept.c_str(), "w");
  ASSERT_NE(f, nullptr);
  fputs("first run\n", f);
  fclose(f);
  ASSERT_EQ(run_dir_create_new(parent.c_str(), "default", When(), b, sizeof b), 0);
  EXPECT_EQ(std::string(b), parent + "/default-2026-12-02T154410-2");
  ASSERT_EQ(run_dir_create_new(parent.c_str(), "default", When(), c, sizeof c), 0);
  EXPECT_EQ(std::string(c), parent + "/default-2026-12-02T154410-3");
  EXPECT_TRUE(IsDir(b) && IsDir(c));
  struct stat st;
  ASSERT_EQ(stat(kept.c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 10);
  // A reference run named like the kind alone ("default") is not touched either.
  std::string ref = parent + "/default";
  ASSERT_EQ(mkdir(ref.c_str(), 0777), 0);
  ASSERT_EQ(run_dir_create_new(parent.c_str(), "default", When() + 1, a, sizeof a), 0);
  EXPECT_EQ(std::string(a), parent + "/default-2026-12-02T154411");
}

TEST(RunDir, ErrorsAreReported) {
  char small[8];
  std::string parent = TempDir();
  errno = 0;
  EXPECT_EQ(run_dir_create_new(parent.c_str(), "default", When(), small, sizeof small), -1);
  EXPECT_EQ(errno, ENAMETOOLONG);
  std::string file = parent + "/a-file";
  FILE *f = fopen(file.c_str(), "w");
  ASSERT_NE(f, nullptr);
  fclose(f);
  char out[4096];
  errno = 0;
  EXPECT_EQ(run_dir_create_new((file + "/below").c_str(), "default", When(), out, sizeof out), -1);
  EXPECT_EQ(errno, ENOTDIR);
}

// ---- The summary -------------------------------------------------------------

const char *const kNames[] = {"npool-mutex", "npool-ck", "npool-rseq", "glibc",
                              "jemalloc",    "mimalloc", "tcmalloc"};

std::string Cell(const sweep_best &b) {
  char buf[64];
  return sweep_best_format(buf, sizeof buf, &b, kNames);
}

TEST(SweepSummary, BestNpoolAgainstBestPeer) {
  const double med[] = {5e6, 8e6, 6e6, 9e6, 10e6, 16e6, 12e6};
  const int have[] = {1, 1, 1, 1, 1, 1, 1};
  sweep_best b = sweep_best_of(7, kNames, med, have);
  EXPECT_EQ(b.npool, 1);  // npool-ck
  EXPECT_EQ(b.peer, 5);   // mimalloc
  EXPECT_DOUBLE_EQ(b.ratio, 0.5);
  EXPECT_EQ(Cell(b), "ck x0.50 mimalloc");
}

TEST(SweepSummary, FailedCellsDoNotCount) {
  // mimalloc and npool-ck failed a repeat: their medians do not count.
  const double med[] = {5e6, 80e6, 6e6, 9e6, 3e6, 16e6, 4e6};
  const int have[] = {1, 0, 1, 1, 1, 0, 1};
  sweep_best b = sweep_best_of(7, kNames, med, have);
  EXPECT_EQ(b.npool, 2);  // npool-rseq
  EXPECT_EQ(b.peer, 3);   // glibc
  EXPECT_EQ(Cell(b), "rseq x0.67 glibc");
}

TEST(SweepSummary, FasterThanThePeer) {
  const double med[] = {30e6, 1e6, 1e6, 9e6, 10e6, 12e6, 15e6};
  const int have[] = {1, 1, 1, 1, 1, 1, 1};
  sweep_best b = sweep_best_of(7, kNames, med, have);
  EXPECT_EQ(Cell(b), "mutex x2.00 tcmalloc");
}

TEST(SweepSummary, NothingToCompare) {
  const double med[] = {5e6, 8e6, 6e6, 9e6, 10e6, 16e6, 12e6};
  const int none[] = {0, 0, 0, 0, 0, 0, 0};
  sweep_best b = sweep_best_of(7, kNames, med, none);
  EXPECT_EQ(b.npool, -1);
  EXPECT_EQ(b.peer, -1);
  EXPECT_EQ(Cell(b), "-");
  const int npool_only[] = {1, 1, 1, 0, 0, 0, 0};
  b = sweep_best_of(7, kNames, med, npool_only);
  EXPECT_EQ(b.npool, 1);
  EXPECT_EQ(b.peer, -1);
  EXPECT_EQ(b.ratio, 0.0);
  EXPECT_EQ(Cell(b), "-");
  const int peers_only[] = {0, 0, 0, 1, 1, 1, 1};
  EXPECT_EQ(Cell(sweep_best_of(7, kNames, med, peers_only)), "-");
}

}  // namespace
