#!/bin/sh
# install-deps.sh — installs the Debian packages dq needs to build and test,
# only those missing.  Needs root (or sudo) when something is missing.
set -eu

PACKAGES="build-essential autoconf automake libtool libltdl-dev pkg-config
libinih-dev libprotobuf-c-dev protobuf-c-compiler libcmocka-dev libgrpc-dev
valgrind iproute2 clang libclang-rt-14-dev python3-grpcio python3-protobuf python3-grpc-tools
abigail-tools libpg-query-dev libedit-dev"

missing=
for p in $PACKAGES; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
    missing="$missing $p"
done
# Node.js runs the Arrow interop test.  Checked by command, not package: a
# node installed from another source bundles its own npm, and Debian's npm
# package would conflict with it.
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
command -v npm >/dev/null 2>&1 || missing="$missing npm"
[ -z "$missing" ] && exit 0

echo "install-deps: installing:$missing"
if [ "$(id -u)" -eq 0 ]; then
  SUDO=
elif command -v sudo >/dev/null 2>&1; then
  SUDO=sudo
else
  echo "install-deps: run as root, or install these packages:$missing" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
