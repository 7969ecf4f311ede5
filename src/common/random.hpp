#pragma once

#include <cstddef>
#include <string>

namespace shipyard {

// `n` lowercase hex characters from the kernel's CSPRNG (getrandom).
std::string random_hex(std::size_t n);

// A random UUID4 string (request ids).
std::string random_uuid4();

}  // namespace shipyard
