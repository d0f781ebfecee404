#!/usr/bin/env bash
# Builds tiles-check fully offline with Debian's Go and golang.org/x/mod (see ../go-build.sh).
#
#   tools/tiles-check/build.sh [OUTPUT]     (default: tools/tiles-check/tiles-check)
exec "$(dirname "${BASH_SOURCE[0]}")/../go-build.sh" tiles-check "$@"
