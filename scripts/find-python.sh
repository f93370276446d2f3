#!/usr/bin/env bash
# Prints the path of a Python 3.10 interpreter (Rasa 3.6 supports 3.8-3.10 only).
# Looks at $PYTHON, python3.10 on PATH, then pyenv's versions; explains how to get one if none.
set -euo pipefail

is_py310() { [ -n "$1" ] && "$1" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 10) else 1)' 2>/dev/null; }

candidates=()
[ -n "${PYTHON:-}" ] && candidates+=("$PYTHON")
command -v python3.10 >/dev/null 2>&1 && candidates+=("$(command -v python3.10)")
if command -v pyenv >/dev/null 2>&1; then
  root=$(pyenv root)
  for dir in "$root"/versions/3.10*; do [ -x "$dir/bin/python" ] && candidates+=("$dir/bin/python"); done
fi
for dir in "$HOME"/.pyenv/versions/3.10* /usr/local/bin /usr/bin; do
  [ -x "$dir/python3.10" ] && candidates+=("$dir/python3.10")
  [ -x "$dir/bin/python" ] && candidates+=("$dir/bin/python")
done

for py in "${candidates[@]}"; do
  # Resolve shims (pyenv) to the real interpreter so the venv does not depend on the cwd.
  if is_py310 "$py"; then "$py" -c "import sys; print(sys.executable)"; exit 0; fi
done

cat >&2 <<'MSG'
error: Python 3.10 was not found (Rasa 3.6 runs on Python 3.8-3.10, not 3.11+).
Get it one of these ways, then run the command again:
  - pyenv:   pyenv install 3.10.13        (this folder's .python-version selects it)
  - Debian/Ubuntu: sudo apt-get install python3.10 python3.10-venv   (or the deadsnakes PPA on Ubuntu)
  - macOS:   brew install python@3.10
  - or point to one you have: make run PYTHON=/path/to/python3.10
MSG
exit 1
