# Sourced by the scripts: creates ./.venv on first use and installs the project into it.
# Re-installs when pyproject.toml, setup.py or the C sources they build change (their hash is
# kept in the venv).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV="$ROOT/.venv"
PY=${PYTHON:-python3}
stamp="$VENV/.pyproject.sha256"
want=$(cat "$ROOT/pyproject.toml" "$ROOT/setup.py" "$ROOT"/src/ledger/log/_*.c | sha256sum | cut -d' ' -f1)
if [ ! -x "$VENV/bin/python" ]; then
    echo "setting up $VENV (first run only)…" >&2
    "$PY" -m venv "$VENV"
fi
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    "$VENV/bin/python" -m pip install -q --upgrade pip >&2
    "$VENV/bin/python" -m pip install -q -e "$ROOT[dev]" >&2
    echo "$want" > "$stamp"
fi
export PATH="$VENV/bin:$PATH"
