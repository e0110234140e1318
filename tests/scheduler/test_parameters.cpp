// Scheduler_Parameters: --param parsing, typed reads with clear errors, a stable hash.
#include <gtest/gtest.h>

#include <partita/runtime/error.hpp>
#include <partita/scheduler/parameters.hpp>

namespace {

using partita::parameters;

TEST(Scheduler_Parameters, ParsesKeyValueItems) {
  auto p = parameters::parse({"a=1", "b=x=y", "c="});
  EXPECT_EQ(p.get_int("a", 0), 1);
  EXPECT_EQ(p.get_string("b", ""), "x=y");
  EXPECT_EQ(p.get_string("c", "d"), "");
  EXPECT_EQ(p.get_int("missing", 42), 42);
  EXPECT_THROW(parameters::parse({"novalue"}), partita::usage_error);
  EXPECT_THROW(parameters::parse({"=1"}), partita::usage_error);
}

TEST(Scheduler_Parameters, BadValuesNameTheKeyAndTheFix) {
  auto p = parameters::parse({"n=12x", "f=abc", "b=maybe", "c=red"});
  try {
    p.get_int("n", 0);
    FAIL();
  } catch (const partita::usage_error& e) {
    EXPECT_NE(std::string(e.what()).find("n=12x"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("--param n="), std::string::npos);
  }
  EXPECT_THROW(p.get_double("f", 0), partita::usage_error);
  EXPECT_THROW(p.get_bool("b", false), partita::usage_error);
  EXPECT_THROW(p.get_choice("c", "blue", {"blue", "green"}), partita::usage_error);
  EXPECT_DOUBLE_EQ(parameters::parse({"x=2.5e-3"}).get_double("x", 0), 2.5e-3);
}

TEST(Scheduler_Parameters, HashIsOrderIndependentAndSensitiveToValues) {
  auto a = parameters::parse({"x=1", "y=2"});
  auto b = parameters::parse({"y=2", "x=1"});
  auto c = parameters::parse({"x=1", "y=3"});
  auto d = parameters::parse({"x=12"});
  auto e = parameters::parse({"x1=2"});
  EXPECT_EQ(a.hash(), b.hash());
  EXPECT_NE(a.hash(), c.hash());
  EXPECT_NE(d.hash(), e.hash());
}

}  // namespace
