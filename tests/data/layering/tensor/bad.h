// Fixture for the layering check: a tensor/ header that includes a header of a layer above it.
#pragma once
#include "tensor/tensor.h"
#include "nn/module.h"
