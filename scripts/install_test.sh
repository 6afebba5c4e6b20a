#!/usr/bin/env bash
# The install, tested as a user meets it (scripts/test.sh runs this after the suite; docs/install.md):
#  1. `cmake --install` of BUILD_DIR into a temporary prefix; examples/downstream/, a separate CMake project,
#     finds the package there (COMPONENTS checkpoint, then training), builds and runs; its hashes are checked
#     against the installed `torchsystem`, which also runs from the prefix with the seed plugin.
#  2. The core through pkg-config alone: the downstream's core part compiled with `pkg-config torchsystem-core`.
#  3. `cpack -G DEB`: the package's dependencies and contents, unpacked with `dpkg -x` and run from there.
#  4. The core alone, configured with the LibTorch option off and find_package(Torch) disabled, built,
#     installed, and used by the downstream project without LibTorch.
#
#   bash scripts/install_test.sh BUILD_DIR
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$(cd "$1" && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/torchsystem-install-XXXXXX")"
trap 'rm -rf "$work"' EXIT
jobs="$(nproc)"

fail() {
  echo "install test: $*" >&2
  exit 1
}
expect_line() {  # expect_line TEXT EXPECTED: EXPECTED is one of TEXT's lines
  grep -qxF -- "$2" <<<"$1" || fail "expected the line '$2' in:"$'\n'"$1"
}

# Published in the Python reference: Perceptron(input_size=10, output_size=1).
perceptron='Perceptron {"input_size": 10, "output_size": 1} a8657a4057c4f7b3237aec904970630d'

echo "install test: 1. cmake --install, and examples/downstream against the installed package"
prefix="$work/prefix"
cmake --install "$build" --prefix "$prefix" >/dev/null
cmake -S "$root/examples/downstream" -B "$work/downstream" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$work/downstream" --parallel "$jobs" >/dev/null
expect_line "$("$work/downstream/downstream_core")" "$perceptron"
downstream="$("$work/downstream/downstream")"
# The user's class: the hash the installed `torchsystem hash` gives its name and arguments.
tiny_hash="$("$prefix/bin/torchsystem" hash Tiny '{"width": 4}')"
expect_line "$downstream" "Tiny {\"width\": 4} $tiny_hash"
# The catalog module: what the installed `torchsystem create` records for the same configuration.
linear="$(echo '{"name": "Linear", "arguments": {"in_features": 784, "out_features": 10}}' |
  "$prefix/bin/torchsystem" create - |
  /usr/bin/python3 -c 'import json, sys; c = json.load(sys.stdin); print(c["name"], json.dumps(c["arguments"]), c["hash"])')"
expect_line "$downstream" "$linear"
expect_line "$downstream" "checkpoint Tiny-$tiny_hash.pth"
linear_hash="$(awk '{print $NF}' <<<"$linear")"
expect_line "$downstream" "saved Linear-$linear_hash found epoch 2"
seed='{"name": "MLP", "arguments": {"input_size": 784, "hidden_size": 256, "output_size": 10, "dropout": 0.5, "activation": "ReLU"}}'
created="$(echo "$seed" | "$prefix/bin/torchsystem" create - --plugin seed)"
grep -qF '"hash": "af51a51a38f7ad81f9523360fafe7068"' <<<"$created" || fail "installed create with the seed plugin: $created"

echo "install test: 2. the core through pkg-config"
flags="$(PKG_CONFIG_PATH="$prefix/lib/pkgconfig" pkg-config --cflags --libs torchsystem-core)"
# shellcheck disable=SC2086 # pkg-config's output is split into arguments on purpose
g++ -std=c++20 "$root/examples/downstream/core_part.cpp" $flags -Wl,-rpath,"$prefix/lib" -o "$work/pkg-config-core"
expect_line "$("$work/pkg-config-core")" "$perceptron"

echo "install test: 3. the Debian package"
(cd "$work" && cpack --config "$build/CPackConfig.cmake" -G DEB >/dev/null)
deb="$(ls "$work"/torchsystem_*.deb)"
depends="$(dpkg-deb -f "$deb" Depends)"
for package in libtorch-dev nlohmann-json3-dev libssl3 libzip4 zlib1g; do
  grep -qw -- "$package" <<<"$depends" || fail "the package does not depend on $package: $depends"
done
dpkg -x "$deb" "$work/deb-root"
for file in usr/bin/torchsystem usr/libexec/torchsystem/torchsystem-libtorch usr/lib/torchsystem/plugins/libseed.so \
  usr/lib/libtorchsystem_core.so.0.1 usr/lib/libtorchsystem_torch.so.0.1 usr/lib/libtorchsystem_checkpoint.so.0.1 \
  usr/lib/libtorchsystem_training.so.0.1 usr/include/torchsystem/checkpoint/store.hpp \
  usr/include/torchsystem/registry.hpp usr/include/torchsystem/torch/catalog.hpp \
  usr/include/torchsystem/training/training_job.hpp usr/lib/cmake/torchsystem/torchsystemConfig.cmake \
  usr/lib/cmake/torchsystem/torchsystemConfigVersion.cmake usr/lib/pkgconfig/torchsystem-core.pc; do
  [[ -e "$work/deb-root/$file" ]] || fail "the package lacks /$file"
done
[[ -z "$(find "$work/deb-root" -name '*test*' -o -name '*benchmark*' -o -name 'libseed_models.a')" ]] ||
  fail "the package holds test or benchmark files"
created="$(echo "$seed" | "$work/deb-root/usr/bin/torchsystem" create - --plugin seed)"
grep -qF '"hash": "af51a51a38f7ad81f9523360fafe7068"' <<<"$created" || fail "the unpacked package's create: $created"

echo "install test: 4. the core alone, without LibTorch"
# Tests and benchmarks are configured too (the core's are defined without LibTorch); the core's
# headers are compiled one by one, and the library and program built and installed.
core_only=(-DTORCHSYSTEM_BUILD_TORCH=OFF -DCMAKE_DISABLE_FIND_PACKAGE_Torch=ON -DCMAKE_BUILD_TYPE=Release)
cmake -S "$root" -B "$work/core-build" "${core_only[@]}" >/dev/null
cmake --build "$work/core-build" --parallel "$jobs" --target torchsystem_core torchsystem_cli core_header_check >/dev/null
cmake --install "$work/core-build" --prefix "$work/core-prefix" >/dev/null
[[ ! -e "$work/core-prefix/include/torchsystem/torch" && ! -e "$work/core-prefix/lib/libtorchsystem_torch.so" ]] ||
  fail "the core-only install holds the LibTorch layer"
cmake -S "$root/examples/downstream" -B "$work/core-downstream" -DDOWNSTREAM_WITH_TORCH=OFF \
  -DCMAKE_DISABLE_FIND_PACKAGE_Torch=ON -DCMAKE_PREFIX_PATH="$work/core-prefix" >/dev/null
cmake --build "$work/core-downstream" --parallel "$jobs" >/dev/null
expect_line "$("$work/core-downstream/downstream_core")" "$perceptron"
if ! missing="$(cmake -S "$root/examples/downstream" -B "$work/core-downstream-torch" \
  -DCMAKE_PREFIX_PATH="$work/core-prefix" 2>&1)"; then
  grep -q "installation has no '[a-z]*' component" <<<"$missing" ||
    fail "asking a core-only install for the torch component failed unclearly: $missing"
else
  fail "a core-only install claimed the torch component"
fi
status=0
"$work/core-prefix/bin/torchsystem" list >/dev/null 2>"$work/list.err" || status=$?
[[ $status -eq 1 ]] && grep -q "needs torchsystem's LibTorch layer" "$work/list.err" ||
  fail "the core-only torchsystem's list: status $status, $(cat "$work/list.err")"

echo "install test: passed"
