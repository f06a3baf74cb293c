#include "core/convert/symmetric_eigen.h"

#include <vector>

#include "Eigen/Eigenvalues"
#include "spdlog/spdlog.h"

#ifdef TRANSMLA_HAVE_LAPACK
extern "C" void dsyevd_(const char* jobz, const char* uplo, const int* n, double* a, const int* lda, double* w,
                        double* work, const int* lwork, int* iwork, const int* liwork, int* info);
#endif

namespace transmla::convert {
namespace {

SymmetricEigen WithEigen(const MatD& a) {
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(a);
  return {eig.eigenvalues(), eig.eigenvectors()};
}

}  // namespace

SymmetricEigen DecomposeSymmetric(const MatD& a, BlockRunner* device) {
  if (a.rows() == 0) return {VecD(0), Eigen::MatrixXd(0, 0)};
  if (device != nullptr) {
    SymmetricEigen result;
    const absl::Status status = device->DecomposeSymmetric(a, &result.values, &result.vectors);
    if (status.ok()) return result;
    if (!absl::IsUnimplemented(status)) {
      spdlog::warn("eigendecomposition on {}: {}; on the CPU instead", device->device(), status.ToString());
    }
  }
#ifdef TRANSMLA_HAVE_LAPACK
  const int n = static_cast<int>(a.rows());
  SymmetricEigen result;
  result.vectors = a;  // column-major copy, overwritten with the eigenvectors
  result.values.resize(n);
  int lwork = -1, liwork = -1, info = 0, iwork_size = 0;
  double work_size = 0;
  dsyevd_("V", "L", &n, result.vectors.data(), &n, result.values.data(), &work_size, &lwork, &iwork_size, &liwork,
          &info);
  if (info == 0) {
    lwork = static_cast<int>(work_size);
    liwork = iwork_size;
    std::vector<double> work(static_cast<size_t>(lwork));
    std::vector<int> iwork(static_cast<size_t>(liwork));
    dsyevd_("V", "L", &n, result.vectors.data(), &n, result.values.data(), work.data(), &lwork, iwork.data(),
            &liwork, &info);
  }
  if (info == 0) return result;
  // dsyevd did not converge (never seen on covariance matrices): the slower solver still can.
#endif
  return WithEigen(a);
}

bool DecomposeSymmetricIsThreaded() {
#ifdef TRANSMLA_HAVE_LAPACK
  return true;
#else
  return false;
#endif
}

}  // namespace transmla::convert
