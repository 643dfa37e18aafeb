// parallel_for over pthreadpool without allocation: the callable is passed by pointer
// through pthreadpool's void* context.
#pragma once

#include <pthreadpool.h>

#include <cstddef>

namespace encore::internal {

// Calls f(begin, end) on tiles of [0, n) of at most `tile` items, spread over the pool
// (on the calling thread when pool is null).
template <typename F>
void parallel_for(pthreadpool_t pool, size_t n, size_t tile, const F& f) {
  if (n == 0) return;
  if (!pool || n <= tile) {
    f(size_t{0}, n);
    return;
  }
  pthreadpool_parallelize_1d_tile_1d(
      pool,
      [](void* ctx, size_t start, size_t count) { (*static_cast<const F*>(ctx))(start, start + count); },
      const_cast<F*>(&f), n, tile, /*flags=*/0);
}

// Calls f(task) for task in [0, n), one call per task.
template <typename F>
void parallel_tasks(pthreadpool_t pool, size_t n, const F& f) {
  if (n == 0) return;
  if (!pool || n == 1) {
    for (size_t i = 0; i < n; ++i) f(i);
    return;
  }
  pthreadpool_parallelize_1d(
      pool, [](void* ctx, size_t i) { (*static_cast<const F*>(ctx))(i); }, const_cast<F*>(&f), n,
      /*flags=*/0);
}

}  // namespace encore::internal
