#!/usr/bin/env bash
# Shows that the README's two commands work on a stock Debian or Ubuntu machine: in a fresh clone of this
# checkout's HEAD (committed work only), with PATH reduced to the distribution's directories plus
# ~/.cargo/bin, so that python3 is the distribution's externally managed Python (PEP 668) and no
# cargo-lambda, moto, SAM CLI or schemathesis installed elsewhere is visible.
#
#   bash scripts/stock-machine-check.sh --setup        # scripts/setup.sh on an empty .venv/, then once more
#   bash scripts/stock-machine-check.sh --local-stack  # the run command on an empty .venv/ (it builds the
#                                                      # debug binaries), its printed curl examples (200, 200,
#                                                      # 200, 403), stopped; then setup; then the run command again
#   bash scripts/stock-machine-check.sh --all          # both README commands: the run command as above, then
#                                                      # the full bash scripts/test.sh
#
#   --keep         keep the clone (printed) instead of deleting it
#   --cold-caches  empty pip and npm download caches, to time a first install on a new machine
#
# Prints each command it ran with its time; exits non-zero on the first failure.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
mode=""
keep=0
cold=0
for arg in "$@"; do
  case "$arg" in
    --setup | --local-stack | --all) mode=${arg#--} ;;
    --keep) keep=1 ;;
    --cold-caches) cold=1 ;;
    -h | --help) sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "stock-machine-check: unknown argument '$arg' (want --setup, --local-stack or --all)" >&2; exit 2 ;;
  esac
done
[[ -n "$mode" ]] || { echo "stock-machine-check: give --setup, --local-stack or --all" >&2; exit 2; }

check_started=$SECONDS
work=$(mktemp -d "${TMPDIR:-/tmp}/m2m-stock-check.XXXXXX")
clone="$work/repo"
results=()
stack_pid=""
stacks=0

# ---------------------------------------------------------------------------------------- the stock machine
# The distribution's default PATH (Debian's login.defs, /usr/local/bin included: a machine's own installs such as
# cargo-nextest), plus where rustup installs cargo. Nothing of pyenv, conda, ~/.local or a virtual environment;
# and no variable that points Python, pip or the tests at tools installed elsewhere.
cargo_bin="${CARGO_HOME:-$HOME/.cargo}/bin"
stock_path="$cargo_bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
stock_env=(env -u VIRTUAL_ENV -u PYENV_ROOT -u PYENV_VERSION -u PYENV_SHELL -u PYTHONPATH -u PYTHONHOME
  -u PYTHONUSERBASE -u CONDA_PREFIX -u MOTO_SERVER -u CARGO_TARGET_DIR -u M2M_BASE_URL -u M2M_PORT
  PATH="$stock_path" M2M_STOCK_MACHINE_CHECK=1)
if ((cold)); then stock_env+=(PIP_CACHE_DIR="$work/pip-cache" npm_config_cache="$work/npm-cache"); fi
on_stock_machine() { "${stock_env[@]}" "$@"; }

summary() {
  local line
  printf '\n== stock-machine-check --%s: what ran (in %s, PATH=%s)\n' "$mode" "$clone" "$stock_path"
  for line in "${results[@]}"; do printf '  %s\n' "$line"; done
}
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  stop_stack >/dev/null 2>&1 || true
  if ((keep)); then
    results+=("the clone is kept: $clone")
  else
    local start=$SECONDS
    rm -rf "$work"
    results+=("ok    $(printf '%5ds' $((SECONDS - start)))  removed the clone (its .venv/, node_modules and target)")
  fi
  results+=("total $(printf '%5ds' $((SECONDS - check_started)))")
  summary
  if ((status == 0)); then echo "stock-machine-check --$mode: passed"; else echo "stock-machine-check --$mode: FAILED"; fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# timed LABEL COMMAND...: runs the command in the clone on the stock PATH and records how long it took.
timed() {
  local label=$1 start=$SECONDS status=0
  shift
  printf '\n== stock-machine-check: %s: %s\n' "$label" "$*"
  (cd "$clone" && on_stock_machine "$@") || status=$?
  if ((status)); then
    results+=("FAIL  $(printf '%5ds' $((SECONDS - start)))  $label: $* (exit $status)")
    exit "$status"
  fi
  results+=("ok    $(printf '%5ds' $((SECONDS - start)))  $label: $*")
}

check() {
  local what=$1
  shift
  if "$@"; then
    results+=("ok           check: $what")
  else
    results+=("FAIL         check: $what")
    echo "stock-machine-check: $what: no" >&2
    exit 1
  fi
}

echo "== stock-machine-check --$mode: fresh clone of $(git -C "$repo" rev-parse --short HEAD) into $clone"
if [[ -n "$(git -C "$repo" status --porcelain --untracked-files=no)" ]]; then
  echo "   (uncommitted changes in $repo are not part of the check: only HEAD is cloned)"
fi
git clone --quiet --no-checkout "$(git -C "$repo" rev-parse --path-format=absolute --git-common-dir)" "$clone"
git -C "$clone" checkout --quiet --detach "$(git -C "$repo" rev-parse HEAD)"

python=$(on_stock_machine bash -c 'command -v python3' || true)
echo "   python3 on this PATH: ${python:-none} ($(on_stock_machine python3 --version 2>&1 || true))"
externally_managed() {
  on_stock_machine python3 -c 'import os, sys, sysconfig
sys.exit(not os.path.exists(os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED")))'
}
if externally_managed; then
  echo "   it is externally managed (PEP 668): pip refuses to install outside a virtual environment"
else
  echo "   it is not marked externally managed"
fi
not_on_path() { ! on_stock_machine bash -c "command -v $1" >/dev/null; }
for tool in cargo-lambda moto_server sam cfn-lint schemathesis; do
  check "$tool is not on the stock PATH before setup" not_on_path "$tool"
done
system_python_lacks() { ! on_stock_machine python3 -c "import $1" 2>/dev/null; }
untouched=()
for module in moto samcli schemathesis ziglang; do
  system_python_lacks "$module" && untouched+=("$module")
done

# ---------------------------------------------------------------------------------------- the run command
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

stop_stack() {
  [[ -n "$stack_pid" ]] || return 0
  kill -TERM -- "-$stack_pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$stack_pid" 2>/dev/null || break; sleep 0.2; done
  if kill -0 "$stack_pid" 2>/dev/null; then
    kill -KILL -- "-$stack_pid" 2>/dev/null || true
    stack_pid=""
    return 1
  fi
  stack_pid=""
}

# local_stack LABEL: bash scripts/local-stack.sh until READY, its printed curl examples, then stopped.
local_stack() {
  local label=$1 start=$SECONDS port out err url="" examples codes
  port=$(free_port)
  stacks=$((stacks + 1))
  out="$work/stack-$stacks.out" err="$work/stack-$stacks.err"
  examples="$work/stack-$stacks.examples.sh" codes="$work/stack-$stacks.codes"
  printf '\n== stock-machine-check: %s: M2M_PORT=%s bash scripts/local-stack.sh (until READY)\n' "$label" "$port"
  # A session of its own, so that it is stopped as a whole (as a user's Ctrl-C would).
  (cd "$clone" && exec setsid "${stock_env[@]}" M2M_PORT="$port" bash scripts/local-stack.sh \
    >"$out" 2>"$err" </dev/null) &
  stack_pid=$!
  local deadline=$((SECONDS + ${STOCK_CHECK_STACK_TIMEOUT:-3600}))
  while ((SECONDS < deadline)); do
    url=$(sed -n 's/^READY //p' "$out")
    [[ -n "$url" ]] && break
    kill -0 "$stack_pid" 2>/dev/null || break
    sleep 1
  done
  if [[ -z "$url" ]]; then
    results+=("FAIL  $(printf '%5ds' $((SECONDS - start)))  $label: bash scripts/local-stack.sh printed no READY")
    tail -n 40 "$err" >&2
    exit 1
  fi
  results+=("ok    $(printf '%5ds' $((SECONDS - start)))  $label: bash scripts/local-stack.sh until READY $url")

  # The curl examples exactly as printed, with each status code recorded on the side.
  {
    echo 'set -euo pipefail'
    printf '%s\n' "curl() { command curl -w '%{stderr}%{http_code}\n' \"\$@\" 2>>'$codes'; }"
    sed -n '/^  Try it:$/,/^  Logs:/p' "$err" | sed '1d;$d'
  } >"$examples"
  printf '\n== stock-machine-check: %s: the printed curl examples\n' "$label"
  sed -n '3,$p' "$examples"
  : >"$codes"
  (cd "$work" && on_stock_machine bash "$examples") || {
    results+=("FAIL         $label: the printed curl examples did not run")
    exit 1
  }
  echo
  check "$label: the examples answer 200 (token), 200, 200, 403 (got $(tr '\n' ' ' <"$codes"))" \
    test "$(tr '\n' ' ' <"$codes")" == "200 200 200 403 "

  local stop_start=$SECONDS
  check "$label: the stack stops on SIGTERM" stop_stack
  results+=("ok    $(printf '%5ds' $((SECONDS - stop_start)))  $label: stopped")
  check "$label: nothing listens on port $port any more" \
    bash -c "! curl -s -o /dev/null --max-time 2 'http://127.0.0.1:$port/config.json'"
}

# ---------------------------------------------------------------------------------------- the modes
case "$mode" in
  setup)
    timed "setup, first time (empty .venv/)" bash scripts/setup.sh
    timed "setup, second time" bash scripts/setup.sh
    ;;
  local-stack)
    local_stack "run command, first time (empty .venv/, debug build)"
    timed "setup" bash scripts/setup.sh
    local_stack "run command, second time"
    ;;
  all)
    local_stack "run command, first time (empty .venv/, debug build)"
    timed "test command" bash scripts/test.sh
    ;;
esac

check "every Python tool is in the clone's .venv/" \
  test -x "$clone/.venv/bin/cargo-lambda"
for module in "${untouched[@]}"; do
  check "the system's python3 still cannot import $module (nothing installed outside .venv/)" \
    system_python_lacks "$module"
done
