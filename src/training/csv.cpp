// CSV files read into tensors (csv.hpp). libcsv splits the bytes into fields and records; this file
// checks and converts them. libcsv is C: its callbacks must not throw through it, so the first fault is
// kept and thrown once libcsv has returned.
#include "torchsystem/training/csv.hpp"

#include <csv.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <ATen/Functions.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <memory>
#include <optional>
#include <string_view>
#include <system_error>

#include "../common/descriptor.hpp"
#include "torchsystem/error.hpp"

namespace torchsystem {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t chunk_bytes = std::size_t{1} << 20;

/// A cell as a message shows it: quoted, cut after 40 characters.
std::string shown(std::string_view cell) {
  constexpr std::size_t most = 40;
  std::string text(1, '"');
  text.append(cell.substr(0, most));
  text.append(cell.size() > most ? "...\"" : "\"");
  return text;
}

/// Spaces around a cell are not part of its number; libcsv drops them outside quotes, these are inside.
std::string_view trimmed(std::string_view cell) {
  const auto first = cell.find_first_not_of(" \t");
  if (first == std::string_view::npos) return {};
  return cell.substr(first, cell.find_last_not_of(" \t") - first + 1);
}

/// The state libcsv's callbacks fill: the header, then the rows' values.
class Reader {
 public:
  Reader(const fs::path& path, const CsvOptions& options) : path_(path), options_(options) {}

  void on_field(std::string_view cell) {
    if (error_) return;
    pending_lines_ += static_cast<std::int64_t>(std::count(cell.begin(), cell.end(), '\n'));
    if (!header_done_) {
      header_.emplace_back(cell);
      ++field_;
      return;
    }
    if (field_ >= columns_) {
      fail("has more than the header's " + std::to_string(columns_) + " fields");
      return;
    }
    value(cell);
    ++field_;
  }

  void on_record_end(int end) {
    if (error_) return;
    if (field_ == 0) {
      // With CSV_REPALL_NL libcsv reports every line end outside a record: the LF of a CRLF, which ends
      // no line of its own, or a blank line, which is skipped.
      if (!(end == '\n' && last_end_ == '\r')) ++line_;
      last_end_ = end;
      return;
    }
    if (!header_done_) {
      finish_header();
    } else if (field_ < columns_) {
      fail("has " + std::to_string(field_) + " fields; the header has " + std::to_string(columns_));
      return;
    } else {
      lines_.push_back(line_);
    }
    line_ += 1 + pending_lines_;
    pending_lines_ = 0;
    field_ = 0;
    last_end_ = end;
  }

  /// Room for the rows still to come, guessed from the bytes read so far, so that the buffer grows once.
  void reserve(std::uint64_t bytes_read, std::uint64_t file_size) {
    if (lines_.empty() || bytes_read == 0) return;
    const double scale = 1.05 * static_cast<double>(file_size) / static_cast<double>(bytes_read);
    const auto rows = static_cast<std::size_t>(static_cast<double>(lines_.size()) * scale) + 16;
    features_.reserve(rows * (columns_ - 1));
    target_.reserve(rows);
    lines_.reserve(rows);
  }

  std::int64_t line() const { return line_; }
  const std::optional<std::string>& error() const { return error_; }
  [[noreturn]] void raise() const { throw DataError(path_.string(), *error_); }
  [[noreturn]] void raise(const std::string& reason) const {
    throw DataError(path_.string(), "line " + std::to_string(line_) + ": " + reason);
  }

  CsvTable table() && {
    if (!header_done_) throw DataError(path_.string(), "is empty: a CSV file starts with a header row");
    if (lines_.empty()) throw DataError(path_.string(), "has a header but no rows: a split needs samples");
    CsvTable table;
    const auto rows = static_cast<std::int64_t>(lines_.size());
    const auto width = static_cast<std::int64_t>(columns_ - 1);
    table.features = owned_tensor(std::move(features_), {rows, width}, at::kFloat);
    table.target = owned_tensor(std::move(target_), {rows}, at::kDouble);
    for (std::size_t column = 0; column < columns_; ++column)
      if (static_cast<std::int64_t>(column) != target_column_)
        table.feature_columns.push_back(header_[column]);
    table.lines = std::move(lines_);
    return table;
  }

 private:
  template <typename T>
  static at::Tensor owned_tensor(std::vector<T>&& values, at::IntArrayRef sizes, at::ScalarType type) {
    values.shrink_to_fit();
    auto* owner = new std::vector<T>(std::move(values));
    return at::from_blob(
        owner->data(), sizes, [owner](void*) { delete owner; }, at::TensorOptions().dtype(type));
  }

  void finish_header() {
    columns_ = header_.size();
    header_done_ = true;
    for (std::size_t column = 0; column < columns_; ++column) {
      if (header_[column] != options_.target) continue;
      if (target_column_ >= 0) {
        fail("the header names the target \"" + options_.target + "\" twice (columns " +
             std::to_string(target_column_ + 1) + " and " + std::to_string(column + 1) + ")");
        return;
      }
      target_column_ = static_cast<std::int64_t>(column);
    }
    if (target_column_ < 0) {
      std::string names;
      for (const auto& name : header_) names += (names.empty() ? "" : ", ") + shown(name);
      fail("the header has no column \"" + options_.target + "\" (the target); its columns are " + names);
    } else if (columns_ < 2) {
      fail("the header has only the target \"" + options_.target + "\": no feature columns");
    }
  }

  void value(std::string_view raw) {
    const std::string_view cell = trimmed(raw);
    const std::string where = "column " + std::to_string(field_ + 1) + " (\"" + header_[field_] + "\"): ";
    if (cell.empty()) return fail(where + "the cell is empty; every cell is a number");
    // from_chars takes a minus sign, not a plus sign.
    const std::string_view digits =
        cell.front() == '+' && cell.size() > 1 && cell[1] != '-' ? cell.substr(1) : cell;
    double number = 0;
    const auto [end, code] = std::from_chars(digits.data(), digits.data() + digits.size(), number);
    if (code == std::errc::result_out_of_range)
      return fail(where + shown(cell) + " is beyond the range of a float64");
    if (code != std::errc() || end != digits.data() + digits.size())
      return fail(where + shown(cell) + " is not a number");
    if (!std::isfinite(number)) return fail(where + shown(cell) + " is NaN or infinite");
    if (static_cast<std::int64_t>(field_) == target_column_) {
      target_.push_back(number);
      return;
    }
    const auto feature = static_cast<float>(number);
    if (!std::isfinite(feature)) return fail(where + shown(cell) + " is beyond the range of a float32");
    features_.push_back(feature);
  }

  void fail(const std::string& reason) {
    if (!error_) error_ = "line " + std::to_string(line_) + ", " + reason;
  }

  const fs::path& path_;
  const CsvOptions& options_;
  std::vector<std::string> header_;
  bool header_done_ = false;
  std::size_t columns_ = 0;
  std::int64_t target_column_ = -1;
  std::vector<float> features_;
  std::vector<double> target_;
  std::vector<std::int64_t> lines_;
  std::size_t field_ = 0;           ///< fields of the current record so far
  std::int64_t line_ = 1;           ///< the line the current record starts on
  std::int64_t pending_lines_ = 0;  ///< line ends inside the current record's quoted fields
  int last_end_ = 0;
  std::optional<std::string> error_;
};

void on_field(void* text, std::size_t size, void* reader) {
  static_cast<Reader*>(reader)->on_field({static_cast<const char*>(text), size});
}

void on_record_end(int end, void* reader) {
  static_cast<Reader*>(reader)->on_record_end(end);
}

int is_space(unsigned char c) {
  return c == ' ' || c == '\t';
}
int is_space_not_tab(unsigned char c) {
  return c == ' ';
}

/// libcsv's parser, freed on every path.
class Parser {
 public:
  explicit Parser(const CsvOptions& options) {
    // Strict: a quote inside an unquoted field or text after a closing quote is an error, and so is a
    // quoted field still open at the end. Every line end is reported, so that lines can be counted.
    if (csv_init(&parser_, CSV_STRICT | CSV_STRICT_FINI | CSV_REPALL_NL) != 0) throw std::bad_alloc();
    csv_set_delim(&parser_, static_cast<unsigned char>(options.delimiter));
    csv_set_space_func(&parser_, options.delimiter == '\t' ? is_space_not_tab : is_space);
  }
  Parser(const Parser&) = delete;
  Parser& operator=(const Parser&) = delete;
  ~Parser() { csv_free(&parser_); }
  csv_parser* get() { return &parser_; }

 private:
  csv_parser parser_{};
};

}  // namespace

CsvTable read_csv(const fs::path& path, const CsvOptions& options) {
  if (options.delimiter == '"' || options.delimiter == '\n' || options.delimiter == '\r')
    throw DataError(path.string(), "a quote or a line end cannot separate fields");
  const detail::Descriptor file(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (file.get() < 0) throw DataError(path.string(), std::string("cannot open: ") + std::strerror(errno));
  struct stat status {};
  if (::fstat(file.get(), &status) != 0 || !S_ISREG(status.st_mode))
    throw DataError(path.string(), "is not a regular file");
  const auto size = static_cast<std::uint64_t>(status.st_size);

  Reader reader(path, options);
  Parser parser(options);
  std::vector<char> chunk(chunk_bytes);
  for (std::uint64_t offset = 0; offset < size;) {
    const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(chunk.size(), size - offset));
    try {
      if (!detail::read_at(file.get(), chunk.data(), want, offset))
        throw DataError(path.string(), "became shorter while it was read");
    } catch (const std::system_error& error) {
      throw DataError(path.string(), std::string("cannot read: ") + std::strerror(error.code().value()));
    }
    const std::size_t parsed = csv_parse(parser.get(), chunk.data(), want, on_field, on_record_end, &reader);
    if (reader.error()) reader.raise();
    if (parsed != want) {
      if (csv_error(parser.get()) == CSV_EPARSE)
        reader.raise("malformed quoting (a quote inside an unquoted field, or text after a closing quote)");
      reader.raise(std::string("cannot parse: ") + csv_strerror(csv_error(parser.get())));
    }
    if (offset == 0) reader.reserve(want, size);
    offset += want;
  }
  if (csv_fini(parser.get(), on_field, on_record_end, &reader) != 0)
    reader.raise("a quoted field is still open at the end of the file");
  if (reader.error()) reader.raise();
  return std::move(reader).table();
}

}  // namespace torchsystem
