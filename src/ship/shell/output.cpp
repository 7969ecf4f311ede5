#include "ship/shell/output.hpp"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cerrno>

#include "common/strings.hpp"

namespace shipyard::ship::shell {
namespace asio = boost::asio;

std::size_t incomplete_utf8_suffix(std::string_view s) {
  // Look back over at most three bytes for the lead byte of the last sequence.
  for (std::size_t back = 1; back <= std::min<std::size_t>(3, s.size()); ++back) {
    auto c = static_cast<unsigned char>(s[s.size() - back]);
    if ((c & 0xC0) == 0x80) continue;  // continuation byte: keep looking
    std::size_t need = 0;
    if ((c & 0xE0) == 0xC0) {
      need = 2;
    } else if ((c & 0xF0) == 0xE0) {
      need = 3;
    } else if ((c & 0xF8) == 0xF0) {
      need = 4;
    }
    return need > back ? back : 0;
  }
  return 0;
}

std::string finish_output(std::string_view raw, std::size_t omitted) {
  if (omitted > 0) {
    std::size_t cut = incomplete_utf8_suffix(raw);
    raw.remove_suffix(cut);
    omitted += cut;
  }
  std::string text(trim(sanitize_utf8(raw)));
  if (omitted > 0) {
    if (!text.empty()) text += '\n';
    text += "[output truncated: " + std::to_string(omitted) + " bytes omitted]";
  }
  return text;
}

void append_capped(std::string& buffer, std::size_t cap, std::string_view data,
                   std::size_t& omitted) {
  std::size_t room = buffer.size() < cap ? cap - buffer.size() : 0;
  std::size_t take = std::min(room, data.size());
  buffer.append(data.substr(0, take));
  omitted += data.size() - take;
}

namespace {

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

}  // namespace

asio::awaitable<void> pump_to_file(asio::posix::stream_descriptor pipe, UniqueFd file,
                                   std::size_t cap) {
  std::array<char, 65536> buf;
  std::size_t written = 0;
  bool writing = file.valid();
  for (;;) {
    auto [ec, n] =
        co_await pipe.async_read_some(asio::buffer(buf), asio::as_tuple(asio::use_awaitable));
    if (n > 0 && writing) {
      std::string_view chunk(buf.data(), n);
      std::size_t take = std::min(chunk.size(), cap - written);
      if (!write_all(file.get(), chunk.substr(0, take))) {
        writing = false;
      } else {
        written += take;
        if (take < chunk.size()) {
          std::string note = "\n[log truncated: further output discarded after " +
                             std::to_string(cap) + " bytes]\n";
          write_all(file.get(), note);
          writing = false;
        }
      }
    }
    if (ec) break;  // EOF, or the descriptor was closed
  }
}

}  // namespace shipyard::ship::shell
