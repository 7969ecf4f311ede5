#include "common/http/router.hpp"

#include <gtest/gtest.h>

namespace shipyard::http {
namespace {
using boost::beast::http::verb;

// Literal and parameter segments match exactly; parameters are percent-decoded.
TEST(Router, MatchesParams) {
  Router<int> r;
  r.add(verb::get, "/v1/sandboxes/{id}", 1);
  r.add(verb::get, "/v1/sandboxes/{id}/history/{eid}", 2);
  auto m = r.match(verb::get, "/v1/sandboxes/sandbox-1%2Fx/history/exec-2");
  ASSERT_EQ(m.outcome, Router<int>::Outcome::kMatched);
  EXPECT_EQ(*m.handler, 2);
  EXPECT_EQ(m.params.get("id"), "sandbox-1/x");
  EXPECT_EQ(m.params.get("eid"), "exec-2");
  EXPECT_EQ(r.match(verb::get, "/v1/sandboxes").outcome, Router<int>::Outcome::kNoRoute);
  EXPECT_EQ(r.match(verb::get, "/v1/sandboxes/a/b").outcome, Router<int>::Outcome::kNoRoute);
}

// A known path with the wrong method is distinguished from an unknown path (405 vs 404).
TEST(Router, WrongMethod) {
  Router<int> r;
  r.add(verb::get, "/health", 1);
  EXPECT_EQ(r.match(verb::post, "/health").outcome, Router<int>::Outcome::kWrongMethod);
}

// A rest parameter takes the remainder of the path, decoded, slashes included.
TEST(Router, RestParam) {
  Router<int> r;
  r.add(verb::get, "/v1/skills/payloads/{ref*}", 1);
  auto m = r.match(verb::get, "/v1/skills/payloads/s3%3A%2F%2Fa/b");
  ASSERT_EQ(m.outcome, Router<int>::Outcome::kMatched);
  EXPECT_EQ(m.params.get("ref"), "s3://a/b");
}

// Malformed percent escapes never match a parameter.
TEST(Router, BadEscape) {
  Router<int> r;
  r.add(verb::get, "/x/{id}", 1);
  EXPECT_EQ(r.match(verb::get, "/x/%zz").outcome, Router<int>::Outcome::kNoRoute);
  EXPECT_EQ(r.match(verb::get, "/x/%4").outcome, Router<int>::Outcome::kNoRoute);
  std::string out;
  EXPECT_FALSE(percent_decode("%", out));
  EXPECT_TRUE(percent_decode("a%20b", out));
  EXPECT_EQ(out, "a b");
}

}  // namespace
}  // namespace shipyard::http
