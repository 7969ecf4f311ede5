// Row helpers shared by the SqliteDb translation units: stepping a statement into one
// optional row or a vector of rows. Internal to bay_store.
#pragma once

#include <optional>
#include <utility>
#include <vector>

#include "bay/store/sqlite_connection.hpp"

namespace shipyard::bay::sqlite {

// All remaining rows of `s`, each converted by `read(const Stmt&) -> T`.
template <typename T, typename Read>
Result<std::vector<T>> collect_rows(Stmt& s, Read read) {
  std::vector<T> out;
  for (;;) {
    auto row = s.step();
    if (!row) return std::move(row).error();
    if (!*row) return out;
    out.push_back(read(s));
  }
}

// The first row of `s` (nullopt when there is none).
template <typename T, typename Read>
Result<std::optional<T>> first_row(Stmt& s, Read read) {
  auto row = s.step();
  if (!row) return std::move(row).error();
  if (!*row) return std::optional<T>();
  return std::optional<T>(read(s));
}

}  // namespace shipyard::bay::sqlite
