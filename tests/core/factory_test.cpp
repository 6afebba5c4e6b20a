// Registrations whose object is not built by a constructor taking the parameters as they are, and
// defaults computed for each object.
#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <typeindex>

#include "test_support.hpp"
#include "torchsystem/torchsystem.hpp"

namespace ts = torchsystem;
using namespace ts::literals;
using ts::Json;

namespace {

namespace factory_test {

// LibTorch's way: an options struct, which a registration maps PyTorch-style parameters onto.
struct Options {
  int width = 0;
  int height = 0;
  bool bias = true;
};

struct Box {
  explicit Box(Options options) : options(options) {}
  Options options;
};

struct Pair {
  Pair(std::string left, int right) : left(std::move(left)), right(right) {}
  std::string left;
  int right;
};

struct Moved {
  explicit Moved(int size) : size(size) {}
  int size;
};

struct Gadget {
  Gadget(std::string label, int count) : label(std::move(label)), count(count) {}
  std::string label;
  int count;
};

struct Part {
  virtual ~Part() = default;
};
struct Leaf : Part {};

struct Tree {
  explicit Tree(std::shared_ptr<Part> part) : part(std::move(part)) {}
  std::shared_ptr<Part> part;
};

const ts::ClassInfo& register_box() {
  return ts::register_class<Box(int, int, bool)>(ts::factory([](int width, int height, bool bias) {
                                                   return Options{width, height, bias};
                                                 }),
                                                 "width", "height", "bias"_a = true);
}

}  // namespace factory_test

using namespace factory_test;

TEST(Factory, MapsParametersOntoWhatTheConstructorTakes) {
  register_box();
  const auto box = ts::create<Box>(3, "height"_a = 4);
  EXPECT_EQ(box->options.width, 3);
  EXPECT_EQ(box->options.height, 4);
  EXPECT_TRUE(box->options.bias);
  EXPECT_EQ(ts::dumps(ts::getarguments(box)), R"({"width": 3, "height": 4})");
  EXPECT_EQ(ts::dumps(ts::getarguments(box, ts::IdentityStyle::canonical)),
            R"({"width": 3, "height": 4, "bias": true})");
}

TEST(Factory, SameFactoryRegisteredAgainIsTheSameDefinition) {
  EXPECT_EQ(&register_box(), &register_box());
}

TEST(Factory, ADifferentFactoryIsADifferentDefinition) {
  register_box();
  EXPECT_THROW((ts::register_class<Box(int, int, bool)>(ts::factory([](int width, int height, bool) {
                                                          return Options{height, width, false};
                                                        }),
                                                        "width", "height", "bias"_a = true)),
               ts::RegistrationError);
}

TEST(Factory, TupleResultIsSpreadOverTheConstructor) {
  ts::register_class<Pair(int, std::string)>(
      ts::factory([](int count, const std::string& text) { return std::tuple(text + "!", count * 2); }),
      "count", "text");
  const auto pair = ts::create<Pair>(21, "hi");
  EXPECT_EQ(pair->left, "hi!");
  EXPECT_EQ(pair->right, 42);
  EXPECT_EQ(ts::dumps(ts::getarguments(pair)), R"({"count": 21, "text": "hi"})");
}

TEST(Factory, ObjectReturnedByValueIsMovedIntoTheEntity) {
  ts::register_class<Moved(int)>(ts::factory([](int size) { return Moved(size + 1); }), "size");
  const auto moved = ts::create<Moved>(1);
  EXPECT_EQ(moved->size, 2);
  EXPECT_EQ(ts::gethash(moved), ts::identity_hash("Moved", Json{{"size", 1}}));
}

TEST(Factory, SignatureIsReadFromTheFactoryWhenOnlyTheClassIsNamed) {
  const ts::ClassInfo& info = ts::register_class<Gadget>(
      ts::factory([](const std::string& label, std::optional<int> count, double scale) {
        return Gadget(label, static_cast<int>(count.value_or(1) * scale));
      }),
      "label", "count"_a = std::nullopt, "scale"_a = 2.0);
  EXPECT_EQ(ts::dumps(info.signature()), R"({"label": "str", "count": "Optional", "scale": "float"})");
  EXPECT_EQ(info.describe(), R"(Gadget(label: str, count: Optional = null, scale: float = 2.0))");
  const auto gadget = ts::create<Gadget>("g", "count"_a = 3);
  EXPECT_EQ(gadget->label, "g");
  EXPECT_EQ(gadget->count, 6);
  EXPECT_EQ(ts::dumps(ts::getarguments(gadget)), R"({"label": "g", "count": 3})");
  // The recorded signature is the factory's parameter list as written.
  EXPECT_EQ(info.definition().signature,
            std::type_index(typeid(Gadget(const std::string&, std::optional<int>, double))));
}

TEST(CallableDefault, IsCalledForEachObject) {
  ts::register_class<Leaf()>();
  ts::register_class<Tree(std::shared_ptr<Part>)>(
      "part"_a = [] { return std::shared_ptr<Part>(ts::create<Leaf>()); });
  const auto first = ts::create<Tree>();
  const auto second = ts::create<Tree>();
  ASSERT_TRUE(first->part && second->part);
  EXPECT_NE(first->part, second->part);
  EXPECT_EQ(ts::dumps(ts::getarguments(first)), "{}");
  EXPECT_EQ(ts::dumps(ts::getarguments(first, ts::IdentityStyle::canonical)), R"({"part": "Leaf"})");
  EXPECT_EQ(ts::getclass(first).describe(), "Tree(part: Part = <computed>)");
}

}  // namespace
