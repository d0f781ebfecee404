#!/usr/bin/env bash
# Builds verify-go fully offline with Debian's Go and golang.org/x/mod (see ../go-build.sh).
#
#   tools/verify-go/build.sh [OUTPUT]     (default: tools/verify-go/verify-go)
exec "$(dirname "${BASH_SOURCE[0]}")/../go-build.sh" verify-go "$@"
