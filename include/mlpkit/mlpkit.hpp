#pragma once
/** @file
 * The umbrella header: everything public in mlpkit.
 */
#include "mlpkit/activations.hpp"
#include "mlpkit/error.hpp"
#include "mlpkit/gemm.hpp"
#include "mlpkit/gradcheck.hpp"
#include "mlpkit/hessian.hpp"
#include "mlpkit/init.hpp"
#include "mlpkit/losses.hpp"
#include "mlpkit/matrix.hpp"
#include "mlpkit/mlp.hpp"
#include "mlpkit/model.hpp"
#include "mlpkit/normalization.hpp"
#include "mlpkit/runtime.hpp"
#include "mlpkit/train.hpp"
#include "mlpkit/vector.hpp"
