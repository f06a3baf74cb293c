#!/usr/bin/env bash
# Builds transmla and runs every test. Shared test data (reference logits, tokenizer vectors) is
# read from $TRANSMLA_SHARED, by default ../shared beside the checkout.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
export TRANSMLA_SHARED="${TRANSMLA_SHARED:-$(cd .. && pwd)/shared}"
ctest --test-dir build --output-on-failure -j "$(nproc)"
