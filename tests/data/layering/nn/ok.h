// Fixture for the layering check: an nn/ header whose includes are allowed.
#pragma once
#include "autograd/autograd.h"
#include "tensor/tensor.h"
#include <vector>
