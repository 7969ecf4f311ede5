# Project-wide compiler flags. Applied through an interface target so that
# third-party headers (included as SYSTEM) do not trip them.
add_library(shipyard_flags INTERFACE)
target_compile_options(shipyard_flags INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast -Wcast-align
  -Wunused -Woverloaded-virtual -Wnull-dereference -Wdouble-promotion -Wformat=2
  -Wimplicit-fallthrough
  # GCC 12 reports false positives on coroutine frames and Boost internals.
  -Wno-maybe-uninitialized -Wno-null-dereference
  # GCC 12 -O3 false positive in std::string (GCC PR 105329).
  -Wno-restrict)
target_compile_definitions(shipyard_flags INTERFACE
  BOOST_ASIO_NO_DEPRECATED BOOST_JSON_NO_LIB BOOST_URL_NO_LIB)
# Lets the linker drop unused code (ship links with --gc-sections).
target_compile_options(shipyard_flags INTERFACE -ffunction-sections -fdata-sections)
if(SHIPYARD_WERROR)
  target_compile_options(shipyard_flags INTERFACE -Werror)
endif()
if(SHIPYARD_SANITIZE)
  target_compile_options(shipyard_flags INTERFACE
    -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  target_link_options(shipyard_flags INTERFACE -fsanitize=address,undefined)
endif()
