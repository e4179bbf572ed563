# Sourced by scripts/run and scripts/test: make sure what building and running
# EverReach needs is here, installing it where we can (Debian/Ubuntu, as root) and
# saying exactly what is missing where we cannot.

need_apt() {  # need_apt COMMAND PACKAGE...
  command -v "$1" >/dev/null 2>&1 && return 0
  local cmd="$1"; shift
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "everreach: installing $* (for $cmd)" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null \
      || { apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null; }
  fi
  command -v "$cmd" >/dev/null 2>&1 || {
    echo "everreach: $cmd is missing: install it with: sudo apt-get install -y $*" >&2
    exit 1
  }
}

ensure_prereqs() {
  if ! command -v cargo >/dev/null 2>&1; then
    if [ -x "$HOME/.cargo/bin/cargo" ]; then
      export PATH="$HOME/.cargo/bin:$PATH"
    else
      echo "everreach: Rust is missing: install it with: curl https://sh.rustup.rs -sSf | sh" >&2
      exit 1
    fi
  fi
  need_apt cc gcc
  need_apt python3 python3 python3-pip
  if ! python3 -m pip --version >/dev/null 2>&1; then
    need_apt pip3 python3-pip
  fi
  # PostgreSQL 18 + pgvector for the embedded database (the binary would fetch it on
  # first use as well; doing it here says so up front).
  bash "$(dirname "${BASH_SOURCE[0]}")/fetch-postgres.sh" >/dev/null
}

# Debian's chromium and chromium-driver for the browser tests (crates/cli/tests/
# browser.rs). Installed as root with apt; where that cannot be done, the browser
# tests alone are skipped — said loudly here and by the test — and the rest runs.
ensure_browser() {
  need_apt curl curl  # the journey uses the token with curl
  if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
    return 0
  fi
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "everreach: installing chromium and chromium-driver (for the browser tests)" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null 2>&1 \
      || { apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; } \
      || true
  fi
  if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
    return 0
  fi
  echo "everreach: SKIPPING THE BROWSER TESTS: chromium and chromedriver are missing;" \
       "install them with: sudo apt-get install -y chromium chromium-driver" >&2
  export EVERREACH_BROWSER_TESTS=skip
}
