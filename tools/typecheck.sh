#!/usr/bin/env bash
# mypy over the whole product as it installs: components/ and pipelines/ inside the greenpipe package, as
# pyproject's package-dir maps them (mypy cannot follow that mapping in the checkout). Paths are printed as
# they are in the checkout.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
mypy="${MYPY:-mypy}"
case "$mypy" in */*) mypy="$(cd "$(dirname "$mypy")" && pwd)/$(basename "$mypy")" ;; esac  # absolute: we cd below
tree="$(mktemp -d)"
trap 'rm -rf "$tree"' EXIT
cp -r "$root/greenpipe" "$tree/greenpipe"
cp -r "$root/components" "$tree/greenpipe/components"
cp -r "$root/pipelines" "$tree/greenpipe/pipelines"
cp "$root/pyproject.toml" "$tree/"
find "$tree" -name __pycache__ -prune -exec rm -rf {} +
cd "$tree"
"$mypy" --cache-dir "$root/.mypy_cache/product" "$@" | sed -e 's#^greenpipe/components/#components/#' -e 's#^greenpipe/pipelines/#pipelines/#'
