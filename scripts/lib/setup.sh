# Shared set-up for scripts/test and scripts/demo: sourced, not run.
# ensure_commands CMD=PACKAGE ... installs the Debian packages whose commands are missing;
# ensure_venv creates .venv and installs the project (editable, with dev extras) when
# pyproject.toml changed. Each slow step says on stderr what it installs and about how long it
# takes, and how long it took: a first run is otherwise silent for half a minute or more.

_setup_say() { echo "hitl-tui setup: $*" >&2; }

ensure_commands() {
  local missing=() pair cmd pkg
  for pair in "$@"; do
    cmd=${pair%%=*} pkg=${pair#*=}
    command -v "$cmd" >/dev/null 2>&1 || missing+=("$pkg")
  done
  ((${#missing[@]})) || return 0
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || {
      echo "hitl-tui setup: missing ${missing[*]}; install them as root (apt-get install ${missing[*]})" >&2
      exit 1
    }
    sudo=(sudo)
  fi
  command -v apt-get >/dev/null 2>&1 || {
    echo "hitl-tui setup: missing ${missing[*]} and no apt-get to install them; install them by hand" >&2
    exit 1
  }
  _setup_say "installing the Debian packages ${missing[*]} with apt-get (usually under a minute)..."
  local started=$SECONDS
  _apt_install() {
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -q --no-install-recommends "$@" >/dev/null
  }
  # The package lists may be stale or absent on a fresh machine: update only when needed.
  _apt_install "${missing[@]}" || {
    _setup_say "refreshing the apt package lists first (apt-get update, up to a minute)..."
    "${sudo[@]}" apt-get update -q >/dev/null && _apt_install "${missing[@]}"
  }
  _setup_say "Debian packages installed ($((SECONDS - started)) s)"
}

_need_python() {  # $1: interpreter to check
  "$1" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || {
    echo "hitl-tui setup: Python >= 3.11 is required; $1 is $("$1" --version 2>&1 || echo missing)" >&2
    exit 1
  }
}

_setup_requirements() {  # the names pip is about to install, read from pyproject.toml (one list)
  .venv/bin/python - <<'PY' 2>/dev/null || echo "the packages listed in pyproject.toml"
import re, tomllib
project = tomllib.load(open("pyproject.toml", "rb"))["project"]
names = [re.split(r"[ <>=!~;\[]", r, maxsplit=1)[0] for r in project["dependencies"]]
dev = [re.split(r"[ <>=!~;\[]", r, maxsplit=1)[0] for r in project["optional-dependencies"]["dev"]]
print(", ".join(names) + "; for the tests: " + ", ".join(dev))
PY
}

ensure_venv() {
  if [ ! -x .venv/bin/python ]; then
    local python=${PYTHON:-python3}
    _need_python "$python"
    _setup_say "creating the virtual environment .venv with $python (a few seconds)..."
    "$python" -m venv .venv || {
      echo "hitl-tui setup: '$python -m venv' failed; on Debian install python3-venv" >&2
      rm -rf .venv
      exit 1
    }
  fi
  _need_python .venv/bin/python
  # One install serves the demo and the tests; redo it only when pyproject.toml changed.
  local stamp
  stamp=".venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)"
  if [ ! -f "$stamp" ]; then
    local started=$SECONDS
    if ls .venv/.installed-* >/dev/null 2>&1; then
      _setup_say "pyproject.toml changed: updating the packages in .venv..."
    fi
    _setup_say "installing hitl-tui (editable) and its dependencies into .venv with pip; about 30 s," \
      "or a few minutes on a slow network (later runs skip this until pyproject.toml changes):"
    echo "  $(_setup_requirements)" >&2
    .venv/bin/python -m pip install -q --disable-pip-version-check -e '.[dev]'
    _setup_say "installed into .venv ($((SECONDS - started)) s)"
    rm -f .venv/.installed-*
    touch "$stamp"
  fi
}
