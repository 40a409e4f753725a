#!/usr/bin/env bash
# The README's test command: installs what is missing (including Chromium for the rendering checks), then runs
# the type check and the whole test suite (unit tests, notebook execution, HTML rendering in headless Chromium).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --browser
exec bash scripts/run-tests.sh
