#include <gtest/gtest.h>

#include "torchsystem/torchsystem.hpp"

namespace ts = torchsystem;
using namespace ts::literals;

namespace {
struct Model {
  Model(int x, double y, std::string z, std::string t) : x(x), y(y), z(std::move(z)), t(std::move(t)) {}
  int x;
  double y;
  std::string z, t;
};
}  // namespace

TEST(Create, Smoke) {
  ts::register_class<Model(int, double, std::string, std::string)>("x", "y", "z", "t"_a = "4");
  auto model = ts::create<Model>(1, 2.0, "3");
  EXPECT_EQ(ts::dumps(ts::getarguments(model)), R"({"x": 1, "y": 2.0, "z": "3"})");
  EXPECT_EQ(ts::gethash(model), "b12461be073bff9f5847f3f423767aa2");
  EXPECT_EQ(model->t, "4");
}
