#!/usr/bin/env bash
# Builds one of the Go tools under tools/ fully offline with Debian's Go toolchain (golang-go,
# Go 1.19) and
# golang.org/x/mod from golang-golang-x-mod-dev, whose sources go.mod's replace directive
# points at (/usr/share/gocode/src/golang.org/x/mod): no module proxy, no download, no go.sum.
#
#   tools/go-build.sh TOOL [OUTPUT]     (TOOL: verify-go, tiles-check; default: tools/TOOL/TOOL)
set -euo pipefail
tool=${1:?usage: tools/go-build.sh TOOL [OUTPUT]}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/$tool" && pwd)
out=${2:-$here/$tool}
case "$out" in /*) ;; *) out="$PWD/$out" ;; esac
if [ ! -f /usr/share/gocode/src/golang.org/x/mod/sumdb/note/note.go ]; then
    echo "go-build.sh: golang.org/x/mod sources missing: apt-get install golang-golang-x-mod-dev" >&2
    exit 1
fi
# GOPROXY=off: never reach a module proxy. -mod=readonly: go.mod is complete; never rewrite it.
# -buildvcs=false: do not ask git for stamping (the binary is built inside a work tree).
# GOTOOLCHAIN=local: a newer go would otherwise be allowed to fetch another toolchain.
export GOPROXY=off GOFLAGS="-mod=readonly -buildvcs=false" GOTOOLCHAIN=local GO111MODULE=on
cache=$(go env GOCACHE 2>/dev/null || true)
if [ -z "$cache" ] || [ "$cache" = off ]; then  # no $GOCACHE, $XDG_CACHE_HOME or $HOME
    export GOCACHE="${TMPDIR:-/tmp}/$tool-gocache"
fi
cd "$here"
go build -trimpath -o "$out" .
