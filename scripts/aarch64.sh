#!/usr/bin/env bash
# `make aarch64`: the library's unit tests and two chapters on an emulated arm64 Linux machine.
#
# QEMU's user-mode emulator (qemu-user) runs Debian's arm64 Python 3.11 from a sysroot of arm64 .deb
# packages, with the arm64 wheels of the book's packages installed into a folder beside it. Nothing is
# installed on this machine but qemu-user and the arm64 package lists; everything else lands in CACHE.
#
# torch: the pinned torch 2.13.0's arm64 wheel on PyPI is a CUDA build whose cuDNN wheel is not on the
# package index here, so it cannot be imported (nor can 2.11 and 2.12, CUDA builds too); the arm64 run
# uses torch 2.10.0, the newest arm64 CPU
# build that resolves (AARCH64_TORCH overrides). Every other package is the version requirements.txt pins.
#
# There the stored outputs are not compared bit for bit (another instruction set runs other kernels):
# the root conftest executes the chapters with --nbval-lax and strict exercise checks, as on an Apple
# laptop.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CACHE="${AARCH64_CACHE:-$HOME/.cache/transformer-book/aarch64}"
TORCH="${AARCH64_TORCH:-2.10.0}"
CHAPTERS="${AARCH64_CHAPTERS:-book/01_self_attention.ipynb book/04_masks.ipynb}"
# The library's unit tests: everything but the site, its editions, the course and the tests that run
# other processes' platforms themselves (QEMU for x86 CPUs, faked platforms, the environment's Makefile).
UNIT_TESTS="${AARCH64_TESTS:-$(cd "$ROOT" && ls tests/test_*.py | grep -v -E \
  'test_(site|translations|course|student|book|colab|alt_text|cross_cpu|cross_cpu_chapter|platforms|environment)\.py' \
  | tr '\n' ' ')}"
PIP=(python3 -m pip)
SYSROOT="$CACHE/sysroot"
SITE="$CACHE/site-torch$TORCH"
DEBS=(python3.11-minimal libpython3.11-minimal libpython3.11-stdlib libc6 zlib1g libexpat1 libffi8 libssl3
  libstdc++6 libgcc-s1 libgomp1 libbz2-1.0 liblzma5 libsqlite3-0 libuuid1 libncursesw6 libtinfo6
  libreadline8 libdb5.3 libcrypt1 libnsl2 libtirpc3 libgssapi-krb5-2 libkrb5-3 libk5crypto3
  libkrb5support0 libcom-err2 libkeyutils1)
PLATFORMS=(--platform manylinux_2_28_aarch64 --platform manylinux_2_17_aarch64 --platform manylinux2014_aarch64
  --platform linux_aarch64 --python-version 3.11 --implementation cp --abi cp311 --only-binary=:all:)

command -v qemu-aarch64 >/dev/null || { apt-get update -qq && apt-get install -y -qq qemu-user >/dev/null; }

if [ ! -x "$SYSROOT/usr/bin/python3.11" ]; then
  echo "aarch64: Debian's arm64 Python into $SYSROOT"
  dpkg --print-foreign-architectures | grep -qx arm64 || { dpkg --add-architecture arm64 && apt-get update -qq; }
  mkdir -p "$CACHE/debs" "$SYSROOT"
  (cd "$CACHE/debs" && apt-get download -qq "${DEBS[@]/%/:arm64}" 2>/dev/null)
  for deb in "$CACHE"/debs/*.deb; do dpkg -x "$deb" "$SYSROOT"; done
fi

if [ ! -f "$SITE/.complete" ]; then
  echo "aarch64: arm64 wheels into $SITE (torch $TORCH)"
  rm -rf "$SITE" && mkdir -p "$SITE"
  grep -v -E '^(#|torch==)' "$ROOT/requirements.txt" > "$CACHE/constraints.txt"
  "${PIP[@]}" install -q --target "$SITE" "${PLATFORMS[@]}" --no-deps "torch==$TORCH" \
    filelock typing_extensions sympy mpmath networkx jinja2 markupsafe fsspec -c "$CACHE/constraints.txt"
  "${PIP[@]}" install -q --target "$SITE/more" "${PLATFORMS[@]}" -c "$CACHE/constraints.txt" \
    numpy matplotlib tqdm tokenizers pytest hypothesis nbval ipykernel nbformat nbclient jupyter_client
  touch "$SITE/.complete"
fi

# The emulated Python as a program of its own: QEMU's -0 sets argv[0], so sys.executable is this script
# and a test that starts `sys.executable` (a subprocess, torchrun, a kernel) starts the emulated Python.
PYTHON="$SYSROOT/usr/bin/python3-aarch64"
cat > "$PYTHON" <<EOF
#!/bin/sh
QEMU_LD_PREFIX="$SYSROOT" exec $(command -v qemu-aarch64) -0 "\$0" "$SYSROOT/usr/bin/python3.11" "\$@"
EOF
chmod +x "$PYTHON"
export PYTHONPATH="$ROOT:$SITE:$SITE/more"
# the multi-process tests' time limits (a deadlock fails instead of hanging), for an emulated machine
export TRANSFORMER_BOOK_TIME_SCALE="${TRANSFORMER_BOOK_TIME_SCALE:-15}"

"$PYTHON" -c "import platform, sys, torch; print('aarch64:', platform.system(), platform.machine(), \
'Python', sys.version.split()[0], 'torch', torch.__version__)"
cd "$ROOT"
start=$(date +%s)
# shellcheck disable=SC2086
"$PYTHON" -m pytest -o addopts= -p no:cacheprovider -q -rfE --nbval --nbval-current-env \
  --nbval-cell-timeout 1200 --nbval-sanitize-with tests/sanitize.cfg $UNIT_TESTS $CHAPTERS
echo "aarch64: unit tests and $CHAPTERS passed in $(( $(date +%s) - start )) s"
