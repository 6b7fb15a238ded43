# shellcheck shell=bash
# Sourced (never run) by the project's scripts: the prerequisite checks and the installs they share.
#
#   source "$(dirname "${BASH_SOURCE[0]}")/tools.sh"   (from scripts/; other folders give its path)
#   require_rust; require_python; require_node          # fail with a clear message when too old or missing
#   ensure_commands curl=curl chromium=chromium         # apt-get the packages of missing commands
#   use_project_venv cargo-lambda                       # .venv/ with those pins of scripts/requirements.txt
#
# All Python tools live in one virtual environment, .venv/ at the repository root, at the versions pinned in
# scripts/requirements.txt: the system's Python is never changed (Debian and Ubuntu refuse `pip install`
# outside a virtual environment, PEP 668). use_project_venv puts .venv/bin first on PATH, so everything the
# script starts afterwards (cargo test's moto_server, the node tests' local stack) finds the same tools.
# Debian packages are installed with apt-get, through sudo when the user is not root.

M2M_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
M2M_VENV="$M2M_ROOT/.venv"
M2M_REQUIREMENTS="$M2M_ROOT/scripts/requirements.txt"
CARGO_FUZZ_VERSION=0.13.2
CARGO_NEXTEST_VERSION=0.9.143
NODE_MIN_VERSION=20
PYTHON_MIN_VERSION=3.10

fail() {
  printf '\nerror: %s\n' "$*" >&2
  exit 1
}

# version_at_least HAVE WANT: true when dotted version HAVE >= WANT.
version_at_least() {
  [[ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" == "$2" ]]
}

# The workspace's rust-version (Cargo.toml) is the oldest toolchain that builds it.
rust_min_version() {
  sed -n 's/^rust-version *= *"\([0-9.]*\)".*/\1/p' "$M2M_ROOT/Cargo.toml" | head -n1
}

require_rust() {
  local want have
  want=$(rust_min_version)
  { command -v cargo >/dev/null && command -v rustc >/dev/null; } ||
    fail "Rust is not installed (cargo and rustc not found on PATH). Install rustup and a toolchain of Rust $want or newer (\`rustup toolchain install stable\`); rustup puts cargo in ~/.cargo/bin."
  have=$(rustc --version 2>/dev/null | sed -n 's/^rustc \([0-9][0-9.]*\).*/\1/p')
  [[ -n "$have" ]] ||
    fail "rustc does not run (\`rustc --version\` failed). With rustup: \`rustup default stable\` (Rust $want or newer)."
  version_at_least "$have" "$want" ||
    fail "Rust $have is too old: the workspace needs Rust $want or newer (Cargo.toml rust-version). Run \`rustup update stable\`."
  # Rust links with the system's C compiler.
  ensure_commands cc=gcc
}

require_python() {
  local have
  command -v python3 >/dev/null ||
    fail "python3 is not installed. Install Python $PYTHON_MIN_VERSION or newer (Debian/Ubuntu: apt-get install python3 python3-venv)."
  have=$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])') ||
    fail "python3 does not run"
  version_at_least "$have" "$PYTHON_MIN_VERSION" ||
    fail "Python $have is too old ($(command -v python3)): the tools need Python $PYTHON_MIN_VERSION or newer."
}

require_node() {
  local have
  { command -v node >/dev/null && command -v npm >/dev/null; } ||
    fail "Node.js $NODE_MIN_VERSION or newer (with npm) is needed for the browser, interoperability and CDK tests and is not on PATH. Debian 12's own nodejs is 18: install Node $NODE_MIN_VERSION+ from your distribution's newer release or the Node.js packages for it."
  have=$(node --version | sed 's/^v//')
  version_at_least "$have" "$NODE_MIN_VERSION" ||
    fail "Node.js $have is too old ($(command -v node)): the tests need Node $NODE_MIN_VERSION or newer."
}

# install_debian_packages PACKAGE...: apt-get install, as root or through sudo.
install_debian_packages() {
  local sudo=()
  if [[ "$(id -u)" != 0 ]]; then
    command -v sudo >/dev/null ||
      fail "these Debian packages are missing: $*. Installing them needs root, and sudo is not installed: run \`apt-get install $*\` as root, then run this again."
    sudo=(sudo)
  fi
  command -v apt-get >/dev/null ||
    fail "these packages are missing: $*, and apt-get is not available: install them with your system's package manager, then run this again."
  echo "installing Debian packages: $* (apt-get${sudo:+ through sudo})" >&2
  "${sudo[@]}" apt-get update -qq ||
    fail "apt-get update failed${sudo:+ (through sudo)}: install $* yourself, then run this again."
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null ||
    fail "apt-get install $* failed${sudo:+ (through sudo)}: install them yourself, then run this again."
}

# ensure_commands COMMAND=PACKAGE...: installs the Debian package of each command that is not on PATH.
ensure_commands() {
  local pair missing=()
  for pair in "$@"; do
    command -v "${pair%%=*}" >/dev/null || missing+=("${pair#*=}")
  done
  ((${#missing[@]} == 0)) || install_debian_packages "${missing[@]}"
  for pair in "$@"; do
    command -v "${pair%%=*}" >/dev/null || fail "${pair%%=*} is still not on PATH after installing ${pair#*=}"
  done
}

# requirement_lines [NAME...]: the pinned lines of scripts/requirements.txt for those distributions (all
# when none are named), e.g. "moto[server]==5.2.1" for moto.
requirement_lines() {
  local line name want
  while IFS= read -r line; do
    line=${line%%#*}
    line=${line//[[:space:]]/}
    [[ -n "$line" ]] || continue
    name=${line%%[\[=<>~!]*}
    if (($# == 0)); then echo "$line"; continue; fi
    for want in "$@"; do
      [[ "$name" == "$want" ]] && echo "$line"
    done
  done <"$M2M_REQUIREMENTS"
}

# use_project_venv [NAME...]: creates .venv/ when missing, installs the pinned versions of the named tools
# (all of scripts/requirements.txt when none are named) unless they are there already, and puts .venv/bin
# first on PATH. Installed lines are recorded in .venv/.installed, so a second run only compares text.
# shellcheck disable=SC2120 # called with and without names
use_project_venv() {
  local wanted=() installed=() missing=() keep=() line py_version
  mapfile -t wanted < <(requirement_lines "$@")
  ((${#wanted[@]})) || fail "use_project_venv: none of '$*' is in scripts/requirements.txt"

  if [[ ! -x "$M2M_VENV/bin/python" ]] || ! "$M2M_VENV/bin/python" -c 'import sys' 2>/dev/null; then
    require_python
    py_version=$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')
    echo "creating the project's Python environment .venv/ (with $(command -v python3), Python $py_version)" >&2
    rm -rf "$M2M_VENV"
    if ! python3 -m venv "$M2M_VENV" >/dev/null 2>&1; then
      # Debian and Ubuntu ship venv's pip bootstrap (ensurepip) in a package of its own.
      rm -rf "$M2M_VENV"
      install_debian_packages python3-venv "python$py_version-venv"
      python3 -m venv "$M2M_VENV" ||
        fail "python3 -m venv .venv failed even with python3-venv installed"
    fi
  fi

  [[ -f "$M2M_VENV/.installed" ]] && mapfile -t installed <"$M2M_VENV/.installed"
  for line in "${wanted[@]}"; do
    printf '%s\n' "${installed[@]}" | grep -qxF -- "$line" || missing+=("$line")
  done
  if ((${#missing[@]})); then
    # What is installed already goes into the same pip call, so that pip resolves the whole set together.
    mapfile -t keep < <(printf '%s\n' "${installed[@]}" | grep -xF -f <(requirement_lines) || true)
    echo "installing into .venv/: ${missing[*]}" >&2
    "$M2M_VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${keep[@]}" "${missing[@]}" ||
      fail "pip could not install ${missing[*]} into .venv/ (is PyPI reachable?)"
    printf '%s\n' "${keep[@]}" "${missing[@]}" | sort -u >"$M2M_VENV/.installed"
  fi
  case ":$PATH:" in
    *":$M2M_VENV/bin:"*) ;;
    *) export PATH="$M2M_VENV/bin:$PATH" ;;
  esac
}

# rustfmt and clippy for `bash scripts/test.sh`: added with rustup, or already part of the toolchain.
ensure_rust_components() {
  if command -v rustup >/dev/null; then
    rustup component add rustfmt clippy >/dev/null ||
      fail "rustup could not add rustfmt and clippy to the active toolchain ($(rustup show active-toolchain 2>/dev/null))"
  fi
  cargo fmt --version >/dev/null 2>&1 || fail "cargo fmt is not available: install rustfmt for your Rust toolchain"
  cargo clippy --version >/dev/null 2>&1 || fail "cargo clippy is not available: install clippy for your Rust toolchain"
}

# cargo-fuzz at its pinned version, built from crates.io into ~/.cargo/bin (libFuzzer needs a C++ compiler).
ensure_cargo_fuzz() {
  ensure_commands c++=g++
  if [[ "$(cargo fuzz --version 2>/dev/null)" != "cargo-fuzz $CARGO_FUZZ_VERSION" ]]; then
    echo "installing cargo-fuzz $CARGO_FUZZ_VERSION (cargo install, a few minutes)" >&2
    cargo install --quiet --locked --version "=$CARGO_FUZZ_VERSION" cargo-fuzz ||
      fail "cargo install cargo-fuzz $CARGO_FUZZ_VERSION failed"
  fi
}

# cargo-nextest at its pinned version (the Rust tests' runner: a process per test), from crates.io into
# ~/.cargo/bin unless that version is already there.
ensure_cargo_nextest() {
  if [[ "$(cargo nextest --version 2>/dev/null | head -1)" != "cargo-nextest $CARGO_NEXTEST_VERSION"* ]]; then
    echo "installing cargo-nextest $CARGO_NEXTEST_VERSION (cargo install, a few minutes)" >&2
    cargo install --quiet --locked --version "=$CARGO_NEXTEST_VERSION" cargo-nextest ||
      fail "cargo install cargo-nextest $CARGO_NEXTEST_VERSION failed"
  fi
}
