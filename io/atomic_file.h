// Writing results so that an interrupted run never leaves a half-written file behind.
#pragma once
#include <string>

namespace hipt {

// Writes `content` to `path` through a temporary file in the same folder and a rename, creating
// the folder if needed. Throws hipt::Error naming the path on failure.
void write_file_atomic(const std::string& path, const std::string& content);

}  // namespace hipt
