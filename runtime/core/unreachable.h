// ENCORE_UNREACHABLE(what): marks a path the callers' contract rules out (a kernel the kernel
// table did not choose, asked for anyway). Debug builds (NDEBUG not defined) print `what` with
// the file and line and abort; release builds do nothing there, and the code after the macro
// does the safe thing it documents (write nothing, return the error).
#pragma once

#ifndef NDEBUG
#include <cstdio>
#include <cstdlib>
#define ENCORE_UNREACHABLE(what) \
  (std::fprintf(stderr, "%s:%d: unreachable: %s\n", __FILE__, __LINE__, what), std::abort())
#else
#define ENCORE_UNREACHABLE(what) ((void)0)
#endif
