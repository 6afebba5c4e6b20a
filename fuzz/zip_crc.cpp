// Zip CRC repair for the checkpoint fuzz target (see zip_crc.hpp). Bounds are checked at every read:
// the input is arbitrary bytes.
#include "zip_crc.hpp"

#include <array>
#include <cstddef>
#include <cstdint>

namespace torchsystem::fuzz {
namespace {

constexpr std::uint32_t local_signature = 0x04034b50;
constexpr std::uint32_t central_signature = 0x02014b50;
constexpr std::uint32_t end_signature = 0x06054b50;
constexpr std::uint32_t descriptor_signature = 0x08074b50;
constexpr std::size_t end_record_size = 22;
constexpr std::size_t central_record_size = 46;
constexpr std::size_t local_header_size = 30;

constexpr std::array<std::uint32_t, 256> crc_table = [] {
  std::array<std::uint32_t, 256> table{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xedb88320U ^ (c >> 1) : c >> 1;
    table[i] = c;
  }
  return table;
}();

std::uint32_t crc32(std::string_view bytes) {
  std::uint32_t c = 0xffffffffU;
  for (const char byte : bytes) c = crc_table[(c ^ static_cast<unsigned char>(byte)) & 0xff] ^ (c >> 8);
  return c ^ 0xffffffffU;
}

bool fits(const std::string& data, std::size_t offset, std::size_t size) {
  return offset <= data.size() && size <= data.size() - offset;
}

std::uint32_t read_le(const std::string& data, std::size_t offset, int bytes) {
  std::uint32_t value = 0;
  for (int i = bytes - 1; i >= 0; --i)
    value = (value << 8) | static_cast<unsigned char>(data[offset + static_cast<std::size_t>(i)]);
  return value;
}

void write_le32(std::string& data, std::size_t offset, std::uint32_t value) {
  for (int i = 0; i < 4; ++i)
    data[offset + static_cast<std::size_t>(i)] = static_cast<char>(value >> (8 * i));
}

}  // namespace

std::string with_recomputed_crcs(std::string_view zip) {
  std::string data(zip);
  if (data.size() < end_record_size) return data;
  // The end record is the last thing in the file, followed by a comment of at most 64 KiB.
  std::size_t end = std::string::npos;
  for (std::size_t at = data.size() - end_record_size + 1; at-- > 0 && data.size() - at <= 65557;) {
    if (read_le(data, at, 4) == end_signature) {
      end = at;
      break;
    }
  }
  if (end == std::string::npos) return data;
  const std::size_t entries = read_le(data, end + 10, 2);
  std::size_t record = read_le(data, end + 16, 4);
  for (std::size_t i = 0; i < entries; ++i) {
    if (!fits(data, record, central_record_size) || read_le(data, record, 4) != central_signature) break;
    const std::uint32_t flags = read_le(data, record + 8, 2);
    const std::uint32_t method = read_le(data, record + 10, 2);
    const std::uint32_t compressed = read_le(data, record + 20, 4);
    const std::uint32_t uncompressed = read_le(data, record + 24, 4);
    const std::size_t name_size = read_le(data, record + 28, 2);
    const std::size_t extra_size = read_le(data, record + 30, 2);
    const std::size_t comment_size = read_le(data, record + 32, 2);
    const std::size_t local = read_le(data, record + 42, 4);
    const std::size_t next = record + central_record_size + name_size + extra_size + comment_size;
    if (method == 0 && compressed == uncompressed && compressed != 0xffffffffU && local != 0xffffffffU &&
        fits(data, local, local_header_size) && read_le(data, local, 4) == local_signature) {
      const std::size_t start =
          local + local_header_size + read_le(data, local + 26, 2) + read_le(data, local + 28, 2);
      if (fits(data, start, compressed)) {
        const std::uint32_t crc = crc32(std::string_view(data).substr(start, compressed));
        write_le32(data, record + 16, crc);
        // With a data descriptor (flag bit 3) the local header's CRC stays 0, as writers leave it: libzip's
        // consistency check compares it with the central directory's only when it is meant to be there.
        if ((read_le(data, local + 6, 2) & 8) == 0) write_le32(data, local + 14, crc);
        const std::size_t descriptor = start + compressed;
        if ((flags & 8) != 0 && fits(data, descriptor, 4)) {
          const bool signed_descriptor = read_le(data, descriptor, 4) == descriptor_signature;
          const std::size_t at = descriptor + (signed_descriptor ? 4 : 0);
          if (fits(data, at, 4)) write_le32(data, at, crc);
        }
      }
    }
    record = next;
  }
  return data;
}

}  // namespace torchsystem::fuzz
