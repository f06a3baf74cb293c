#!/usr/bin/env bash
# Installs the Debian 12 packages transmla builds and tests with, and the pinned npm packages that
# validate the deployment manifests. Idempotent: installs only what is missing. Runs as root, or
# through sudo when available. `--build-only` (the container build) skips the validation tools.
set -euo pipefail
cd "$(dirname "$0")/.."
build_only=false
[ "${1:-}" = "--build-only" ] && build_only=true

PACKAGES=(
  build-essential cmake ninja-build pkg-config git ccache
  libabsl-dev libeigen3-dev libspdlog-dev libfmt-dev nlohmann-json3-dev libpcre2-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  prometheus-cpp-dev libsqlite3-dev libssl-dev openssl
  libopenblas-dev
  python3 python3-grpcio python3-protobuf gnuplot-nox
)
if ! $build_only; then
  PACKAGES+=(yamllint shellcheck)
  # Tools that may come from elsewhere on a developer's machine: Debian's only where absent.
  command -v kubectl >/dev/null 2>&1 || PACKAGES+=(kubernetes-client)
  command -v npm >/dev/null 2>&1 || PACKAGES+=(nodejs npm)
fi

missing=()
for pkg in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "setup: all ${#PACKAGES[@]} packages present"
else
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
      echo "setup: need root (or sudo) to install: ${missing[*]}" >&2
      exit 1
    fi
  fi
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if ! $build_only && [ ! -d deploy/validate/node_modules ]; then
  echo "setup: npm packages for the manifest checks (deploy/validate/package-lock.json)"
  npm ci --prefix deploy/validate --no-audit --no-fund --loglevel=error
fi
