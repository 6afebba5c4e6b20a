// Tabular data read into tensors: a CSV file with a header row and numeric cells, one column of which is
// the target (a class label or a regression target) and the others the features, in file order.
//
//   const CsvTable table = read_csv("train.csv", {.target = "y"});      // features [rows, columns - 1]
//
// The parsing is libcsv's (Debian's libcsv, RFC 4180 in strict mode: quoted fields, doubled quotes,
// CRLF or LF line ends, a last line with or without its end); blank lines are skipped. Every cell must be
// a number as C++'s from_chars reads it (an optional sign, decimal or scientific notation; spaces around
// it are ignored), finite; the first fault is a DataError naming the file, the line, the column and the
// cell. The values are appended to one growing buffer that the tensor then owns, so a large file is held
// once.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace torchsystem {

struct CsvOptions {
  /// The header's name of the target column.
  std::string target;
  /// The field separator; the quote is always '"'.
  char delimiter = ',';
};

/// A CSV file's rows: the features of each row and its target.
struct CsvTable {
  at::Tensor features;                       ///< float32 [rows, columns - 1]
  at::Tensor target;                         ///< float64 [rows]: exact for integer labels up to 2^53
  std::vector<std::string> feature_columns;  ///< the features' header names, in file order
  std::vector<std::int64_t> lines;           ///< each row's line in the file (1 is the header), for messages
};

/// Reads `path`. Throws DataError naming the file (and the line and column of a bad cell): a missing or
/// repeated target column, a row with another number of fields than the header, a cell that is empty,
/// not a number or not finite, malformed quoting, a file without rows.
CsvTable read_csv(const std::filesystem::path& path, const CsvOptions& options);

}  // namespace torchsystem
