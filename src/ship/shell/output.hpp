// Command output: the capped text of a foreground stream and the log file of a
// background process. Both keep reading until EOF so that a writer never blocks on a
// full pipe, and discard what exceeds their cap.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <cstddef>
#include <string>
#include <string_view>

#include "common/unique_fd.hpp"

namespace shipyard::ship::shell {

// Bytes at the end of `s` that start a UTF-8 sequence but do not complete it (0-3): a
// cap that cut a character in half leaves them.
std::size_t incomplete_utf8_suffix(std::string_view s);

// The text returned for one captured stream: invalid UTF-8 replaced by U+FFFD, ASCII
// whitespace trimmed at both ends, then "\n[output truncated: N bytes omitted]" when
// `omitted` > 0 (a character the cap cut in half is counted as omitted).
std::string finish_output(std::string_view raw, std::size_t omitted);

// Appends `data` to `buffer` up to `cap` bytes in total and counts the rest in `omitted`.
void append_capped(std::string& buffer, std::size_t cap, std::string_view data,
                   std::size_t& omitted);

// Copies everything readable from `pipe` into `file` until EOF: the first `cap` bytes,
// then one line "[log truncated: further output discarded after N bytes]" and nothing
// more (the pipe is still drained). A write error stops writing, not reading. Writes to
// the regular file are synchronous (page cache) on the caller's executor.
boost::asio::awaitable<void> pump_to_file(boost::asio::posix::stream_descriptor pipe, UniqueFd file,
                                          std::size_t cap);

}  // namespace shipyard::ship::shell
