#!/usr/bin/env bash
# Installs what patchpoint needs to build and test, and nothing that is already there.
# Idempotent: a second run installs nothing. Debian 12 (bookworm) packages only.
set -euo pipefail

# libevent-dev also provides the libevent_openssl and libevent_pthreads pkg-config modules.
build_pkgs=(build-essential pkg-config meson ninja-build libssl-dev zlib1g-dev libjansson-dev libcmocka-dev
  libevent-dev libsqlite3-dev libinih-dev libcurl4-openssl-dev libxml2-dev clang-format clang-tidy cppcheck)
peer_pkgs=(openssl osslsigncode gcab cabextract xxd tzdata strace curl python3 python3-samba)
extra_pkgs=()
case "${1:-}" in
  --fuzz) extra_pkgs=(clang libclang-rt-14-dev) ;;
  --bench) extra_pkgs=(time bc wrk nginx-light) ;; # nginx-light: the static-file peer of bench/api.sh and bench/policy.sh
esac

missing=()
for p in "${build_pkgs[@]}" "${peer_pkgs[@]}" "${extra_pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
if ! $sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null; then
  $sudo apt-get update -q >/dev/null
  $sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi
