#include "torchsystem/error.hpp"

#include <exception>
#include <string>
#include <utility>
#include <vector>

namespace torchsystem {
namespace {

std::string unknown_name_message(const std::string& name, const std::vector<std::string>& suggestions,
                                 const std::string& where) {
  std::string message = "unknown name \"" + name + "\" in " + where;
  if (!suggestions.empty()) {
    message += "; did you mean: ";
    for (std::size_t i = 0; i < suggestions.size(); ++i) {
      if (i != 0) message += ", ";
      message += suggestions[i];
    }
    message += "?";
  }
  return message;
}

}  // namespace

ArgumentError::ArgumentError(std::string path, std::string reason)
    : Error(path.empty() ? reason : path + ": " + reason),
      path_(std::move(path)),
      reason_(std::move(reason)) {}

void ArgumentError::rethrow_at(std::string path) const {
  std::rethrow_exception(with_path(std::move(path)));
}

std::exception_ptr ArgumentError::with_path(std::string path) const {
  return std::make_exception_ptr(ArgumentError(std::move(path), reason_));
}

UnknownNameError::UnknownNameError(std::string name, std::vector<std::string> suggestions, std::string where,
                                   std::string path)
    : ArgumentError(std::move(path), unknown_name_message(name, suggestions, where)),
      name_(std::move(name)),
      suggestions_(std::move(suggestions)),
      where_(std::move(where)) {}

std::exception_ptr UnknownNameError::with_path(std::string path) const {
  return std::make_exception_ptr(UnknownNameError(name_, suggestions_, where_, std::move(path)));
}

CheckpointError::CheckpointError(std::string path, const std::string& reason)
    : Error(path + ": " + reason), path_(std::move(path)) {}

DataError::DataError(std::string path, const std::string& reason)
    : Error(path + ": " + reason), path_(std::move(path)) {}

PluginError::PluginError(std::string path, const std::string& reason)
    : Error("plugin " + path + ": " + reason), path_(std::move(path)) {}

DistributedError::DistributedError(int rank, int world_size, const std::string& reason)
    : Error("rank " + std::to_string(rank) + " of " + std::to_string(world_size) + ": " + reason),
      rank_(rank),
      world_size_(world_size) {}

}  // namespace torchsystem
