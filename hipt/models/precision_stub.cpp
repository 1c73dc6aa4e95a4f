// Stand-in for the matmul precision switch of tensor/ops.h until it lands: accepts the setting and
// does nothing with it (every product runs in f32).
#include "tensor/ops.h"

namespace hipt::ops {
void set_matmul_precision(MatmulPrecision) {}
}  // namespace hipt::ops
