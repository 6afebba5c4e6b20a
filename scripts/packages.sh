#!/usr/bin/env bash
# install_missing_packages TAG PACKAGE...: installs those Debian packages that are not installed yet (with
# sudo when not root), saying which under the caller's TAG. Sourced by setup.sh, tidy.sh and fuzz.sh, so
# every script brings its own tools onto a fresh Debian 12 machine the same way.
install_missing_packages() {
  local tag="$1" package missing=() as_root=()
  shift
  for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
  done
  ((${#missing[@]})) || return 0
  echo "$tag: installing missing Debian packages: ${missing[*]}"
  [[ $(id -u) -eq 0 ]] || as_root=(sudo)
  DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
}
