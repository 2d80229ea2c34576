#!/usr/bin/env bash
# System packages the test suite drives for real: Chromium (e2e), nginx and its cache-purge module (edge tests), and
# zsh (the README tour is pasted into bash and zsh), node and npm (the URL-dialect tests with @unpic/core, the TypeScript SDK's tests, its type check and `npm pack`).
# Installs whatever is missing when it can (root + apt); the tests themselves fail
# under CI=true when a component is still missing, they never skip it.
set -euo pipefail

missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
[ -f /usr/lib/nginx/modules/ngx_http_cache_purge_module.so ] || missing+=(libnginx-mod-http-cache-purge)
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
command -v zsh >/dev/null 2>&1 || missing+=(zsh)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "test-deps: missing ${missing[*]}; install them with your package manager" >&2
    exit 0
fi
echo "test-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
