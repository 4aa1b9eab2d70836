#pragma once
/** @file
 * The umbrella header: everything public in mlpkit.
 */
#include "mlpkit/error.hpp"
#include "mlpkit/matrix.hpp"
#include "mlpkit/runtime.hpp"
#include "mlpkit/vector.hpp"
