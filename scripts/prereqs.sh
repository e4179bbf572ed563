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

# The browser tests (crates/cli/tests/browser/) drive Debian's Chromium through
# chromium-driver (WebDriver) and call the API with curl. Sourced by scripts/test:
# installed where we can (Debian/Ubuntu, as root). Where we cannot, say so loudly,
# with the command that would, and export EVERREACH_BROWSER_TESTS=skip so that only
# those tests skip (each says so on the terminal); without that variable a missing
# browser fails them. CI (CI=true) never skips them: a missing browser fails the run.
browser_tools_present() {
  command -v "${EVERREACH_CHROMIUM:-chromium}" >/dev/null 2>&1 \
    && command -v "${EVERREACH_CHROMEDRIVER:-chromedriver}" >/dev/null 2>&1 \
    && command -v curl >/dev/null 2>&1
}

ensure_browser() {
  if [ "${CI:-}" = true ] && [ "${EVERREACH_BROWSER_TESTS:-}" = skip ]; then
    echo "everreach: CI runs the browser tests: EVERREACH_BROWSER_TESTS=skip is ignored" >&2
    unset EVERREACH_BROWSER_TESTS
  fi
  if [ "${EVERREACH_BROWSER_TESTS:-}" = skip ]; then
    browser_skip_notice
    return 0
  fi
  browser_tools_present && return 0
  local packages="chromium chromium-driver curl"
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "everreach: installing $packages (for the browser tests)" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $packages >/dev/null \
      || { apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $packages >/dev/null; } \
      || true
  fi
  browser_tools_present && return 0
  if [ "${CI:-}" = true ]; then
    echo "everreach: the browser tests need chromium, chromedriver and curl, and CI never skips them: install them with: sudo apt-get install -y $packages" >&2
    exit 1
  fi
  export EVERREACH_BROWSER_TESTS=skip
  browser_skip_notice
}

# Said when the browser tests are skipped (scripts/test says it again at the end).
browser_skip_notice() {
  [ "${EVERREACH_BROWSER_TESTS:-}" = skip ] || return 0
  {
    echo "################################################################################"
    echo "everreach: THE BROWSER TESTS ARE SKIPPED (EVERREACH_BROWSER_TESTS=skip)."
    browser_tools_present \
      || echo "everreach: chromium, chromedriver or curl is missing: install them with: sudo apt-get install -y chromium chromium-driver curl"
    echo "################################################################################"
  } >&2
}
