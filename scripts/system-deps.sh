#!/usr/bin/env bash
# The Debian packages the tests need beyond Python and Node, installed only when missing:
# Chromium for the browser and accessibility tests (Playwright cannot download a browser here),
# and Pango, the Liberation fonts and poppler for the annual review's tagged PDF (WeasyPrint)
# and its checks (pdfinfo). `make test` and `make test-integration` run this first.
set -euo pipefail

missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
ldconfig -p | grep -q libpangoft2-1.0 || missing+=(libpango-1.0-0 libpangoft2-1.0-0)
command -v pdfinfo >/dev/null || missing+=(poppler-utils)
fc-list 2>/dev/null | grep -q Liberation || missing+=(fonts-liberation)
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "Missing Debian packages: ${missing[*]}. Install them (as root: apt-get install -y ${missing[*]})." >&2
  exit 1
fi
echo "Installing Debian packages: ${missing[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
