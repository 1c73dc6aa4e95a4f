// Writing results so that an interrupted run never leaves a half-written file behind.
#pragma once
#include <string>

namespace hipt {

// Writes `content` to `path` through a temporary file in the same folder and a rename, creating
// the folder if needed. Throws hipt::Error naming the path on failure; the temporary file is
// removed and `path` keeps what it held before.
void write_file_atomic(const std::string& path, const std::string& content);

// A fault-injection seam for tests of full and failing disks. With HIPT_FAULT_WRITE=CODE:N in the
// environment (CODE one of ENOSPC, EFBIG, EIO; N >= 1), the N-th file this process writes (through
// write_file_atomic or the TIFF writer, counted from 1) fails with that errno after half of it
// reached the temporary file. Returns the errno this write must fail with, or 0. Throws hipt::Error
// naming the variable when its value is malformed.
int injected_write_error();

}  // namespace hipt
