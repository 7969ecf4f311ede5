// Running blocking work on the driver's thread pool from a coroutine on Bay's I/O
// executor. Callers bind the callable to a named local before co_await-ing (GCC 12
// miscompiles temporaries inside co_await expressions, see the helper brief).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <optional>
#include <type_traits>
#include <utility>

namespace shipyard::bay::detail {

// A coroutine *function*: its parameters are copied into the frame correctly, unlike
// the captures of a lambda coroutine moved into co_spawn.
template <typename F, typename R = std::invoke_result_t<F&>>
boost::asio::awaitable<std::optional<R>> call_on_pool(F f) {
  co_return std::optional<R>(f());
}

// Runs `f` on `pool` and resumes the caller on its own executor with the result.
template <typename F>
boost::asio::awaitable<std::invoke_result_t<F&>> offload(boost::asio::thread_pool& pool, F f) {
  // co_spawn needs a default-constructible result; Result<T> is not, so wrap it.
  auto out = co_await boost::asio::co_spawn(pool.get_executor(), call_on_pool(std::move(f)),
                                            boost::asio::use_awaitable);
  co_return std::move(*out);
}

}  // namespace shipyard::bay::detail
