#!/usr/bin/env bash
# The README's main command: installs what is missing, then builds every artifact and executes every notebook
# into reports/ (executed notebooks with static chart images, offline HTML, index.html, summary.json).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --browser  # Chromium draws the static image of every chart
exec node bin/darkmatter.js reproduce "$@"
