#!/usr/bin/env bash
# Set up everything pcfij needs on a fresh Debian machine with Python >= 3.10:
#   * system packages for the ImageJ bridge and its tests (Java with javac, Debian's ImageJ 1.x
#     `libij-java`, commons-math3, Xvfb) -- installed with apt-get when running as root or with sudo;
#   * a virtual environment in .venv with pcfij and its Python dependencies.
# Safe to run again: it only installs what is missing.
# Environment: PCFIJ_VENV (default .venv), PCFIJ_EXTRAS (default "test,imagej,io"),
#              PCFIJ_SKIP_APT=1 to skip the system packages.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${PCFIJ_VENV:-.venv}
EXTRAS=${PCFIJ_EXTRAS:-test,imagej,io}
PY=${PYTHON:-python3}

need_apt=()
command -v java >/dev/null 2>&1 || need_apt+=(default-jre-headless)
# javac compiles the ImageJ command host (pcfij/imagej/java) against the ImageJ jar
command -v javac >/dev/null 2>&1 || need_apt+=(default-jdk-headless)
# commons-math3: the library the Fiji CCC plugin fits with; tests compare against it
[ -f /usr/share/java/commons-math3.jar ] || need_apt+=(libcommons-math3-java)
[ -f /usr/share/java/ij.jar ] || need_apt+=(libij-java)
command -v xvfb-run >/dev/null 2>&1 || need_apt+=(xvfb xauth)
if ! "$PY" -c "import venv, ensurepip" >/dev/null 2>&1; then need_apt+=(python3-venv); fi
if [ ${#need_apt[@]} -gt 0 ] && [ "${PCFIJ_SKIP_APT:-0}" != 1 ]; then
  SUDO=""
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
      echo "setup: please install these Debian packages: ${need_apt[*]}" >&2; SUDO=none; fi
  fi
  if [ "$SUDO" != none ]; then
    echo "setup: installing Debian packages: ${need_apt[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
  fi
fi

if [ ! -x "$VENV/bin/python" ]; then
  echo "setup: creating virtual environment $VENV"
  "$PY" -m venv "$VENV"
fi
stamp="$VENV/.pcfij-installed"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "setup: installing pcfij[$EXTRAS] into $VENV (a few minutes the first time)"
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/python" -m pip install -q -e ".[$EXTRAS]"
  touch "$stamp"
fi
echo "setup: ready ($VENV/bin/pcfij)"
