// Lexical half of Ship's path confinement (spec ship-api.md §3.2 steps 1-2). Pure string
// work: nothing here touches the filesystem. The kernel half (openat2 beneath a root fd)
// lives in workspace.hpp / ops.hpp; a path accepted here is still resolved and confined by
// the kernel, so this layer only has to be correct for the 403 *messages*, not for safety.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "common/error.hpp"

namespace shipyard::ship::fs {

// Longest client path accepted (PATH_MAX); longer → kInvalidArgument "Path is too long".
inline constexpr std::size_t kMaxPathBytes = 4096;

// The 403 error of spec §3.2 step 4:
//   kPathEscape "Access denied: path must be within workspace <root>"
Error escape_error(std::string_view root);

// Normalises a client path against the display root `root` (absolute, e.g. "/workspace" or
// "/workspace/sid"; it is itself normalised lexically first).
//   * '.', '..' and repeated '/' are collapsed; a trailing '/' is dropped;
//   * a relative path is refused if it climbs above the root at any point, even if it comes
//     back ("../ws/a" with root "/ws" is refused: spec "a relative path that climbs above
//     ROOT is refused");
//   * an absolute path is normalised as an absolute path (".." at "/" stays at "/") and then
//     accepted only if it equals ROOT or starts with "ROOT/"; it is made relative to ROOT;
//   * a NUL byte anywhere → kPathEscape (it could never name anything beneath the root).
// Returns the relative path ("a/b", never starting with '/', never containing '.' or '..'
// components), or "." for the root itself.
// Errors: kPathEscape (message of escape_error(root)); kInvalidArgument "Path must not be
// empty" for ""; kInvalidArgument "Path is too long" beyond kMaxPathBytes.
Result<std::string> normalize(std::string_view path, std::string_view root);

// Lexically normalises an absolute path ("/a/./b//c/../d" → "/a/b/d"; ".." at "/" stays).
// A relative input is treated as if it started with '/'.
std::string normalize_absolute(std::string_view path);

// Joins a normalised display root and a relative path from normalize(): root for ".".
std::string join_display(std::string_view root, std::string_view rel);

// Splits a normalised relative path (not ".") into its parent ("." for top-level names)
// and its last component.
struct SplitPath {
  std::string parent;
  std::string leaf;
};
SplitPath split_parent(std::string_view rel);

}  // namespace shipyard::ship::fs
