#!/usr/bin/env bash
# Installs what the project needs, idempotently, on Debian/Ubuntu (as root) or tells exactly what to install:
#   system packages (OpenBLAS for the native matmul bridge, Jupyter's nbconvert/notebook, Chromium with --browser),
#   npm packages (npm ci), the native bridge (native/build.js), and the project's Jupyter kernel spec.
# Usage: bash scripts/setup.sh [--browser]
set -euo pipefail
cd "$(dirname "$0")/.."
want_browser=0
[ "${1:-}" = "--browser" ] && want_browser=1

say() { echo "setup: $*"; }
have() { command -v "$1" >/dev/null 2>&1; }
JUPYTER="${JUPYTER:-jupyter}"  # overridable so the tests can simulate a machine without Jupyter
pkg_installed() { have dpkg-query && [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]; }

# --- 1. system packages -------------------------------------------------------------------------------------
need=()
pkg_installed libopenblas-dev || [ -e /usr/lib/x86_64-linux-gnu/libopenblas.so ] || need+=(libopenblas-dev)
if ! (have "$JUPYTER" && "$JUPYTER" nbconvert --version >/dev/null 2>&1); then need+=(jupyter-nbconvert jupyter-client jupyter-notebook); fi
if [ $want_browser = 1 ] && ! have chromium && ! have chromium-browser; then need+=(chromium); fi
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && have apt-get; then
    say "installing Debian packages: ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    say "missing system packages: ${need[*]}"
    echo "  As root on Debian/Ubuntu:  apt-get install -y --no-install-recommends ${need[*]}"
    echo "  Without root: Jupyter with  pip install --user nbconvert nbclient notebook  (or jupyterlab) and put ~/.local/bin"
    echo "  on PATH; OpenBLAS is optional (without it the slower wasm backend runs); Chromium is only for the tests."
    if ! (have "$JUPYTER" && "$JUPYTER" nbconvert --version >/dev/null 2>&1); then
      echo "setup: Jupyter's nbconvert is required to run notebooks; install it and run this again." >&2
      exit 1
    fi
  fi
fi

# --- 2. npm packages ----------------------------------------------------------------------------------------
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi

# --- 3. the native OpenBLAS bridge (npm ci builds it; rebuild if OpenBLAS arrived later or the source changed) --
if [ ! -f native/build/darkmatter_blas.node ] || [ native/blas.c -nt native/build/darkmatter_blas.node ]; then
  node native/build.js
fi

# --- 4. the Jupyter kernel spec -----------------------------------------------------------------------------
node kernel/install.js >/dev/null
say "ready: $(node bin/darkmatter.js backend | head -1)"
