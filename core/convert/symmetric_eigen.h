#ifndef TRANSMLA_CORE_CONVERT_SYMMETRIC_EIGEN_H_
#define TRANSMLA_CORE_CONVERT_SYMMETRIC_EIGEN_H_

#include "core/convert/mla_layer.h"
#include "core/engine/block_runner.h"

namespace transmla::convert {

// Eigenvalues (ascending) and orthonormal eigenvectors (columns) of a symmetric matrix.
struct SymmetricEigen {
  VecD values;
  Eigen::MatrixXd vectors;
};

// On `device` where it decomposes (the calibration GPU: cuSOLVER's dsyevd), else through LAPACK's
// divide-and-conquer dsyevd where the build has LAPACK (multi-threaded with OpenBLAS; an 8B
// model's 2000x2000 joint PCA takes about a second instead of several), otherwise Eigen's
// SelfAdjointEigenSolver. A device that fails falls back to the CPU with a warning. Only the lower
// triangle of `a` is read.
SymmetricEigen DecomposeSymmetric(const MatD& a, BlockRunner* device = nullptr);

// Whether DecomposeSymmetric spreads one decomposition over threads (LAPACK) or runs on one (Eigen):
// several decompositions at once are worth running in parallel only in the second case.
bool DecomposeSymmetricIsThreaded();

}  // namespace transmla::convert

#endif  // TRANSMLA_CORE_CONVERT_SYMMETRIC_EIGEN_H_
