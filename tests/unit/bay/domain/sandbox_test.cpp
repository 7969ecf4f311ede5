// Sandbox rules of bay-api-v1.md §6 with an injected clock and fault injection.
#include "domain_test_support.hpp"

namespace shipyard::bay::testing {
namespace {

// Another owner's sandbox is indistinguishable from a missing one.
TEST_F(DomainTest, OwnerScoping) {
  auto sb = create("alice");
  EXPECT_TRUE(run(io, sandboxes->lookup("alice", sb.sandbox.id)).ok());
  auto other = run(io, sandboxes->lookup("bob", sb.sandbox.id));
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(run(io, sandboxes->remove("bob", sb.sandbox.id)).error().code, ErrorCode::kNotFound);
}

// TTL: expired exactly after expires_at, extend refused then, extend accumulates before.
TEST_F(DomainTest, TtlAndExtend) {
  CreateSandboxRequest req;
  req.ttl = 10;
  auto sb = create("alice", req);
  ASSERT_TRUE(sb.sandbox.expires_at.has_value());
  auto ext = run(io, sandboxes->extend_ttl("alice", sb.sandbox.id, 5));
  ASSERT_TRUE(ext.ok());
  EXPECT_EQ(*ext->sandbox.expires_at, *sb.sandbox.expires_at + std::chrono::seconds(5));
  EXPECT_EQ(run(io, sandboxes->extend_ttl("alice", sb.sandbox.id, 0)).error().code,
            ErrorCode::kInvalidArgument);
  clock.advance(std::chrono::seconds(16));
  auto t = target(sb.sandbox.id);
  EXPECT_EQ(sandboxes->state_of(t.sandbox).status, "expired");
  EXPECT_EQ(sandboxes->check_not_expired(t).error().code, ErrorCode::kSandboxExpired);
  EXPECT_EQ(run(io, sandboxes->extend_ttl("alice", sb.sandbox.id, 5)).error().code,
            ErrorCode::kSandboxExpired);
  auto forever = create();
  EXPECT_EQ(run(io, sandboxes->extend_ttl("alice", forever.sandbox.id, 5)).error().code,
            ErrorCode::kSandboxTtlInfinite);
}

// The capability gate reports the profile and what it offers.
TEST_F(DomainTest, CapabilityGate) {
  CreateSandboxRequest req;
  req.profile = "python-only";
  auto t = target(create("alice", req).sandbox.id);
  auto s = sandboxes->check_capability(t, "shell");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kCapabilityNotSupported);
  EXPECT_EQ(s.error().message, "Profile 'python-only' does not support capability: shell");
  EXPECT_TRUE(sandboxes->check_capability(t, "python").ok());
  req.profile = "nope";
  EXPECT_EQ(run(io, sandboxes->create("alice", req)).error().code, ErrorCode::kInvalidArgument);
}

// Delete stops the session, deletes the managed cargo with its storage; an external
// cargo survives.
TEST_F(DomainTest, DeleteCascadesManagedCargo) {
  auto sb = create();
  auto t = target(sb.sandbox.id);
  ExecRequest req;
  req.code = "echo hi > f.txt";
  ASSERT_TRUE(run(io, capabilities->shell(t, req)).ok());
  std::string storage = root_ + "/cargos/" + sb.sandbox.cargo_id;
  EXPECT_TRUE(std::filesystem::exists(storage + "/f.txt"));
  ASSERT_TRUE(run(io, sandboxes->remove("alice", sb.sandbox.id)).ok());
  EXPECT_FALSE(std::filesystem::exists(storage));
  EXPECT_EQ(run(io, sandboxes->lookup("alice", sb.sandbox.id)).error().code, ErrorCode::kNotFound);
  EXPECT_TRUE(run(io, sandboxes->remove("alice", sb.sandbox.id)).ok());  // again: 204
  ASSERT_TRUE(run_until(io, [&] { return driver->running() == 0; }));
  auto cargo = run(io, store->find_cargo(sb.sandbox.cargo_id));
  ASSERT_TRUE(cargo.ok() && cargo->has_value());
  EXPECT_TRUE((*cargo)->deleted_at.has_value());
}

// The N-th store write failing during create leaves neither a sandbox nor cargo storage.
TEST_F(DomainTest, CreateFaultInjection) {
  for (int n = 0; n < 4; ++n) {
    store->fail_writes_after(n);
    auto r = run(io, sandboxes->create("alice", {}));
    store->fail_writes_after(-1);
    auto listed = run(io, store->list_sandboxes("alice", std::nullopt, 100));
    ASSERT_TRUE(listed.ok());
    std::size_t dirs = 0;
    for (auto& e : std::filesystem::directory_iterator(root_ + "/cargos")) {
      (void)e;
      ++dirs;
    }
    if (r.ok()) {
      EXPECT_EQ(dirs, listed->size()) << "n=" << n;
    } else {
      EXPECT_EQ(dirs, listed->size()) << "n=" << n << ": storage left behind";
    }
  }
}

// Python calls record exactly one history entry each, with the session that ran them.
TEST_F(DomainTest, ExecutionsRecorded) {
  auto t = target(create().sandbox.id);
  ExecRequest req;
  req.code = "1 + 1";
  req.tags = "b,a";
  auto r = run(io, capabilities->python(t, req));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->at("output"), "2");
  auto e = run(io, store->last_execution("alice", t.sandbox.id, std::nullopt));
  ASSERT_TRUE(e.ok() && e->has_value());
  EXPECT_EQ((*e)->id, r->at("execution_id").as_string());
  EXPECT_EQ((*e)->tags.value_or(""), "a,b");
  EXPECT_EQ((*e)->session_id.value_or(""), sessions->view(t.sandbox.id).session_id);
}

}  // namespace
}  // namespace shipyard::bay::testing
