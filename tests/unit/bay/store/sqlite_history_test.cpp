// SqliteStore: execution history (bay-api-v1.md §11): filters, ordering, total, scoping,
// annotation, and speed with 100k entries.
#include <chrono>
#include <cstdio>

#include "store_test_support.hpp"

namespace shipyard::bay::testing {
namespace {

class HistoryTest : public StoreTest {
 protected:
  const std::string sb_ = "sandbox-000000000001";

  void insert(const Execution& e) {
    auto r = run(io, store->insert_execution(e));
    ASSERT_TRUE(r.ok()) << r.error().context;
  }

  // Entries e1..e8 (e8 newest):
  //   id  type   success tags              notes  description
  //   e1  python  yes    null              -      -
  //   e2  shell   no     "alpha,beta"      "n"    -
  //   e3  python  yes    "Beta"            ""     "d"
  //   e4  shell   yes    "gamma"           -      ""
  //   e5  python  no     "ALPHA-x,delta"   "n"    "d"
  //   e6  browser yes    null              -      "d"
  //   e7  python  yes    "zeta"            "n"    -      (same created_at as e6)
  //   e8  python  yes    "beta"            -      -      (another sandbox)
  void seed() {
    auto e = [&](int n, std::string type, bool ok, std::optional<std::string> tags,
                 std::optional<std::string> notes, std::optional<std::string> desc) {
      Execution x = make_exec("exec-00000000000" + std::to_string(n), sb_, at(n * 10));
      x.exec_type = std::move(type);
      x.success = ok;
      x.tags = std::move(tags);
      x.notes = std::move(notes);
      x.description = std::move(desc);
      return x;
    };
    insert(e(1, "python", true, std::nullopt, std::nullopt, std::nullopt));
    insert(e(2, "shell", false, "alpha,beta", "n", std::nullopt));
    insert(e(3, "python", true, "Beta", "", "d"));
    insert(e(4, "shell", true, "gamma", std::nullopt, ""));
    insert(e(5, "python", false, "ALPHA-x,delta", "n", "d"));
    insert(e(6, "browser", true, std::nullopt, std::nullopt, "d"));
    auto seven = e(7, "python", true, "zeta", "n", std::nullopt);
    seven.created_at = at(60);  // ties with e6, inserted later: newer
    insert(seven);
    auto eight = e(8, "python", true, "beta", std::nullopt, std::nullopt);
    eight.sandbox_id = "sandbox-000000000002";
    insert(eight);
  }

  HistoryQuery query() {
    HistoryQuery q;
    q.owner = "alice";
    q.sandbox_id = sb_;
    return q;
  }

  // Ids (last digit only) of the page for `q`, and its total.
  std::pair<std::string, std::int64_t> ids(const HistoryQuery& q) {
    auto page = run(io, store->query_history(q));
    EXPECT_TRUE(page.ok()) << page.error().context;
    if (!page.ok()) return {"error", -1};
    std::string out;
    for (const auto& e : page->entries) out += e.id.back();
    return {out, page->total};
  }
};

// Without filters: every entry of the sandbox, newest first; ties in created_at are broken
// by insertion order (the later insert is newer).
TEST_P(HistoryTest, NewestFirstWithStableTies) {
  seed();
  EXPECT_EQ(ids(query()), std::make_pair(std::string("7654321"), std::int64_t{7}));
}

// Each filter alone.
TEST_P(HistoryTest, SingleFilters) {
  seed();
  auto q = query();
  q.exec_type = "shell";
  EXPECT_EQ(ids(q), std::make_pair(std::string("42"), std::int64_t{2}));

  q = query();
  q.success_only = true;
  EXPECT_EQ(ids(q), std::make_pair(std::string("76431"), std::int64_t{5}));

  q = query();
  q.has_notes = true;  // non-empty only: e3's "" does not count
  EXPECT_EQ(ids(q), std::make_pair(std::string("752"), std::int64_t{3}));

  q = query();
  q.has_description = true;  // e4's "" does not count
  EXPECT_EQ(ids(q), std::make_pair(std::string("653"), std::int64_t{3}));
}

// Tags: an entry matches when any requested tag is a case-insensitive substring of its
// tags; entries without tags never match.
TEST_P(HistoryTest, TagFilter) {
  seed();
  auto q = query();
  q.tags = {"beta"};
  EXPECT_EQ(ids(q), std::make_pair(std::string("32"), std::int64_t{2}));
  q.tags = {"ALPHA"};
  EXPECT_EQ(ids(q), std::make_pair(std::string("52"), std::int64_t{2}));
  q.tags = {"pha-X"};
  EXPECT_EQ(ids(q), std::make_pair(std::string("5"), std::int64_t{1}));
  q.tags = {"gamma", "zeta", "nomatch"};
  EXPECT_EQ(ids(q), std::make_pair(std::string("74"), std::int64_t{2}));
  q.tags = {"nomatch"};
  EXPECT_EQ(ids(q), std::make_pair(std::string(""), std::int64_t{0}));
  // A comma is part of the stored string: "a,b" style needles match across tags.
  q.tags = {"alpha,beta"};
  EXPECT_EQ(ids(q), std::make_pair(std::string("2"), std::int64_t{1}));
  // Quotes and JSON-special characters in needles are plain text.
  q.tags = {"\"", "\\", "%"};
  EXPECT_EQ(ids(q), std::make_pair(std::string(""), std::int64_t{0}));
}

// Filters combine with AND.
TEST_P(HistoryTest, CombinedFilters) {
  seed();
  auto q = query();
  q.exec_type = "python";
  q.success_only = true;
  EXPECT_EQ(ids(q), std::make_pair(std::string("731"), std::int64_t{3}));
  q.tags = {"beta", "zeta"};
  EXPECT_EQ(ids(q), std::make_pair(std::string("73"), std::int64_t{2}));
  q.has_notes = true;
  EXPECT_EQ(ids(q), std::make_pair(std::string("7"), std::int64_t{1}));
  q.has_description = true;
  EXPECT_EQ(ids(q), std::make_pair(std::string(""), std::int64_t{0}));

  q = query();
  q.has_notes = true;
  q.has_description = true;
  q.tags = {"alpha"};
  EXPECT_EQ(ids(q), std::make_pair(std::string("5"), std::int64_t{1}));
}

// limit/offset page through the newest-first order; total always counts every match.
TEST_P(HistoryTest, LimitOffsetAndTotal) {
  seed();
  auto q = query();
  q.limit = 3;
  EXPECT_EQ(ids(q), std::make_pair(std::string("765"), std::int64_t{7}));
  q.offset = 3;
  EXPECT_EQ(ids(q), std::make_pair(std::string("432"), std::int64_t{7}));
  q.offset = 6;
  EXPECT_EQ(ids(q), std::make_pair(std::string("1"), std::int64_t{7}));
  q.offset = 7;
  EXPECT_EQ(ids(q), std::make_pair(std::string(""), std::int64_t{7}));
  q.offset = 0;
  q.limit = 0;
  EXPECT_EQ(ids(q), std::make_pair(std::string(""), std::int64_t{7}));
  q.limit = 1;
  q.success_only = true;
  q.offset = 1;
  EXPECT_EQ(ids(q), std::make_pair(std::string("6"), std::int64_t{5}));
}

// History is owner- and sandbox-scoped.
TEST_P(HistoryTest, Scoping) {
  seed();
  auto q = query();
  q.owner = "bob";
  EXPECT_EQ(ids(q), std::make_pair(std::string(""), std::int64_t{0}));
  q = query();
  q.sandbox_id = "sandbox-000000000002";
  EXPECT_EQ(ids(q), std::make_pair(std::string("8"), std::int64_t{1}));
  EXPECT_FALSE(run(io, store->find_execution("alice", sb_, "exec-000000000008"))->has_value());
  EXPECT_FALSE(run(io, store->find_execution("bob", sb_, "exec-000000000001"))->has_value());
  EXPECT_TRUE(run(io, store->find_execution("alice", sb_, "exec-000000000001"))->has_value());
  EXPECT_FALSE(run(io, store->last_execution("bob", sb_, std::nullopt))->has_value());
}

// Every field round-trips; a duplicate execution id is kConflict.
TEST_P(HistoryTest, RoundTripAndDuplicate) {
  Execution e = make_exec("exec-0000000000aa", sb_, at(123));
  e.session_id = "sess-000000000001";
  e.exec_type = "browser";
  e.code = "open https://example.com\nclick #ok";
  e.success = false;
  e.execution_time_ms = 4567;
  e.output = "out";
  e.error = "err";
  e.payload_ref = "blob:blob-000000000001";
  e.description = "desc";
  e.tags = "a,b";
  e.notes = "notes";
  e.learn_enabled = true;
  e.learn_status = "pending";
  e.learn_error = "none yet";
  e.learn_processed_at = at(456);
  insert(e);
  auto f = run(io, store->find_execution("alice", sb_, e.id));
  ASSERT_TRUE(f.ok() && f->has_value());
  const Execution& g = **f;
  EXPECT_EQ(g.id, e.id);
  EXPECT_EQ(g.owner, "alice");
  EXPECT_EQ(g.sandbox_id, sb_);
  EXPECT_EQ(g.session_id, e.session_id);
  EXPECT_EQ(g.exec_type, "browser");
  EXPECT_EQ(g.code, e.code);
  EXPECT_FALSE(g.success);
  EXPECT_EQ(g.execution_time_ms, 4567);
  EXPECT_EQ(g.output, "out");
  EXPECT_EQ(g.error, "err");
  EXPECT_EQ(g.payload_ref, e.payload_ref);
  EXPECT_EQ(g.description, "desc");
  EXPECT_EQ(g.tags, "a,b");
  EXPECT_EQ(g.notes, "notes");
  EXPECT_TRUE(g.learn_enabled);
  EXPECT_EQ(g.learn_status, "pending");
  EXPECT_EQ(g.learn_error, "none yet");
  EXPECT_EQ(g.learn_processed_at, at(456));
  EXPECT_EQ(g.created_at, at(123));

  Execution bare = make_exec("exec-0000000000bb", sb_, at(124));
  insert(bare);
  auto b = *run(io, store->find_execution("alice", sb_, bare.id));
  EXPECT_FALSE(b->session_id || b->output || b->error || b->payload_ref || b->description ||
               b->tags || b->notes || b->learn_status || b->learn_error || b->learn_processed_at);

  auto dup = run(io, store->insert_execution(e));
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().code, ErrorCode::kConflict);
}

// last_execution: the newest entry of the sandbox, optionally of one type.
TEST_P(HistoryTest, LastExecution) {
  EXPECT_FALSE(run(io, store->last_execution("alice", sb_, std::nullopt))->has_value());
  seed();
  EXPECT_EQ((*run(io, store->last_execution("alice", sb_, std::nullopt)))->id, "exec-000000000007");
  EXPECT_EQ((*run(io, store->last_execution("alice", sb_, "shell")))->id, "exec-000000000004");
  EXPECT_EQ((*run(io, store->last_execution("alice", sb_, "browser")))->id, "exec-000000000006");
  EXPECT_FALSE(run(io, store->last_execution("alice", sb_, "browser_batch"))->has_value());
}

// annotate_execution changes only the provided fields and returns the updated entry; the
// has_notes / has_description filters find it afterwards.
TEST_P(HistoryTest, Annotate) {
  seed();
  Annotation a;
  a.notes = "worked";
  auto r = run(io, store->annotate_execution("alice", sb_, "exec-000000000001", a));
  ASSERT_TRUE(r.ok() && r->has_value());
  EXPECT_EQ((*r)->notes, "worked");
  EXPECT_FALSE((*r)->description.has_value());
  EXPECT_FALSE((*r)->tags.has_value());
  EXPECT_EQ((*r)->code, "print(1)");

  Annotation b;
  b.description = "first";
  b.tags = "x,y";
  r = run(io, store->annotate_execution("alice", sb_, "exec-000000000001", b));
  ASSERT_TRUE(r.ok() && r->has_value());
  EXPECT_EQ((*r)->notes, "worked");  // kept
  EXPECT_EQ((*r)->description, "first");
  EXPECT_EQ((*r)->tags, "x,y");
  auto stored = *run(io, store->find_execution("alice", sb_, "exec-000000000001"));
  EXPECT_EQ(stored->notes, "worked");
  EXPECT_EQ(stored->description, "first");
  EXPECT_EQ(stored->tags, "x,y");

  auto q = query();
  q.has_notes = true;
  q.has_description = true;
  EXPECT_EQ(ids(q), std::make_pair(std::string("51"), std::int64_t{2}));
  q = query();
  q.tags = {"Y"};
  EXPECT_EQ(ids(q), std::make_pair(std::string("1"), std::int64_t{1}));

  // Nothing provided: the entry is returned unchanged.
  r = run(io, store->annotate_execution("alice", sb_, "exec-000000000001", Annotation{}));
  ASSERT_TRUE(r.ok() && r->has_value());
  EXPECT_EQ((*r)->description, "first");

  // Unknown, foreign-owner or other-sandbox entries: nullopt, nothing changed.
  for (auto [owner, sandbox, id] : {std::tuple{"alice", sb_, std::string("exec-ffffffffffff")},
                                    std::tuple{"bob", sb_, std::string("exec-000000000002")},
                                    std::tuple{"alice", std::string("sandbox-000000000002"),
                                               std::string("exec-000000000002")}}) {
    auto none = run(io, store->annotate_execution(owner, sandbox, id, a));
    ASSERT_TRUE(none.ok());
    EXPECT_FALSE(none->has_value()) << owner << " " << sandbox << " " << id;
  }
  EXPECT_EQ((*run(io, store->find_execution("alice", sb_, "exec-000000000002")))->notes, "n");
}

// With 100k entries in one sandbox a filtered query with its total stays fast (indexes,
// no per-row work outside SQLite). Prints the timings; the bound is deliberately generous.
TEST_P(HistoryTest, HundredThousandEntriesStayFast) {
  constexpr int kCount = 100'000;
  std::vector<Execution> batch;
  batch.reserve(kCount);
  static const char* kTypes[] = {"python", "shell", "browser", "browser_batch"};
  for (int i = 0; i < kCount; ++i) {
    char id[32];
    std::snprintf(id, sizeof id, "exec-%012x", i);
    Execution e = make_exec(id, sb_, at(i / 3));  // runs of equal created_at
    e.exec_type = kTypes[i % 4];
    e.success = i % 3 != 0;
    e.code = "print(" + std::to_string(i) + ")";
    e.output = "output of a modest size " + std::to_string(i);
    if (i % 10 == 0) e.tags = "batch,Tag" + std::to_string(i % 100);
    if (i % 7 == 0) e.notes = "note";
    batch.push_back(std::move(e));
  }
  // A neighbour sandbox so the query must actually scope.
  for (int i = 0; i < 1000; ++i) {
    char id[32];
    std::snprintf(id, sizeof id, "exec-f%011x", i);
    batch.push_back(make_exec(id, "sandbox-000000000002", at(i)));
  }
  auto t0 = std::chrono::steady_clock::now();
  auto ins = run(io, store->insert_executions(std::move(batch)));
  ASSERT_TRUE(ins.ok()) << ins.error().context;
  auto t1 = std::chrono::steady_clock::now();

  auto q = query();
  q.exec_type = "python";
  q.success_only = true;
  q.tags = {"TAG2", "nothing"};
  q.limit = 50;
  q.offset = 10;
  auto page = run(io, store->query_history(q));
  auto t2 = std::chrono::steady_clock::now();
  ASSERT_TRUE(page.ok()) << page.error().context;

  // Expected by brute force: python <=> i % 4 == 0; tags only when i % 10 == 0, and "tag2"
  // occurs in "tag<i%100>" when i % 100 is 2 or 20..29.
  std::int64_t expected_total = 0;
  std::vector<int> expected_ids;
  for (int i = kCount - 1; i >= 0; --i) {
    bool python = i % 4 == 0, ok = i % 3 != 0, tagged = i % 10 == 0;
    int t = i % 100;
    bool tag2 = tagged && (t == 2 || (t >= 20 && t <= 29));
    if (python && ok && tag2) {
      ++expected_total;
      expected_ids.push_back(i);
    }
  }
  EXPECT_EQ(page->total, expected_total);
  ASSERT_EQ(page->entries.size(), 50U);
  for (std::size_t k = 0; k < page->entries.size(); ++k) {
    char id[32];
    std::snprintf(id, sizeof id, "exec-%012x", expected_ids[k + 10]);
    EXPECT_EQ(page->entries[k].id, id) << k;
  }

  auto unfiltered = run(io, store->query_history(query()));
  auto t3 = std::chrono::steady_clock::now();
  ASSERT_TRUE(unfiltered.ok());
  EXPECT_EQ(unfiltered->total, kCount);
  EXPECT_EQ(unfiltered->entries.size(), 100U);
  EXPECT_EQ(unfiltered->entries.front().id, "exec-00000001869f");  // 99999

  auto last = run(io, store->last_execution("alice", sb_, "shell"));
  auto t4 = std::chrono::steady_clock::now();
  ASSERT_TRUE(last.ok() && last->has_value());
  EXPECT_EQ((*last)->id, "exec-00000001869d");  // 99997, the newest i with i % 4 == 1

  using ms = std::chrono::duration<double, std::milli>;
  std::printf(
      "[ history 100k ] insert %.0f ms, filtered query %.1f ms, unfiltered %.1f ms, last %.2f "
      "ms\n",
      ms(t1 - t0).count(), ms(t2 - t1).count(), ms(t3 - t2).count(), ms(t4 - t3).count());
  EXPECT_LT(ms(t2 - t1).count(), 2000.0);
  EXPECT_LT(ms(t3 - t2).count(), 2000.0);
}

INSTANTIATE_TEST_SUITE_P(Backends, HistoryTest, ::testing::Values(Backend::kFile, Backend::kMemory),
                         backend_name);

}  // namespace
}  // namespace shipyard::bay::testing
