// NumPy's .npy and .npz files (numpy.hpp). The header is a Python dict literal of three keys; the format
// is NumPy's "NEP 1": magic "\x93NUMPY", major and minor version bytes, the header's length (2 bytes in
// version 1.0, 4 in 2.0 and 3.0, little-endian), the header padded with spaces to a line break, then the
// data.
#include "torchsystem/training/numpy.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ATen/Functions.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>
#include <limits>
#include <optional>
#include <string_view>
#include <system_error>
#include <tuple>

#include "../common/descriptor.hpp"
#include "../common/zip_support.hpp"
#include "huge_pages.hpp"
#include "torchsystem/error.hpp"

namespace torchsystem {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view magic = "\x93NUMPY";
constexpr std::uint64_t max_header_bytes = std::uint64_t{1} << 20;
/// Deflate's densest stream expands about 1032 times; a member announcing more lies.
constexpr std::uint64_t deflate_ratio = 1032;

/// Reads exactly `bytes` into `out`; false at the end of the data before that.
using Source = std::function<bool(void* out, std::size_t bytes)>;

/// A header's fault; the reader names the file (and the member) in front of it.
class HeaderError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// How an element is stored, and what it becomes.
struct Dtype {
  at::ScalarType stored = at::kFloat;  ///< read as this type, of `size` bytes
  std::size_t size = 4;
  bool big_endian = false;
  enum class Widen { none, u16, u32, u64 } widen = Widen::none;
};

struct Header {
  std::string descr;
  Dtype dtype;
  bool fortran = false;
  std::vector<std::int64_t> shape;
  std::uint64_t elements = 1;
  std::uint64_t data_bytes = 0;
  std::uint64_t prefix_bytes = 0;  ///< magic, version, length and header
};

/// The subset of Python literals a header holds: a dict of str keys, whose values are str, bool, or a
/// tuple of ints.
class Literal {
 public:
  explicit Literal(std::string_view text) : text_(text) {}

  void expect(char c) {
    skip_space();
    if (at_ >= text_.size() || text_[at_] != c) fail(std::string("expected '") + c + "'");
    ++at_;
  }
  bool take(char c) {
    skip_space();
    if (at_ < text_.size() && text_[at_] == c) {
      ++at_;
      return true;
    }
    return false;
  }
  char peek() {
    skip_space();
    return at_ < text_.size() ? text_[at_] : '\0';
  }
  std::string string() {
    skip_space();
    if (at_ >= text_.size() || (text_[at_] != '\'' && text_[at_] != '"')) fail("expected a str");
    const char quote = text_[at_++];
    const std::size_t end = text_.find(quote, at_);
    if (end == std::string_view::npos) fail("a str without its closing quote");
    std::string value(text_.substr(at_, end - at_));
    if (value.find('\\') != std::string::npos) fail("a str with an escape, which NumPy's dtypes never hold");
    at_ = end + 1;
    return value;
  }
  bool boolean() {
    skip_space();
    for (const auto& [word, value] :
         {std::pair{std::string_view("True"), true}, std::pair{std::string_view("False"), false}}) {
      if (text_.substr(at_, word.size()) == word) {
        at_ += word.size();
        return value;
      }
    }
    fail("expected True or False");
  }
  std::vector<std::int64_t> int_tuple() {
    expect('(');
    std::vector<std::int64_t> values;
    while (!take(')')) {
      skip_space();
      std::int64_t value = 0;
      const std::size_t start = at_;
      while (at_ < text_.size() && text_[at_] >= '0' && text_[at_] <= '9') {
        const int digit = text_[at_++] - '0';
        if (value > (std::numeric_limits<std::int64_t>::max() - digit) / 10) fail("a dimension beyond int64");
        value = value * 10 + digit;
      }
      if (at_ == start) fail("expected a dimension (an int >= 0)");
      if (at_ < text_.size() && text_[at_] == 'L') ++at_;  // Python 2's long, in files it wrote
      values.push_back(value);
      if (!take(',')) {
        expect(')');
        break;
      }
    }
    return values;
  }
  void end() {
    skip_space();
    if (at_ != text_.size()) fail("text after the dict");
  }

  [[noreturn]] void fail(const std::string& reason) const {
    throw HeaderError("its header is not the dict NumPy writes (" + reason + " at character " +
                      std::to_string(at_) + " of \"" + std::string(text_.substr(0, 120)) + "\")");
  }

 private:
  void skip_space() {
    while (at_ < text_.size() && (text_[at_] == ' ' || text_[at_] == '\n' || text_[at_] == '\t')) ++at_;
  }

  std::string_view text_;
  std::size_t at_ = 0;
};

Dtype dtype_of(const std::string& descr) {
  const auto refuse = [&](const std::string& what) -> Dtype {
    throw HeaderError("its dtype '" + descr + "' is " + what +
                      ", not a number (bool, int, uint or float) a tensor can hold");
  };
  if (descr.size() < 2) refuse("unknown");
  const char order = descr[0];
  if (order != '<' && order != '>' && order != '|' && order != '=') refuse("unknown");
  const char kind = descr[1];
  const std::string size_text = descr.substr(2);
  switch (kind) {
    case 'O':
      return refuse("an object (Python objects, pickled)");
    case 'U':
    case 'S':
    case 'a':
      return refuse("a string");
    case 'V':
      return refuse("raw bytes (void)");
    case 'M':
    case 'm':
      return refuse("a date or time");
    case 'c':
      return refuse("complex");
    default:
      break;
  }
  Dtype dtype;
  dtype.big_endian = order == '>';
  const std::string key = std::string(1, kind) + size_text;
  using Widen = Dtype::Widen;
  static const std::vector<std::tuple<std::string, at::ScalarType, std::size_t, Widen>> known = {
      {"b1", at::kBool, 1, Widen::none},  {"i1", at::kChar, 1, Widen::none},
      {"i2", at::kShort, 2, Widen::none}, {"i4", at::kInt, 4, Widen::none},
      {"i8", at::kLong, 8, Widen::none},  {"u1", at::kByte, 1, Widen::none},
      {"u2", at::kShort, 2, Widen::u16},  {"u4", at::kInt, 4, Widen::u32},
      {"u8", at::kLong, 8, Widen::u64},   {"f2", at::kHalf, 2, Widen::none},
      {"f4", at::kFloat, 4, Widen::none}, {"f8", at::kDouble, 8, Widen::none},
  };
  for (const auto& [name, type, size, widen] : known) {
    if (name == key) {
      dtype.stored = type;
      dtype.size = size;
      dtype.widen = widen;
      return dtype;
    }
  }
  return refuse("unknown");
}

/// Reads and checks the header from `source`; the data follow it.
Header read_header(const Source& source) {
  char start[8];
  if (!source(start, sizeof start) || std::string_view(start, 6) != magic)
    throw HeaderError("not a .npy array (it does not start with NumPy's magic \"\\x93NUMPY\")");
  const int major = static_cast<unsigned char>(start[6]);
  const int minor = static_cast<unsigned char>(start[7]);
  if ((major != 1 && major != 2 && major != 3) || minor != 0)
    throw HeaderError("its format version " + std::to_string(major) + "." + std::to_string(minor) +
                      " is not 1.0, 2.0 or 3.0");
  unsigned char length_bytes[4] = {};
  const std::size_t length_size = major == 1 ? 2 : 4;
  if (!source(length_bytes, length_size)) throw HeaderError("it ends inside its header");
  std::uint64_t length = 0;
  for (std::size_t index = length_size; index-- > 0;) length = length << 8 | length_bytes[index];
  if (length > max_header_bytes)
    throw HeaderError("its header announces " + std::to_string(length) + " bytes");
  std::string text(static_cast<std::size_t>(length), '\0');
  if (!source(text.data(), text.size())) throw HeaderError("it ends inside its header");

  Header header;
  header.prefix_bytes = 8 + length_size + length;
  Literal literal(text);
  literal.expect('{');
  bool has_descr = false, has_order = false, has_shape = false;
  while (!literal.take('}')) {
    const std::string key = literal.string();
    literal.expect(':');
    if (key == "descr") {
      if (literal.peek() == '[') throw HeaderError("its dtype is structured (named fields), not a number");
      header.descr = literal.string();
      header.dtype = dtype_of(header.descr);
      has_descr = true;
    } else if (key == "fortran_order") {
      header.fortran = literal.boolean();
      has_order = true;
    } else if (key == "shape") {
      header.shape = literal.int_tuple();
      has_shape = true;
    } else {
      literal.fail("the key '" + key + "', which is not descr, fortran_order or shape");
    }
    if (!literal.take(',')) {
      literal.expect('}');
      break;
    }
  }
  literal.end();
  if (!has_descr || !has_order || !has_shape)
    throw HeaderError("its header lacks one of 'descr', 'fortran_order' and 'shape'");
  for (const std::int64_t dimension : header.shape) {
    const auto size = static_cast<std::uint64_t>(dimension);
    if (size != 0 && header.elements > (std::uint64_t{1} << 59) / size)  // bytes stay below 2^62
      throw HeaderError("its shape holds more elements than memory could");
    header.elements *= size;
  }
  header.data_bytes = header.elements * header.dtype.size;
  return header;
}

void swap_bytes(at::Tensor& values, std::size_t size) {
  auto* bytes = static_cast<unsigned char*>(values.data_ptr());
  const auto count = static_cast<std::size_t>(values.numel());
  for (std::size_t index = 0; index < count; ++index)
    std::reverse(bytes + index * size, bytes + (index + 1) * size);
}

/// Reads the data `header` announces from `source` into a tensor of its shape, in C order.
at::Tensor read_data(const Header& header, const Source& source) {
  std::vector<std::int64_t> shape = header.shape;
  if (header.fortran) std::reverse(shape.begin(), shape.end());  // read as the transpose, in C order
  at::Tensor values = training_detail::empty_huge(shape, header.dtype.stored);
  auto* out = static_cast<char*>(values.data_ptr());
  // In chunks that stay in the cache: an archive's reader computes the CRC-32 of each chunk just read,
  // which reads it again (64 MiB chunks made the stored Fashion-MNIST archive 1.6 times slower).
  for (std::uint64_t left = header.data_bytes; left > 0;) {
    const auto chunk = static_cast<std::size_t>(std::min<std::uint64_t>(left, std::uint64_t{1} << 20));
    if (!source(out, chunk))
      throw HeaderError("it holds fewer bytes than its header announces (" +
                        std::to_string(header.data_bytes) + " of data): truncated");
    out += chunk;
    left -= chunk;
  }
  if (header.dtype.big_endian && header.dtype.size > 1) swap_bytes(values, header.dtype.size);
  switch (header.dtype.widen) {
    case Dtype::Widen::u16:
      values = values.to(at::kInt).bitwise_and(0xFFFF);
      break;
    case Dtype::Widen::u32:
      values = values.to(at::kLong).bitwise_and(std::int64_t{0xFFFFFFFF});
      break;
    case Dtype::Widen::u64:
      if (values.numel() > 0 && values.lt(0).any().item<bool>())
        throw HeaderError("a uint64 value is beyond int64, the widest integer a tensor holds");
      break;
    case Dtype::Widen::none:
      break;
  }
  if (header.fortran && values.dim() > 1) {
    std::vector<std::int64_t> order(static_cast<std::size_t>(values.dim()));
    for (std::size_t index = 0; index < order.size(); ++index)
      order[index] = static_cast<std::int64_t>(order.size() - 1 - index);
    values = values.permute(order).contiguous();
  }
  return values;
}

}  // namespace

at::Tensor read_npy(const fs::path& path) {
  const detail::Descriptor file(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (file.get() < 0) throw DataError(path.string(), std::string("cannot open: ") + std::strerror(errno));
  struct stat status {};
  if (::fstat(file.get(), &status) != 0 || !S_ISREG(status.st_mode))
    throw DataError(path.string(), "not a regular file");
  const auto size = static_cast<std::uint64_t>(status.st_size);
  std::uint64_t at = 0;
  const Source source = [&](void* out, std::size_t bytes) {
    try {
      if (!detail::read_at(file.get(), out, bytes, at)) return false;
    } catch (const std::system_error& error) {
      throw DataError(path.string(), std::string("cannot read: ") + std::strerror(error.code().value()));
    }
    at += bytes;
    return true;
  };
  try {
    const Header header = read_header(source);
    // Checked before the data are allocated: a header cannot make the reader allocate what is not there.
    if (size - header.prefix_bytes != header.data_bytes)
      throw HeaderError(
          "it holds " + std::to_string(size - header.prefix_bytes) + " bytes of data, its header announces " +
          std::to_string(header.data_bytes) + " (" +
          (size - header.prefix_bytes < header.data_bytes ? "truncated" : "bytes after the array") + ")");
    return read_data(header, source);
  } catch (const HeaderError& e) {
    throw DataError(path.string(), e.what());
  }
}

std::map<std::string, at::Tensor> read_npz(const fs::path& path, const std::vector<std::string>& names) {
  int code = 0;
  const detail::ZipArchive archive(zip_open(path.c_str(), ZIP_RDONLY | ZIP_CHECKCONS, &code));
  if (!archive) {
    if (code == ZIP_ER_NOENT || code == ZIP_ER_OPEN)
      throw DataError(path.string(), "cannot open: " + detail::zip_error_text(code));
    throw DataError(path.string(), "not a .npz archive (" + detail::zip_error_text(code) + ")");
  }
  std::map<std::string, at::Tensor> arrays;
  for (const std::string& name : names) {
    const std::string member = name + ".npy";
    const zip_int64_t index = zip_name_locate(archive.get(), member.c_str(), 0);
    if (index < 0) {
      std::string held;
      const zip_int64_t entries = zip_get_num_entries(archive.get(), 0);
      for (zip_int64_t other = 0; other < entries && other < 20; ++other) {
        const char* named = zip_get_name(archive.get(), static_cast<zip_uint64_t>(other), 0);
        if (named == nullptr) continue;
        std::string other_name = named;
        if (other_name.ends_with(".npy")) other_name.resize(other_name.size() - 4);
        held += (held.empty() ? "" : ", ") + other_name;
      }
      throw DataError(path.string(),
                      "has no array \"" + name + "\" (its arrays: " + (held.empty() ? "none" : held) + ")");
    }
    const std::string where = "array \"" + name + "\": ";
    zip_stat_t stat;
    zip_stat_init(&stat);
    if (zip_stat_index(archive.get(), static_cast<zip_uint64_t>(index), 0, &stat) != 0)
      throw DataError(path.string(), where + "damaged (" + zip_strerror(archive.get()) + ")");
    if (stat.comp_method != ZIP_CM_STORE && stat.comp_method != ZIP_CM_DEFLATE)
      throw DataError(path.string(), where + "compressed with a method numpy.savez never uses");
    if (stat.comp_method == ZIP_CM_DEFLATE && stat.size > deflate_ratio * stat.comp_size + 1024)
      throw DataError(path.string(), where + "announces " + std::to_string(stat.size) + " bytes from " +
                                         std::to_string(stat.comp_size) +
                                         " compressed, more than deflate can expand them to");
    const detail::ZipFile file(zip_fopen_index(archive.get(), static_cast<zip_uint64_t>(index), 0));
    if (!file) throw DataError(path.string(), where + "damaged (" + zip_strerror(archive.get()) + ")");
    const Source source = [&](void* out, std::size_t bytes) {
      auto* to = static_cast<char*>(out);
      while (bytes > 0) {
        const zip_int64_t got = zip_fread(file.get(), to, bytes);
        if (got < 0)
          throw DataError(path.string(), where + "corrupted (" + zip_file_strerror(file.get()) + ")");
        if (got == 0) return false;
        to += got;
        bytes -= static_cast<std::size_t>(got);
      }
      return true;
    };
    try {
      const Header header = read_header(source);
      if (stat.size < header.prefix_bytes || stat.size - header.prefix_bytes != header.data_bytes)
        throw HeaderError("its member holds " + std::to_string(stat.size) + " bytes, its header announces " +
                          std::to_string(header.prefix_bytes + header.data_bytes));
      arrays.emplace(name, read_data(header, source));
    } catch (const HeaderError& e) {
      throw DataError(path.string(), where + e.what());
    }
    // Reading past the end is what makes libzip compare the CRC-32.
    char extra = 0;
    if (zip_fread(file.get(), &extra, 1) != 0)
      throw DataError(path.string(), where + "corrupted (" + zip_file_strerror(file.get()) + ")");
  }
  return arrays;
}

}  // namespace torchsystem
