#!/usr/bin/env bash
# Render a langlock HTML report in headless Chromium and save a PNG screenshot, to check that the page
# displays (plots, tables, highlighted examples) in a real browser with no network.
#
# Usage: scripts/screenshot_report.sh REPORT.html [OUT.png] [WIDTHxHEIGHT]
#   default OUT.png: REPORT.png next to the report; default size 1200x1600.
# Needs the Debian package `chromium` (apt-get update && apt-get install -y chromium).
# Exit status: 0 when the screenshot was written and is a non-empty PNG, 2 on bad arguments, 1 otherwise.
set -euo pipefail

if [[ $# -lt 1 || $# -gt 3 ]]; then
    echo "usage: $0 REPORT.html [OUT.png] [WIDTHxHEIGHT]" >&2
    exit 2
fi
report=$(realpath "$1")
[[ -f "$report" ]] || { echo "$0: no such file: $1" >&2; exit 2; }
out=$(realpath -m "${2:-${report%.html}.png}")
size=${3:-1200x1600}
[[ "$size" =~ ^[0-9]+x[0-9]+$ ]] || { echo "$0: size must look like 1200x1600, got $size" >&2; exit 2; }
browser=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
[[ -n "$browser" ]] || { echo "$0: chromium not found (apt-get install -y chromium)" >&2; exit 1; }

profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
rm -f "$out"
# --no-sandbox: containers often run as root, where Chromium's sandbox refuses to start.
"$browser" --headless --no-sandbox --disable-gpu --disable-background-networking --disable-component-update \
    --disable-sync --no-first-run --hide-scrollbars --user-data-dir="$profile" \
    --screenshot="$out" --window-size="${size/x/,}" "file://$report" >/dev/null 2>&1 || true
if [[ -s "$out" ]] && head -c 8 "$out" | od -An -tx1 | grep -q '89 50 4e 47'; then
    echo "wrote $out"
else
    echo "$0: chromium did not write a screenshot of $report" >&2
    exit 1
fi
