// `torchsystem serve` through real sockets: every route with its answers and errors, the limits and
// deadlines against hostile clients, the token, the queue, graceful shutdown, metrics and the OpenAPI
// document. The server runs in this process on 127.0.0.1, port 0; every wait has a deadline.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include "cli_runner.hpp"
#include "http_client.hpp"
#include "openapi_check.hpp"
#include "server_fixture.hpp"
#include "temp_dir.hpp"
#include "torchsystem/json.hpp"

namespace {

using namespace std::chrono_literals;
using test_http::Connection;
using test_http::format_request;
using test_http::request;
using torchsystem::Json;
namespace server = torchsystem::server;

Json json_of(const test_http::Response& response) {
  return Json::parse(response.body);
}

/// The store is made once: saving checkpoints takes LibTorch, serving them does not.
class Server : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    store_dir_ = new test_files::TempDir();
    stored_ = new server_test::StoredModels(server_test::make_store(store_dir_->path()));
  }
  static void TearDownTestSuite() {
    delete stored_;
    delete store_dir_;
  }
  static const std::filesystem::path& store() { return store_dir_->path(); }
  static const server_test::StoredModels& stored() { return *stored_; }
  std::string mlp() const { return "/v2/models/MLP/versions/" + stored().mlp_hash; }

  static test_files::TempDir* store_dir_;
  static server_test::StoredModels* stored_;
};
test_files::TempDir* Server::store_dir_ = nullptr;
server_test::StoredModels* Server::stored_ = nullptr;

std::string infer_body(const Json& data, const Json& shape, const std::string& datatype = "FP32",
                       const std::string& name = "input") {
  return Json{
      {"inputs", Json::array({{{"name", name}, {"shape", shape}, {"datatype", datatype}, {"data", data}}})}}
      .dump();
}

void expect_error(const test_http::Response& response, unsigned status, const std::string& code) {
  EXPECT_EQ(response.status, status) << response.body;
  EXPECT_EQ(response.header("content-type"), "application/json");
  const Json body = json_of(response);
  EXPECT_EQ(body.value("code", ""), code) << response.body;
  EXPECT_TRUE(body.contains("error") && body["error"].is_string()) << response.body;
}

// ---- health, registry, identity, build ----------------------------------------------------------------

TEST_F(Server, HealthAndServerMetadata) {
  server_test::TestServer running(store());
  EXPECT_EQ(json_of(request(running.port(), "GET", "/v2/health/live")), Json::parse(R"({"live": true})"));
  EXPECT_EQ(json_of(request(running.port(), "GET", "/v2/health/ready")), Json::parse(R"({"ready": true})"));
  const Json metadata = json_of(request(running.port(), "GET", "/v2"));
  EXPECT_EQ(metadata["name"], "torchsystem");
  EXPECT_TRUE(metadata["extensions"].is_array());
}

TEST_F(Server, TypesListEveryRegistryOnceWithKindAndSignature) {
  server_test::TestServer running(store());
  const Json types = json_of(request(running.port(), "GET", "/v1/registry/types"))["types"];
  std::map<std::string, Json> by_name;
  for (const Json& type : types) {
    EXPECT_TRUE(by_name.emplace(type["name"].get<std::string>(), type).second) << "twice: " << type["name"];
  }
  ASSERT_TRUE(by_name.count("MLP") && by_name.count("Linear") && by_name.count("CrossEntropyLoss") &&
              by_name.count("Adam"));
  EXPECT_EQ(by_name["MLP"]["kind"], "module");
  EXPECT_EQ(by_name["CrossEntropyLoss"]["kind"], "loss");
  EXPECT_EQ(by_name["Adam"]["kind"], "optimizer");
  EXPECT_EQ(by_name["Linear"]["signature"],
            Json::parse(R"({"in_features": "int", "out_features": "int", "bias": "bool"})"));

  const Json linear = json_of(request(running.port(), "GET", "/v1/registry/types/Linear"));
  EXPECT_EQ(linear["signature"], by_name["Linear"]["signature"]);
  EXPECT_NE(linear["text"].get<std::string>().find("bias: bool = true"), std::string::npos);

  const auto unknown = request(running.port(), "GET", "/v1/registry/types/Lineer");
  expect_error(unknown, 404, "unknown_name");
  EXPECT_EQ(json_of(unknown)["suggestions"][0], "Linear");
  const auto nested =
      request(running.port(), "POST", "/v1/registry/build",
              R"({"name": "MLP", "arguments": {"input_size": 4, "hidden_size": 8, "output_size": 3,
                                 "dropout": 0.5, "activation": "Relu"}})");
  expect_error(nested, 400, "unknown_name");
  EXPECT_EQ(json_of(nested)["path"], "MLP.activation") << nested.body;
  EXPECT_EQ(json_of(nested)["name"], "Relu");
  EXPECT_EQ(json_of(nested)["suggestions"][0], "ReLU") << nested.body;
}

class ServerCli : public cli_runner::Cli {};

TEST_F(ServerCli, IdentityIsWhatTorchsystemHashComputes) {
  test_files::TempDir empty_store;
  server_test::TestServer running(empty_store.path());
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"Model", R"({"x": 1, "y": 2.0, "z": "3"})"},
      {"MLP",
       R"({"input_size": 784, "hidden_size": 256, "output_size": 10, "dropout": 0.5, "activation": "ReLU"})"},
      {"Ünïcode",
       R"({"s": "é\n\"", "f": 1e-7, "big": 18446744073709551615, "nested": {"b": [1, 2.5, null, true]}})"},
      {"Empty", "{}"}};
  for (const auto& [name, arguments] : cases) {
    const auto cli = run({"hash", "--show", name, arguments});
    ASSERT_EQ(cli.status, 0) << cli.err;
    const std::string hash = cli.out.substr(0, cli.out.find('\n'));
    const std::string text = cli.out.substr(hash.size() + 1, cli.out.size() - hash.size() - 2);
    const std::string body = R"({"name": )" + Json(name).dump() + R"(, "arguments": )" + arguments + "}";
    const auto response = request(running.port(), "POST", "/v1/identity", body);
    ASSERT_EQ(response.status, 200u) << response.body;
    const Json answer = json_of(response);
    EXPECT_EQ(answer["hash"], hash) << name;
    EXPECT_EQ(answer["text"], text) << name;
    EXPECT_EQ(answer["name"], name);
  }
  // Arguments may be left out, as in `torchsystem hash CrossEntropyLoss`.
  EXPECT_EQ(
      json_of(request(running.port(), "POST", "/v1/identity", R"({"name": "CrossEntropyLoss"})"))["hash"],
      "422b735afaea4d9a688f99fbfa3c6de9");
}

TEST_F(ServerCli, TheCommandLineIsChecked) {
  // Each run loads LibTorch (about half a second): a few cases only.
  const auto help = run({"serve", "--help"});
  EXPECT_EQ(help.status, 0);
  EXPECT_NE(help.out.find("--max-body BYTES"), std::string::npos);
  for (const std::vector<std::string>& arguments :
       {std::vector<std::string>{"serve"},
        {"serve", "--store", dir_.string(), "--port", "70000"},
        {"serve", "--store", dir_.string(), "--workers", "two"},
        {"serve", "--store", dir_.string(), "--workers", "100000"},
        // Before, an empty token served every route without authentication, silently.
        {"serve", "--store", dir_.string(), "--port", "0", "--token", ""}}) {
    const auto outcome = run(arguments);
    EXPECT_EQ(outcome.status, 2) << arguments.back() << ": " << outcome.err;
  }
  const auto missing = run({"serve", "--store", (dir_ / "none").string(), "--port", "0"});
  EXPECT_EQ(missing.status, 1);
  EXPECT_NE(missing.err.find("not a directory"), std::string::npos) << missing.err;
}

TEST_F(Server, IdentityRefusesMalformedJsonAndWrongTypes) {
  server_test::TestServer running(store());
  expect_error(request(running.port(), "POST", "/v1/identity", R"({"name": )"), 400, "invalid_json");
  expect_error(request(running.port(), "POST", "/v1/identity", R"({"name": "A"} trailing)"), 400,
               "invalid_json");
  expect_error(request(running.port(), "POST", "/v1/identity", "\xff\xfe"), 400, "invalid_json");
  expect_error(request(running.port(), "POST", "/v1/identity", R"([1, 2])"), 400, "invalid_request");
  expect_error(request(running.port(), "POST", "/v1/identity", R"({"name": 5})"), 400, "invalid_argument");
  expect_error(request(running.port(), "POST", "/v1/identity", R"({"name": "A", "arguments": []})"), 400,
               "invalid_argument");
  expect_error(request(running.port(), "POST", "/v1/identity", R"({"name": "A", "arguments": {"x": 1e999}})"),
               400, "invalid_json");
  expect_error(request(running.port(), "POST", "/v1/identity", ""), 400, "invalid_json");
}

TEST_F(Server, BuildAnswersTheIdentityOrTheConfigsErrorWithItsPath) {
  server_test::TestServer running(store());
  const std::string mlp =
      R"({"name": "MLP", "arguments": {"input_size": 4, "hidden_size": 8, "output_size": 3, "dropout": 0.5, "activation": "ReLU"}})";
  const auto built = request(running.port(), "POST", "/v1/registry/build", mlp);
  ASSERT_EQ(built.status, 200u) << built.body;
  EXPECT_EQ(json_of(built)["hash"], stored().mlp_hash);
  EXPECT_EQ(json_of(built)["parameters"], 4 * 8 + 8 + 8 * 3 + 3);
  EXPECT_EQ(json_of(request(running.port(), "POST", "/v1/identity", mlp))["hash"], stored().mlp_hash);

  const auto adam =
      request(running.port(), "POST", "/v1/registry/build", R"({"name": "Adam", "arguments": {"lr": 0.01}})");
  EXPECT_EQ(json_of(adam)["kind"], "optimizer");

  const auto wrong =
      request(running.port(), "POST", "/v1/registry/build",
              R"({"name": "MLP", "arguments": {"input_size": 4, "hidden_size": 8, "output_size": 3,
                                 "dropout": 0.5, "activation": {"name": "GLU", "arguments": {"input_size": "abc"}}}})");
  expect_error(wrong, 400, "invalid_argument");
  EXPECT_NE(json_of(wrong)["path"].get<std::string>().find("MLP.activation"), std::string::npos)
      << wrong.body;

  const auto unknown = request(running.port(), "POST", "/v1/registry/build", R"({"name": "Lineer"})");
  expect_error(unknown, 400, "unknown_name");
  EXPECT_EQ(json_of(unknown)["suggestions"][0], "Linear");
  expect_error(
      request(running.port(), "POST", "/v1/registry/build",
              R"({"name": "Linear", "arguments": {"in_features": 1000000, "out_features": 1000000}})"),
      400, "too_large");
  // Before, the bound multiplied integer arguments, which misses layers growing with a square: these
  // allocated 10.8 GB, and 6.5 GB after 21 s. The allocation that would pass the bound is refused instead.
  for (
      const std::string body :
      {R"({"name": "MultiheadAttention", "arguments": {"embed_dim": 30000, "num_heads": 1}})",
       R"({"name": "TransformerEncoderLayer", "arguments": {"d_model": 16384, "nhead": 1, "dim_feedforward": 16384}})"}) {
    const auto response = request(running.port(), "POST", "/v1/registry/build", body);
    expect_error(response, 400, "too_large");
    const std::string message = json_of(response)["error"].get<std::string>();
    EXPECT_NE(message.find("would allocate more than its bound of 1024 MiB"), std::string::npos) << message;
  }
  expect_error(request(running.port(), "POST", "/v1/registry/build", R"({"arguments": {}})"), 400,
               "invalid_argument");
}

// Before, builds ran on the workers: two slow builds held up inference on a loaded model for their whole
// time.
TEST_F(Server, BuildsRunApartFromInferenceBehindTheirOwnBoundedQueue) {
  server::ServerOptions options;
  options.workers = 1;
  options.build_workers = 1;
  options.max_queued_builds = 1;
  server_test::TestServer running(store(), options);
  const std::string infer = mlp() + "/infer";
  const std::string input = infer_body(stored().mlp_input, {2, 4});
  ASSERT_EQ(request(running.port(), "POST", infer, input).status, 200u) << "the model is loaded";

  server_test::BuildGate gate;
  std::atomic<bool> built{false};
  test_http::Response slow;
  std::thread builder([&] {
    slow =
        request(running.port(), "POST", "/v1/registry/build", R"({"name": "Gate", "arguments": {"id": 1}})");
    built = true;
  });
  ASSERT_TRUE(gate.wait_for_blocked(1)) << "the build never started";
  EXPECT_EQ(request(running.port(), "POST", infer, input).status, 200u);
  EXPECT_FALSE(built) << "inference was answered only after the build";
  const auto refused =
      request(running.port(), "POST", "/v1/registry/build", R"({"name": "Gate", "arguments": {"id": 2}})");
  expect_error(refused, 503, "overloaded");
  EXPECT_EQ(refused.header("retry-after"), "1");
  gate.open();
  builder.join();
  EXPECT_EQ(slow.status, 200u) << slow.body;
}

// ---- checkpoints --------------------------------------------------------------------------------------

TEST_F(Server, CheckpointsArePagedWithTheirHistory) {
  server_test::TestServer running(store());
  const Json all = json_of(request(running.port(), "GET", "/v1/checkpoints"));
  EXPECT_EQ(all["total"], 2);
  ASSERT_EQ(all["checkpoints"].size(), 2u);
  EXPECT_EQ(all["checkpoints"][0]["name"], "Embedding");
  const Json& mlp = all["checkpoints"][1];
  EXPECT_EQ(mlp["name"], "MLP");
  EXPECT_EQ(mlp["hash"], stored().mlp_hash);
  EXPECT_EQ(mlp["epoch"], 2);
  EXPECT_EQ(mlp["arguments"]["hidden_size"], 8);
  ASSERT_EQ(mlp["history"].size(), 2u);
  EXPECT_EQ(mlp["history"][1]["test_accuracy"], 0.75);

  const Json page = json_of(request(running.port(), "GET", "/v1/checkpoints?offset=1&limit=1"));
  ASSERT_EQ(page["checkpoints"].size(), 1u);
  EXPECT_EQ(page["checkpoints"][0]["name"], "MLP");
  EXPECT_EQ(json_of(request(running.port(), "GET", "/v1/checkpoints?offset=5"))["checkpoints"].size(), 0u);
  expect_error(request(running.port(), "GET", "/v1/checkpoints?limit=abc"), 400, "invalid_argument");
  expect_error(request(running.port(), "GET", "/v1/checkpoints?limit=100000"), 400, "invalid_argument");
  expect_error(request(running.port(), "GET", "/v1/checkpoints?offset=-1"), 400, "invalid_argument");

  const Json one = json_of(request(running.port(), "GET", "/v1/checkpoints/MLP-" + stored().mlp_hash));
  EXPECT_EQ(one, mlp);
  expect_error(request(running.port(), "GET", "/v1/checkpoints/MLP-0123456789abcdef0123456789abcdef"), 404,
               "not_found");
  expect_error(request(running.port(), "GET", "/v1/checkpoints/MLP-XYZ"), 400, "invalid_key");
}

TEST_F(Server, FileIsTheArchiveWithAnETag) {
  server_test::TestServer running(store());
  const std::string target = "/v1/checkpoints/MLP-" + stored().mlp_hash + "/file";
  const auto file = request(running.port(), "GET", target);
  ASSERT_EQ(file.status, 200u);
  std::ifstream disk(store() / ("MLP-" + stored().mlp_hash + ".pth"), std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(disk)), std::istreambuf_iterator<char>());
  EXPECT_EQ(file.body, bytes);
  EXPECT_EQ(file.header("content-type"), "application/octet-stream");
  const std::string etag = file.header("etag");
  ASSERT_FALSE(etag.empty());
  const auto again = request(running.port(), "GET", target, "", {{"If-None-Match", etag}});
  EXPECT_EQ(again.status, 304u);
  EXPECT_TRUE(again.body.empty());
  EXPECT_EQ(request(running.port(), "GET", target, "", {{"If-None-Match", "\"other\""}}).status, 200u);
}

TEST_F(Server, KeysThatLeaveTheStoreAreRefused) {
  test_files::TempDir copy;
  std::filesystem::copy(store(), copy.path(), std::filesystem::copy_options::recursive);
  // A link inside the store to a file outside it, under a valid identity.
  const std::string hash = "00000000000000000000000000000000";
  std::filesystem::create_symlink("/etc/passwd", copy.path() / ("Evil-" + hash + ".pth"));
  server_test::TestServer running(copy.path());
  const std::vector<std::string> targets = {
      "/v1/checkpoints/..%2F..%2F..%2Fetc%2Fpasswd-" + hash + "/file",
      "/v1/checkpoints/%2e%2e-" + hash + "/file",
      "/v1/checkpoints/%2E%2E%2F%2E%2E%2Fetc-" + hash + "/file",
      "/v1/checkpoints/..%5C..%5Cetc-" + hash + "/file",
      "/v1/checkpoints/MLP%00-" + hash + "/file",
      "/v1/checkpoints/MLP-" + hash + "%2F..%2F..%2Fetc%2Fpasswd/file",
      "/v1/checkpoints/..-" + hash + "/file",
      "/v1/checkpoints/../../etc/passwd",
      "/v1/checkpoints/%zz-" + hash + "/file",
      "/v1/checkpoints/Evil-" + hash + "/file",
      "/v1/checkpoints/Evil-" + hash,
      "/v2/models/..%2F..%2Fetc/versions/" + hash + "/infer",
  };
  for (const auto& target : targets) {
    const auto response = request(running.port(), "GET", target);
    EXPECT_TRUE(response.status == 400 || response.status == 403 || response.status == 404 ||
                response.status == 405)
        << target << " -> " << response.status << " " << response.body;
    EXPECT_EQ(response.body.find("root:"), std::string::npos) << target;
  }
  expect_error(request(running.port(), "GET", "/v1/checkpoints/Evil-" + hash + "/file"), 403, "forbidden");
  expect_error(request(running.port(), "GET", "/v1/checkpoints/%2e%2e-" + hash + "/file"), 400,
               "invalid_key");
  expect_error(request(running.port(), "GET", "/v1/checkpoints/%zz-" + hash + "/file"), 400, "bad_request");
}

TEST_F(Server, DamagedCheckpointIsReportedNotServed) {
  test_files::TempDir copy;
  std::filesystem::copy(store(), copy.path(), std::filesystem::copy_options::recursive);
  const std::string hash = "11111111111111111111111111111111";
  std::ofstream(copy.path() / ("MLP-" + hash + ".pth")) << "not a zip archive";
  server_test::TestServer running(copy.path());
  const Json all = json_of(request(running.port(), "GET", "/v1/checkpoints"));
  EXPECT_EQ(all["total"], 3) << "the store's checkpoint files, read or not";
  EXPECT_EQ(all["checkpoints"].size(), 2u);
  ASSERT_EQ(all["damaged"].size(), 1u);
  // Named by its key in the store, never by where the store lives on the server.
  const std::string message = all["damaged"][0].get<std::string>();
  EXPECT_TRUE(message.starts_with("MLP-" + hash + ".pth: not a readable checkpoint")) << message;
  for (const std::string& target : {"/v1/checkpoints/MLP-" + hash, "/v1/checkpoints/MLP-" + hash + "/file"}) {
    const auto response = request(running.port(), "GET", target);
    expect_error(response, 500, "damaged_checkpoint");
    EXPECT_EQ(response.body.find(copy.path().string()), std::string::npos) << response.body;
    EXPECT_NE(response.body.find("MLP-" + hash + ".pth: "), std::string::npos) << response.body;
  }
  const auto inference =
      request(running.port(), "POST", "/v2/models/MLP/versions/" + hash + "/infer", infer_body({1}, {1, 1}));
  expect_error(inference, 500, "damaged_checkpoint");
  EXPECT_EQ(inference.body.find(copy.path().string()), std::string::npos) << inference.body;

  // Pages are cut before files are read: one file a page, whichever it is.
  for (int offset = 0; offset < 3; ++offset) {
    const Json page =
        json_of(request(running.port(), "GET", "/v1/checkpoints?limit=1&offset=" + std::to_string(offset)));
    EXPECT_EQ(page["checkpoints"].size() + page["damaged"].size(), 1u) << page.dump();
  }
}

// ---- inference ----------------------------------------------------------------------------------------

// Before, a load that failed was repeated by every request: 1.1 GB and 4 s each for metadata that lie.
TEST_F(Server, AFailedLoadIsAnsweredFromMemoryUntilTheFileChanges) {
  test_files::TempDir copy;
  std::filesystem::copy(store(), copy.path(), std::filesystem::copy_options::recursive);
  server_test::TestServer running(copy.path());
  const std::string hash = "22222222222222222222222222222222";
  const std::filesystem::path file = copy.path() / ("MLP-" + hash + ".pth");
  std::ofstream(file) << "not a zip archive";
  const std::string infer = "/v2/models/MLP/versions/" + hash + "/infer";
  const auto loads = [&](const std::string& outcome) {
    const std::string metrics = request(running.port(), "GET", "/metrics").body;
    const std::string line = "torchsystem_model_loads_total{outcome=\"" + outcome + "\"} ";
    const auto at = metrics.find(line);
    return at == std::string::npos ? -1 : std::stoi(metrics.substr(at + line.size()));
  };
  for (int i = 0; i < 3; ++i)
    expect_error(request(running.port(), "POST", infer, infer_body({1}, {1, 1})), 500, "damaged_checkpoint");
  EXPECT_EQ(loads("failed"), 1);
  EXPECT_EQ(loads("failed_cached"), 2);
  // A new file (a save renames one over the path) is read again at once.
  const std::filesystem::path replacement = copy.path() / "replacement";
  std::ofstream(replacement) << "still not a zip archive";
  std::filesystem::rename(replacement, file);
  expect_error(request(running.port(), "POST", infer, infer_body({1}, {1, 1})), 500, "damaged_checkpoint");
  EXPECT_EQ(loads("failed"), 2);
  EXPECT_EQ(loads("loaded"), 0);
}

// Before, a NaN output was written as null with a 200: the client got a number that was not the model's.
TEST_F(Server, AnOutputJsonCannotCarryIsA500NamingIt) {
  test_files::TempDir copy;
  const std::string hash = server_test::save_diverged_linear(copy.path());
  server_test::TestServer running(copy.path());
  const auto response = request(running.port(), "POST", "/v2/models/Linear/versions/" + hash + "/infer",
                                infer_body({1, 2}, {1, 2}));
  expect_error(response, 500, "non_finite_output");
  const std::string message = json_of(response)["error"].get<std::string>();
  EXPECT_NE(message.find("\"output\" holds a value JSON cannot carry (NaN at element 0)"), std::string::npos)
      << message;
}

TEST_F(Server, ModelMetadataDerivesShapesFromTheFirstLayer) {
  server_test::TestServer running(store());
  const Json metadata = json_of(request(running.port(), "GET", mlp()));
  EXPECT_EQ(metadata["inputs"], Json::parse(R"([{"name": "input", "datatype": "FP32", "shape": [-1, 4]}])"));
  EXPECT_EQ(metadata["outputs"],
            Json::parse(R"([{"name": "output", "datatype": "FP32", "shape": [-1, 3]}])"));
  EXPECT_EQ(metadata["versions"][0], stored().mlp_hash);
  const Json embedding =
      json_of(request(running.port(), "GET", "/v2/models/Embedding/versions/" + stored().embedding_hash));
  EXPECT_EQ(embedding["inputs"][0]["datatype"], "INT64");
  EXPECT_EQ(embedding["outputs"][0]["shape"], Json::parse("[-1, -1, 3]"));
  EXPECT_EQ(json_of(request(running.port(), "GET", mlp() + "/ready"))["ready"], true);
  expect_error(request(running.port(), "GET", "/v2/models/Nope/versions/" + stored().mlp_hash), 404,
               "not_found");
  expect_error(request(running.port(), "GET", "/v2/models/Nope/versions/" + stored().mlp_hash + "/ready"),
               404, "not_found");
  expect_error(request(running.port(), "GET", "/v2/models/MLP/versions/abc"), 400, "invalid_key");
}

std::vector<float> output_data(const test_http::Response& response) {
  std::vector<float> values;
  const Json answer = json_of(response);
  for (const Json& value : answer["outputs"][0]["data"]) values.push_back(value.get<float>());
  return values;
}

TEST_F(Server, InferenceEqualsTheModelRunInProcess) {
  server_test::TestServer running(store());
  const auto& input = stored().mlp_input;
  const Json flat(input);
  const Json nested = Json::array({Json(std::vector<float>(input.begin(), input.begin() + 4)),
                                   Json(std::vector<float>(input.begin() + 4, input.end()))});
  for (const Json& data : {flat, nested}) {
    Json body = Json::parse(infer_body(data, {2, 4}));
    body["id"] = "request-1";
    const auto response = request(running.port(), "POST", mlp() + "/infer", body.dump());
    ASSERT_EQ(response.status, 200u) << response.body;
    const Json answer = json_of(response);
    EXPECT_EQ(answer["id"], "request-1");
    EXPECT_EQ(answer["model_version"], stored().mlp_hash);
    EXPECT_EQ(answer["outputs"][0]["shape"], Json::parse("[2, 3]"));
    EXPECT_EQ(answer["outputs"][0]["datatype"], "FP32");
    EXPECT_EQ(output_data(response), stored().mlp_expected);  // bit for bit: eval mode, the same weights
  }
  const auto embedding =
      request(running.port(), "POST", "/v2/models/Embedding/versions/" + stored().embedding_hash + "/infer",
              infer_body(Json(stored().embedding_input), {2, 2}, "INT64"));
  ASSERT_EQ(embedding.status, 200u) << embedding.body;
  EXPECT_EQ(output_data(embedding), stored().embedding_expected);
  EXPECT_EQ(json_of(embedding)["outputs"][0]["shape"], Json::parse("[2, 2, 3]"));
}

TEST_F(Server, MalformedTensorsAre400sNamingTheInput) {
  server_test::TestServer running(store());
  const std::string target = mlp() + "/infer";
  const Json four = Json::parse("[1, 2, 3, 4]");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {infer_body(four, {1, 4}, "FP16"), "invalid_tensor"},                    // unsupported datatype
      {infer_body(four, {1, 4}, "INT64"), "invalid_tensor"},                   // not the model's datatype
      {infer_body(four, {4}), "invalid_tensor"},                               // wrong rank
      {infer_body(four, {1, 5}), "invalid_tensor"},                            // wrong feature size
      {infer_body(four, {2, 4}), "invalid_tensor"},                            // too few values
      {infer_body(Json::parse("[1, 2, 3, 4, 5]"), {1, 4}), "invalid_tensor"},  // too many values
      {infer_body(Json::parse("[[[1, 2, 3, 4]]]"), {1, 4}),
       "invalid_tensor"},  // nested deeper than the shape
      {infer_body(Json::parse(R"([1, "2", 3, 4])"), {1, 4}), "invalid_tensor"},
      {infer_body(Json::parse("[1, true, 3, 4]"), {1, 4}), "invalid_tensor"},
      {infer_body(Json::parse("[1, null, 3, 4]"), {1, 4}), "invalid_tensor"},
      {infer_body(Json::parse("[1, 1e300, 3, 4]"), {1, 4}), "invalid_tensor"},  // beyond FP32
      {infer_body(four, {-1, 4}), "invalid_tensor"},
      {infer_body(four, {1, 4.5}), "invalid_tensor"},
      {infer_body(four, Json::parse("[4294967296, 4294967296]")), "invalid_tensor"},
      {infer_body(four, Json::parse("[]")), "invalid_tensor"},
      {infer_body(four, "1x4"), "invalid_tensor"},
      {infer_body(four, {1, 4}, "FP32", "x"), "invalid_tensor"},  // not the model's input
      {R"({"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP32"}]})", "invalid_tensor"},
      {R"({"inputs": [{"name": "input", "shape": [1, 4], "data": [1, 2, 3, 4]}]})", "invalid_tensor"},
      {R"({"inputs": []})", "invalid_request"},
      {R"({"inputs": {}})", "invalid_request"},
      {R"({"outputs": []})", "invalid_request"},
      {R"([1])", "invalid_request"},
      {R"({"inputs": [1, 2]})", "invalid_request"},
      {R"({"inputs": [)", "invalid_json"},
      // Before, NaN and Infinity were taken, and the non-finite outputs they gave were answered as null.
      {R"({"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP32", "data": [1, NaN, 3, 4]}]})",
       "invalid_tensor"},
      {R"({"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, -Infinity, 4]}]})",
       "invalid_tensor"},
  };
  for (const auto& [body, code] : cases) {
    const auto response = request(running.port(), "POST", target, body);
    expect_error(response, 400, code);
    if (code == "invalid_tensor") {
      EXPECT_TRUE(json_of(response).contains("input")) << body;
    }
  }
  const auto embedding = "/v2/models/Embedding/versions/" + stored().embedding_hash + "/infer";
  // An index beyond the embedding's 10 rows: the model refuses it, and that is the client's 400.
  expect_error(
      request(running.port(), "POST", embedding, infer_body(Json::parse("[1, 10]"), {1, 2}, "INT64")), 400,
      "invalid_tensor");
  expect_error(
      request(running.port(), "POST", embedding, infer_body(Json::parse("[1, 2.5]"), {1, 2}, "INT64")), 400,
      "invalid_tensor");
  expect_error(request(running.port(), "POST", embedding,
                       infer_body(Json::parse("[1, 18446744073709551615]"), {1, 2}, "INT64")),
               400, "invalid_tensor");
  EXPECT_EQ(request(running.port(), "POST", target, infer_body(four, {1, 4})).status, 200u);  // still serving
  expect_error(request(running.port(), "POST", "/v2/models/Nope/versions/" + stored().mlp_hash + "/infer",
                       infer_body(four, {1, 4})),
               404, "not_found");
}

// ---- limits and hostile clients ----------------------------------------------------------------------

TEST_F(Server, BodiesOverTheLimitAre413ChunkedOrNot) {
  server::ServerOptions options;
  options.max_body_bytes = 1024;
  server_test::TestServer running(store(), options);
  const std::string big(2000, ' ');
  expect_error(request(running.port(), "POST", "/v1/identity", big + R"({"name": "A"})"), 413,
               "payload_too_large");

  Connection chunked(running.port());
  std::string text = "POST /v1/identity HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 4; ++i) text += "200\r\n" + std::string(512, ' ') + "\r\n";
  text += "0\r\n\r\n";
  chunked.send(text);
  const auto refused = chunked.read();
  ASSERT_TRUE(refused);
  expect_error(*refused, 413, "payload_too_large");

  Connection small_chunks(running.port());
  small_chunks.send(
      "POST /v1/identity HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\n{\"nam\r\n8\r\ne\": \"A\"}\r\n0\r\n\r\n");
  const auto accepted = small_chunks.read();
  ASSERT_TRUE(accepted);
  EXPECT_EQ(accepted->status, 200u) << accepted->body;
}

/// The answer to `text` sent on a connection of its own; nullopt when none comes.
std::optional<test_http::Response> answer_to(std::uint16_t port, const std::string& text) {
  Connection connection(port);
  connection.send(text);
  return connection.read(std::chrono::seconds(5));
}

// RFC 9112 section 6.3. Before, a Transfer-Encoding not ending in chunked made the server take the body
// as empty and answer its bytes as a second request (a 400, then a 200 for the smuggled GET); with a
// Content-Length beside it, the Content-Length was used silently.
TEST_F(Server, FramingThatCouldSmuggleARequestIs400AndClosesTheConnection) {
  server_test::TestServer running(store());
  const std::string smuggled = "GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n";
  const std::vector<std::string> framings = {
      "Transfer-Encoding: xchunked\r\n",
      "Transfer-Encoding: gzip\r\n",
      "Transfer-Encoding: identity\r\n",
      "Transfer-Encoding: chunked, identity\r\n",
      "Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n",  // the list spread over two fields
      "Transfer-Encoding: gzip, chunked\r\n",  // a coding this server does not decode
      "Transfer-Encoding: chunked, chunked\r\n",
      "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n",
      "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
      "Transfer-Encoding: ,\r\n",
  };
  for (const auto& framing : framings) {
    Connection connection(running.port());
    connection.send("POST /v1/identity HTTP/1.1\r\nHost: x\r\n" + framing + "\r\n" + smuggled);
    const auto refused = connection.read();
    ASSERT_TRUE(refused) << framing;
    expect_error(*refused, 400, "bad_request");
    EXPECT_TRUE(connection.closed_within(std::chrono::seconds(5)))
        << framing << ": the connection stayed open";
  }
  // HTTP/1.0 knows no Transfer-Encoding.
  const auto refused_old =
      answer_to(running.port(),
                "POST /v1/identity HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"a\":\r\n0\r\n\r\n");
  ASSERT_TRUE(refused_old);
  expect_error(*refused_old, 400, "bad_request");

  // What HTTP/1.1 allows still works: chunked alone, its name in any case.
  const auto accepted =
      answer_to(running.port(),
                "POST /v1/identity HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n"
                "d\r\n{\"name\": \"A\"}\r\n0\r\n\r\n");
  ASSERT_TRUE(accepted);
  EXPECT_EQ(accepted->status, 200u) << accepted->body;
}

// Before, a target without its leading slash was served as if it had one.
TEST_F(Server, RequestTargetsOtherThanAPathAre400) {
  server_test::TestServer running(store());
  for (const std::string target : {"v2/health/live", "*", "x.example:80", "http://x?a=1"}) {
    const auto refused = answer_to(running.port(), "GET " + target + " HTTP/1.1\r\nHost: x\r\n\r\n");
    ASSERT_TRUE(refused) << target;
    expect_error(*refused, 400, "bad_request");
  }
  // The absolute form, which RFC 9112 says a server accepts, is its path.
  const auto served = answer_to(running.port(), "GET http://x/v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(served);
  EXPECT_EQ(served->status, 200u) << served->body;
}

// RFC 9112 section 5.2 lets a server either refuse obsolete line folding or replace each fold with spaces;
// Boost.Beast replaces it, so a folded line is part of the field before it and cannot start a field of
// its own: it cannot smuggle a Transfer-Encoding past the framing checks. A bare line feed is refused.
TEST_F(Server, ObsoleteLineFoldingStaysInItsFieldAndBareLineFeedsAre400) {
  server_test::TestServer running(store());
  const std::string body = R"({"name": "A"})";
  const auto folded =
      answer_to(running.port(),
                "POST /v1/identity HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) +
                    "\r\nX-Folded: a\r\n Transfer-Encoding: chunked\r\n\r\n" + body);
  ASSERT_TRUE(folded);
  EXPECT_EQ(folded->status, 200u) << "the body was read by its Content-Length alone: " << folded->body;
  EXPECT_EQ(json_of(*folded)["name"], "A");
  for (const std::string text : {
           "GET /v2/health/live HTTP/1.1\nHost: x\n\n",
           "GET /v2/health/live HTTP/1.1\r\nHost: x\nX-Other: y\r\n\r\n",
       }) {
    const auto refused = answer_to(running.port(), text);
    ASSERT_TRUE(refused) << text;
    EXPECT_EQ(refused->status, 400u) << text << ": " << refused->body;
  }
}

TEST_F(Server, HeadersOverTheLimitAre431) {
  server_test::TestServer running(store());
  const auto response =
      request(running.port(), "GET", "/v2/health/live", "", {{"X-Padding", std::string(20000, 'a')}});
  expect_error(response, 431, "header_too_large");
  Connection malformed(running.port());
  malformed.send("GET /v2/health/live HTTP/1.1\r\nHost x\r\n\r\n");
  const auto bad = malformed.read();
  ASSERT_TRUE(bad);
  expect_error(*bad, 400, "bad_request");
}

TEST_F(Server, RoutesAndMethods) {
  server_test::TestServer running(store());
  expect_error(request(running.port(), "GET", "/nowhere"), 404, "not_found");
  const auto wrong_method = request(running.port(), "DELETE", "/v1/identity");
  expect_error(wrong_method, 405, "method_not_allowed");
  EXPECT_EQ(wrong_method.header("allow"), "POST");
  expect_error(request(running.port(), "GET", "/v1/registry/types/%zz"), 400, "bad_request");
}

TEST_F(Server, ASlowClientDoesNotBlockOthersAndMeetsItsDeadline) {
  server::ServerOptions options;
  options.read_timeout = 800ms;
  server_test::TestServer running(store(), options);
  Connection slow(running.port());
  const std::string request_text = format_request("GET", "/v2/health/live");
  std::atomic<bool> refused{false};
  std::thread slowloris([&] {
    // One byte every 100 ms: the request would take seconds; the deadline counts from its first byte.
    for (std::size_t i = 0; i < request_text.size() - 2 && !refused; ++i) {
      if (!slow.send(request_text.substr(i, 1))) break;
      std::this_thread::sleep_for(100ms);
    }
  });
  std::this_thread::sleep_for(150ms);
  for (int i = 0; i < 20; ++i) {
    const auto started = std::chrono::steady_clock::now();
    EXPECT_EQ(request(running.port(), "GET", "/v2/health/live").status, 200u);
    // Blocked behind the slow client, it would wait for the slow client's deadline (800 ms).
    EXPECT_LT(std::chrono::steady_clock::now() - started, 500ms);
  }
  // Cut at its deadline (tcp_stream closes the socket then: there is no one to answer).
  const auto started = std::chrono::steady_clock::now();
  EXPECT_TRUE(slow.closed_within(3s));
  EXPECT_LT(std::chrono::steady_clock::now() - started, 1500ms);
  refused = true;
  slowloris.join();
}

TEST_F(Server, IdleConnectionsMakeRoomAtTheCapBusyOnesDoNot) {
  server::ServerOptions options;
  options.max_connections = 3;
  server_test::TestServer running(store(), options);
  std::vector<std::unique_ptr<Connection>> idle;
  for (int i = 0; i < 3; ++i) {
    idle.push_back(std::make_unique<Connection>(running.port()));
    idle.back()->send(format_request("GET", "/v2/health/live"));
    ASSERT_TRUE(idle.back()->read());  // served, and now idle on keep-alive
  }
  EXPECT_EQ(request(running.port(), "GET", "/v2/health/live").status, 200u);
  EXPECT_TRUE(idle.front()->closed_within(2s));  // the longest idle made room

  // Three connections in the middle of a request hold their places; a fourth client hears 503 at once.
  std::vector<std::unique_ptr<Connection>> busy;
  for (int i = 0; i < 3; ++i) {
    busy.push_back(std::make_unique<Connection>(running.port()));
    busy.back()->send("GET /v2/health/live HTTP/1.1\r\n");
  }
  std::this_thread::sleep_for(500ms);  // time for the server to read their first bytes: then none is idle
  const auto refused = request(running.port(), "GET", "/v2/health/live");
  expect_error(refused, 503, "too_many_connections");
  EXPECT_EQ(refused.header("retry-after"), "1");
  busy.front()->send("Host: x\r\n\r\n");
  const auto finished = busy.front()->read();
  ASSERT_TRUE(finished);
  EXPECT_EQ(finished->status, 200u);
}

TEST_F(Server, IdleKeepAliveConnectionsCloseAtTheirDeadline) {
  server::ServerOptions options;
  options.idle_timeout = 600ms;
  server_test::TestServer running(store(), options);
  Connection kept(running.port());
  kept.send(format_request("GET", "/v2/health/live"));
  ASSERT_TRUE(kept.read());
  const auto started = std::chrono::steady_clock::now();
  EXPECT_TRUE(kept.closed_within(3s));
  EXPECT_GT(std::chrono::steady_clock::now() - started, 300ms);
}

TEST_F(Server, PipelinedRequestsAndExpectContinue) {
  server_test::TestServer running(store());
  Connection pipelined(running.port());
  pipelined.send(format_request("GET", "/v2/health/live") +
                 format_request("POST", "/v1/identity", R"({"name": "A"})") +
                 format_request("GET", "/v2/health/ready"));
  const auto first = pipelined.read();
  const auto second = pipelined.read();
  const auto third = pipelined.read();
  ASSERT_TRUE(first && second && third);
  EXPECT_EQ(json_of(*first)["live"], true);
  EXPECT_EQ(json_of(*second)["name"], "A");
  EXPECT_EQ(json_of(*third)["ready"], true);

  // curl's way with bodies over 1 KiB: the header alone, then the body once the server says continue.
  Connection expecting(running.port());
  const std::string body = R"({"name": "Model", "arguments": {"x": 1, "y": 2.0, "z": "3"}})";
  expecting.send("POST /v1/identity HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: " +
                 std::to_string(body.size()) + "\r\n\r\n");
  const auto proceed = expecting.read();
  ASSERT_TRUE(proceed);
  EXPECT_EQ(proceed->status, 100u);
  expecting.send(body);
  const auto answer = expecting.read();
  ASSERT_TRUE(answer);
  EXPECT_EQ(json_of(*answer)["hash"], "b12461be073bff9f5847f3f423767aa2");
}

TEST_F(Server, ConcurrentClientsGetTheirOwnAnswers) {
  server_test::TestServer running(store());
  const std::string mlp_body = infer_body(Json(stored().mlp_input), {2, 4});
  const std::string embedding_target = "/v2/models/Embedding/versions/" + stored().embedding_hash + "/infer";
  const std::string embedding_body = infer_body(Json(stored().embedding_input), {2, 2}, "INT64");
  std::atomic<int> wrong{0};
  std::vector<std::thread> clients;
  for (int client = 0; client < 8; ++client) {
    clients.emplace_back([&, client] {
      Connection connection(running.port());  // keep-alive: 30 requests on one connection
      for (int i = 0; i < 30; ++i) {
        const int kind = (client + i) % 3;
        if (kind == 0) connection.send(format_request("POST", mlp() + "/infer", mlp_body));
        if (kind == 1) connection.send(format_request("POST", embedding_target, embedding_body));
        if (kind == 2)
          connection.send(
              format_request("POST", "/v1/identity", R"({"name": "C)" + std::to_string(i) + "\"}"));
        const auto response = connection.read();
        if (!response || response->status != 200) {
          ++wrong;
          continue;
        }
        const Json answer = Json::parse(response->body);
        std::vector<float> values;
        if (kind < 2) {
          for (const Json& value : answer["outputs"][0]["data"]) values.push_back(value.get<float>());
        }
        if ((kind == 0 && values != stored().mlp_expected) ||
            (kind == 1 && values != stored().embedding_expected) ||
            (kind == 2 && answer["name"] != "C" + std::to_string(i)))
          ++wrong;
      }
    });
  }
  for (auto& client : clients) client.join();
  EXPECT_EQ(wrong, 0);
}

TEST_F(Server, ClientsThatLeaveMidRequestCostNothing) {
  server_test::TestServer running(store());
  for (int i = 0; i < 20; ++i) {
    Connection leaving(running.port());
    leaving.send("POST /v1/identity HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"name\":");
  }
  {
    Connection leaving(running.port());
    leaving.send("GET /v2/health/li");
  }
  EXPECT_EQ(request(running.port(), "GET", "/v2/health/live").status, 200u);
  EXPECT_EQ(request(running.port(), "POST", "/v1/identity", R"({"name": "A"})").status, 200u);
}

TEST_F(Server, TokenGuardsEveryRouteButHealthAndThePage) {
  server::ServerOptions options;
  options.token = "s3cret";
  server_test::TestServer running(store(), options);
  EXPECT_EQ(request(running.port(), "GET", "/v2/health/live").status, 200u);
  EXPECT_EQ(request(running.port(), "GET", "/v2/health/ready").status, 200u);
  EXPECT_EQ(request(running.port(), "GET", "/").status, 200u);
  for (const auto& route : running.routes()) {
    if (route.access == server::Access::open) continue;
    std::string target = route.pattern;
    for (const auto& [from, to] :
         std::vector<std::pair<std::string, std::string>>{{"{name}-{hash}", "MLP-" + stored().mlp_hash},
                                                          {"{name}", "MLP"},
                                                          {"{hash}", stored().mlp_hash}}) {
      if (const auto at = target.find(from); at != std::string::npos) target.replace(at, from.size(), to);
    }
    const auto none = request(running.port(), route.method, target, route.method == "POST" ? "{}" : "");
    expect_error(none, 401, "unauthorized");
    EXPECT_EQ(none.header("www-authenticate"), "Bearer");
    expect_error(request(running.port(), route.method, target, "", {{"Authorization", "Bearer s3creT"}}), 401,
                 "unauthorized");
    const auto with = request(running.port(), route.method, target, route.method == "POST" ? "{}" : "",
                              {{"Authorization", "Bearer s3cret"}});
    EXPECT_NE(with.status, 401u) << route.pattern;
  }
}

TEST_F(Server, AFullQueueAnswers503WithRetryAfter) {
  std::mutex mutex;
  std::condition_variable changed;
  bool release = false;
  int running_jobs = 0;
  server::Route slow{"GET", "/test/slow", server::Execution::worker, server::Access::token,
                     [&](const server::Request&) {
                       std::unique_lock lock(mutex);
                       ++running_jobs;
                       changed.notify_all();
                       changed.wait_for(lock, 5s, [&] { return release; });
                       return server::json_response("{}");
                     }};
  server::ServerOptions options;
  options.workers = 1;
  options.max_queued_jobs = 1;
  server_test::TestServer running(store(), options, {slow});
  Connection first(running.port());
  first.send(format_request("GET", "/test/slow"));
  {
    std::unique_lock lock(mutex);
    ASSERT_TRUE(changed.wait_for(lock, 5s, [&] { return running_jobs == 1; }));
  }
  const auto busy = request(running.port(), "GET", "/test/slow");
  expect_error(busy, 503, "overloaded");
  EXPECT_EQ(busy.header("retry-after"), "1");
  EXPECT_EQ(request(running.port(), "GET", "/v2/health/live").status, 200u);  // the I/O thread is free
  // A quick route with a large body goes through the queue too, so a full queue refuses it.
  const std::string large = R"({"name": "A", "arguments": {"s": ")" + std::string(70000, 'x') + "\"}}";
  expect_error(request(running.port(), "POST", "/v1/identity", large), 503, "overloaded");
  EXPECT_EQ(request(running.port(), "POST", "/v1/identity", R"({"name": "A"})").status, 200u);
  {
    const std::lock_guard lock(mutex);
    release = true;
  }
  changed.notify_all();
  const auto done = first.read();
  ASSERT_TRUE(done);
  EXPECT_EQ(done->status, 200u);
}

TEST_F(Server, StopFinishesTheRequestInFlight) {
  auto running = std::make_unique<server_test::TestServer>(store());
  Connection idle(running->port());
  Connection in_flight(running->port());
  const std::string body = R"({"name": "Model", "arguments": {"x": 1, "y": 2.0, "z": "3"}})";
  const std::string text = format_request("POST", "/v1/identity", body);
  in_flight.send(text.substr(0, text.size() - 10));
  std::this_thread::sleep_for(100ms);
  running->stop();
  EXPECT_TRUE(idle.closed_within(2s));
  std::this_thread::sleep_for(100ms);
  in_flight.send(text.substr(text.size() - 10));
  const auto answer = in_flight.read();
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->status, 200u);
  EXPECT_EQ(json_of(*answer)["hash"], "b12461be073bff9f5847f3f423767aa2");
  EXPECT_EQ(answer->header("connection"), "close");
  running->join();  // run() returned: no connection left
  EXPECT_THROW(Connection refused(running->port()), std::runtime_error);
}

// ---- operations ----------------------------------------------------------------------------------------

TEST_F(Server, MetricsCountRequestsByRouteTemplate) {
  server_test::TestServer running(store());
  request(running.port(), "GET", "/v1/checkpoints/MLP-" + stored().mlp_hash);
  request(running.port(), "GET", "/v1/checkpoints/MLP-0123456789abcdef0123456789abcdef");
  request(running.port(), "POST", mlp() + "/infer", infer_body(Json::parse("[1, 2, 3, 4]"), {1, 4}));
  const auto metrics = request(running.port(), "GET", "/metrics");
  ASSERT_EQ(metrics.status, 200u);
  EXPECT_EQ(metrics.header("content-type"), "text/plain; version=0.0.4");
  for (
      const std::string line :
      {R"(torchsystem_http_requests_total{route="/v1/checkpoints/{name}-{hash}",method="GET",status="200"} 1)",
       R"(torchsystem_http_requests_total{route="/v1/checkpoints/{name}-{hash}",method="GET",status="404"} 1)",
       R"(torchsystem_http_requests_total{route="/v2/models/{name}/versions/{hash}/infer",method="POST",status="200"} 1)",
       R"(torchsystem_http_request_duration_seconds_count{route="/v2/models/{name}/versions/{hash}/infer"} 1)",
       R"(torchsystem_http_request_duration_seconds_bucket{route="/v2/models/{name}/versions/{hash}/infer",le="+Inf"} 1)",
       "torchsystem_models_loaded 1\n", "torchsystem_http_open_connections 1\n"}) {
    EXPECT_NE(metrics.body.find(line), std::string::npos) << line << "\n" << metrics.body;
  }
}

TEST_F(Server, OpenApiDocumentListsExactlyTheServersRoutes) {
  server_test::TestServer running(store());
  const auto response = request(running.port(), "GET", "/openapi.json");
  ASSERT_EQ(response.status, 200u);
  const Json document = json_of(response);
  EXPECT_EQ(document["openapi"].get<std::string>().substr(0, 2), "3.");
  std::set<std::pair<std::string, std::string>> documented;
  for (const auto& [path, operations] : document["paths"].items()) {
    for (const auto& [method, operation] : operations.items()) {
      if (method == "parameters") continue;
      std::string upper = method;
      for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      documented.emplace(upper, path);
      EXPECT_TRUE(operation.contains("responses")) << method << " " << path;
    }
  }
  std::set<std::pair<std::string, std::string>> served;
  for (const auto& route : running.routes()) served.emplace(route.method, route.pattern);
  EXPECT_EQ(documented, served);
}

TEST_F(Server, ThePageIsServedFromTheProgram) {
  server_test::TestServer running(store());
  const auto page = request(running.port(), "GET", "/");
  ASSERT_EQ(page.status, 200u);
  EXPECT_EQ(page.header("content-type"), "text/html; charset=utf-8");
  EXPECT_EQ(page.header("content-security-policy").substr(0, 19), "default-src 'self';");
  EXPECT_EQ(page.header("x-content-type-options"), "nosniff");
  EXPECT_NE(page.body.find("<script src=\"/app.js\""), std::string::npos);
  EXPECT_EQ(page.body.find("http://"), std::string::npos);  // nothing from elsewhere
  EXPECT_EQ(page.body.find("https://"), std::string::npos);
  const auto script = request(running.port(), "GET", "/app.js");
  ASSERT_EQ(script.status, 200u);
  EXPECT_NE(script.body.find("/v1/identity"), std::string::npos);
  EXPECT_EQ(request(running.port(), "GET", "/app.css").status, 200u);
}

// ---- the command ---------------------------------------------------------------------------------------

TEST_F(Server, TheCommandServesAndStopsOnSigterm) {
  int output[2];
  ASSERT_EQ(::pipe(output), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::dup2(output[1], 1);
    ::close(output[0]);
    ::execl(TORCHSYSTEM_CLI, TORCHSYSTEM_CLI, "serve", "--store", store().c_str(), "--port", "0", nullptr);
    ::_exit(127);
  }
  ::close(output[1]);
  std::string printed;
  char buffer[256];
  // A bounded wait for the first line: LibTorch's libraries load first.
  for (int i = 0; i < 200 && printed.find('\n') == std::string::npos; ++i) {
    pollfd waiting{output[0], POLLIN, 0};
    if (::poll(&waiting, 1, 100) > 0) {
      const ssize_t got = ::read(output[0], buffer, sizeof buffer);
      if (got <= 0) break;
      printed.append(buffer, static_cast<std::size_t>(got));
    }
  }
  const std::string prefix = "listening on http://127.0.0.1:";
  ASSERT_EQ(printed.substr(0, prefix.size()), prefix) << printed;
  const auto port = static_cast<std::uint16_t>(std::stoi(printed.substr(prefix.size())));
  EXPECT_EQ(request(port, "GET", "/v2/health/live").status, 200u);
  EXPECT_EQ(json_of(request(port, "GET", "/v1/checkpoints"))["total"], 2);
  // Started without --plugin seed: the seed's MLP is no type it knows, so its checkpoint cannot be served.
  const auto unavailable =
      request(port, "POST", mlp() + "/infer", infer_body(Json::parse("[1, 2, 3, 4]"), {1, 4}));
  expect_error(unavailable, 409, "model_unavailable");
  EXPECT_NE(json_of(unavailable)["error"].get<std::string>().find("--plugin"), std::string::npos);
  EXPECT_EQ(
      request(port, "GET", "/v2/models/Embedding/versions/" + stored().embedding_hash + "/ready").status,
      200u);
  ::kill(child, SIGTERM);
  int status = 0;
  for (int i = 0; i < 100 && ::waitpid(child, &status, WNOHANG) == 0; ++i) std::this_thread::sleep_for(50ms);
  if (::waitpid(child, &status, WNOHANG) == 0) {
    ::kill(child, SIGKILL);  // never leave it behind
    ::waitpid(child, &status, 0);
    FAIL() << "the server did not stop within 5 s of SIGTERM";
  }
  ASSERT_TRUE(WIFEXITED(status)) << "killed by a signal";
  EXPECT_EQ(WEXITSTATUS(status), 0);
  while (true) {
    const ssize_t got = ::read(output[0], buffer, sizeof buffer);
    if (got <= 0) break;
    printed.append(buffer, static_cast<std::size_t>(got));
  }
  ::close(output[0]);
  EXPECT_NE(printed.find("stopped\n"), std::string::npos) << printed;
}

// ---- the document against every answer -------------------------------------------------------------

TEST_F(Server, EveryAnswerTheTestsGotFitsTheOpenApiDocument) {
  // The last test of the file (GoogleTest keeps a file's order): it checks every answer the others got.
  server_test::TestServer running(store());
  const Json document = json_of(request(running.port(), "GET", "/openapi.json"));
  ASSERT_GT(test_http::exchanges().size(), 100u) << "run with the whole suite";
  std::set<std::string> checked;
  for (const auto& exchange : test_http::exchanges()) {
    const auto& response = exchange.response;
    const std::string error =
        openapi_check::check(document, exchange.method, exchange.target, response.status,
                             response.header("content-type"), response.body);
    EXPECT_EQ(error, "") << exchange.method << " " << exchange.target;
    checked.insert(exchange.method + " " + std::to_string(response.status));
  }
  // The check itself must be able to fail.
  EXPECT_NE(
      openapi_check::check(document, "GET", "/v2/health/live", 200, "application/json", R"({"live": 1})"),
      "");
  EXPECT_NE(
      openapi_check::check(document, "GET", "/v1/checkpoints", 200, "application/json", R"({"total": 1})"),
      "");
  EXPECT_NE(openapi_check::check(document, "GET", "/v1/checkpoints", 200, "text/plain", "x"), "");
}

}  // namespace
