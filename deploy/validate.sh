#!/usr/bin/env bash
# Static checks of everything a platform team applies or builds, run by ctest (the README's test
# command): every kustomize overlay renders and each rendered object validates against the
# Kubernetes schema (npm kubernetes-models), yamllint on the project's YAML, dockerfilelint on the
# Dockerfile, shellcheck on every shell script. `--manifests FILE...` checks only the given
# rendered YAML (the negative test feeds it a broken one).
set -euo pipefail
cd "$(dirname "$0")/.."
validate="deploy/validate"
if [ ! -d "$validate/node_modules" ]; then
  echo "validate: $validate/node_modules is missing: run scripts/setup.sh (npm ci --prefix $validate)" >&2
  exit 1
fi
if [ "${1:-}" = "--manifests" ]; then
  shift
  exec node "$validate/validate.js" "$@"
fi

rendered="$(mktemp -d)"
trap 'rm -rf "$rendered"' EXIT
for target in deploy/overlays/cpu deploy/overlays/gpu deploy/jobs; do
  out="$rendered/$(echo "$target" | tr / _).yaml"
  kubectl kustomize "$target" > "$out" 2> "$rendered/kustomize.err" || {
    cat "$rendered/kustomize.err" >&2
    echo "validate: kubectl kustomize $target failed" >&2
    exit 1
  }
  echo "validate: $target: $(node "$validate/validate.js" "$out")"
done
yamllint --strict -c .yamllint deploy .yamllint
echo "validate: yamllint clean"
"$validate/node_modules/.bin/dockerfilelint" Dockerfile > "$rendered/dockerfilelint.out" || {
  cat "$rendered/dockerfilelint.out" >&2
  exit 1
}
echo "validate: dockerfilelint clean"
mapfile -t scripts < <(git ls-files '*.sh' .ci/run 2>/dev/null || find . -name '*.sh' -not -path './build*')
shellcheck "${scripts[@]}"
echo "validate: shellcheck clean (${#scripts[@]} scripts)"
