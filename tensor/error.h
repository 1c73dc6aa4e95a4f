// The project's one error type, and the check macro every op uses at its boundary.
#pragma once
#include <fmt/format.h>

#include <stdexcept>
#include <string>

namespace hipt {

// Thrown for every user-facing failure: shape, dtype or device mismatch, bad argument, bad file.
// The message always starts with the op or file name so that one line tells what went wrong.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

}  // namespace hipt

// HIPT_CHECK(cond, "fmt", args...) throws hipt::Error with the formatted message when cond fails.
#define HIPT_CHECK(cond, ...)                                         \
  do {                                                                \
    if (!(cond)) throw ::hipt::Error(::fmt::format(__VA_ARGS__));     \
  } while (0)
