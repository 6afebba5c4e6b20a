// The exceptions torchsystem throws.
//
// Everything the library throws on bad input derives from torchsystem::Error, so a caller can catch one
// type at a boundary (a CLI, a REST handler) and still tell the cases apart by the derived type:
//
//   Error                  every error of this library
//   ├── JsonError          malformed JSON, an integer beyond 64 bits, nesting too deep
//   ├── IdentityError      a value with no Python identity text (invalid UTF-8, too deep)
//   ├── RegistrationError  a class definition that is invalid or conflicts with an earlier one
//   ├── NotAnEntityError   the identity of an object not created through the library
//   ├── ArgumentError      arguments that do not fit a signature (in code or a configuration)
//   │   └── UnknownNameError  a name no registry entry has, at any depth; lists the close names
//   ├── CheckpointError    a checkpoint that cannot be saved, read, or does not match what is asked
//   │   └── ForeignFileError  a store entry that is not a regular file of the store (a link, a FIFO)
//   ├── DataError          a data set file that is missing, truncated or not of its format
//   ├── PluginError        a plugin library that cannot be found, loaded or registered
//   ├── DistributedError   a process group that cannot form, or a rank that died or stopped answering
//   └── AllocationLimitError  a build or load driven by a request or a file that would pass its memory bound
#pragma once

#include <exception>
#include <stdexcept>
#include <string>
#include <vector>

namespace torchsystem {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class JsonError : public Error {
 public:
  using Error::Error;
};

class IdentityError : public Error {
 public:
  using Error::Error;
};

class RegistrationError : public Error {
 public:
  using Error::Error;
};

class NotAnEntityError : public Error {
 public:
  using Error::Error;
};

/// Arguments that do not fit a signature. `path()` is where the fault is, such as
/// `MLP.activation -> GLU.hidden_size`; `reason()` is what was expected; `what()` joins the two.
class ArgumentError : public Error {
 public:
  ArgumentError(std::string path, std::string reason);

  const std::string& path() const noexcept { return path_; }
  const std::string& reason() const noexcept { return reason_; }

  /// Throws a copy of this error, of the same derived type, with `path` as its path: the library calls
  /// it to put the enclosing parameter in front as an error travels out of a nested configuration.
  [[noreturn]] void rethrow_at(std::string path) const;

 protected:
  /// A copy of this error, of its derived type, with another path.
  virtual std::exception_ptr with_path(std::string path) const;

 private:
  std::string path_;
  std::string reason_;
};

/// A name that no registry entry has, at the top of a configuration (empty `path()`) or nested in one
/// (`path()` such as `MLP.activation`). `suggestions()` holds the registered names closest to it.
class UnknownNameError : public ArgumentError {
 public:
  /// `where` is what was searched, such as `registry Module`.
  UnknownNameError(std::string name, std::vector<std::string> suggestions, std::string where,
                   std::string path = {});

  const std::string& name() const noexcept { return name_; }
  const std::vector<std::string>& suggestions() const noexcept { return suggestions_; }
  const std::string& where() const noexcept { return where_; }

 protected:
  std::exception_ptr with_path(std::string path) const override;

 private:
  std::string name_;
  std::vector<std::string> suggestions_;
  std::string where_;
};

/// A checkpoint that cannot be saved or read, or whose stored identity is not the one asked for.
/// `path()` is the file (or directory) concerned; `what()` names it and the reason.
class CheckpointError : public Error {
 public:
  CheckpointError(std::string path, const std::string& reason);
  const std::string& path() const noexcept { return path_; }

 private:
  std::string path_;
};

/// An entry of a checkpoint store, named as a checkpoint is, that is not a regular file of the store: a
/// symbolic link, a FIFO, a directory. The store never follows, opens for reading or replaces such a file.
class ForeignFileError : public CheckpointError {
 public:
  using CheckpointError::CheckpointError;
};

/// A data set file that cannot be read or is not what its format says (a wrong magic number, counts that
/// do not match its size). `path()` is the file; `what()` names it and what was expected.
class DataError : public Error {
 public:
  DataError(std::string path, const std::string& reason);
  const std::string& path() const noexcept { return path_; }

 private:
  std::string path_;
};

/// A plugin (a user's shared library of models) that cannot be found or loaded, has no entry point, or
/// whose registration threw. `path()` is the library or the name asked for; `what()` names it and why.
class PluginError : public Error {
 public:
  PluginError(std::string path, const std::string& reason);
  const std::string& path() const noexcept { return path_; }

 private:
  std::string path_;
};

/// A data-parallel job's process group that cannot form (a rendezvous that times out, a bad address), or
/// a collective that failed because another rank died or stopped answering within the group's timeout.
/// `what()` starts with `rank R of N:`, so each process's message says where it came from.
class DistributedError : public Error {
 public:
  DistributedError(int rank, int world_size, const std::string& reason);
  int rank() const noexcept { return rank_; }
  int world_size() const noexcept { return world_size_; }

 private:
  int rank_;
  int world_size_;
};

/// An allocation refused before it happens because it would take a bounded scope past its bound: a build
/// or a load whose size a request or a file decides (torch/allocation_limit.hpp). `what()` names the
/// scope, its bound and what was asked.
class AllocationLimitError : public Error {
 public:
  using Error::Error;
};

}  // namespace torchsystem
