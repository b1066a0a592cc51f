"""ImageJ test fixtures: a private Xvfb display and one real ImageJ 1.x per test session.

JPype cannot restart Java, so the in-process ImageJ (with a display, under Xvfb) is started
once per pytest process; headless ImageJ and ``java -jar ij.jar -batch`` runs happen in
subprocesses (with timeouts). Tests skip, naming what to install, when Java, ImageJ or
Xvfb are missing (scripts/setup.sh installs them).
"""

from __future__ import annotations

import atexit
import os
import select
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

IJ_JAR = os.environ.get("PCFIJ_IJ_JAR", "/usr/share/java/ij.jar")
REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
SUBPROCESS_TIMEOUT = 300


def missing_requirements(display: bool = True) -> str | None:
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        return "Java is not installed (apt-get install default-jre-headless)"
    if not Path(IJ_JAR).is_file():
        return f"ImageJ jar {IJ_JAR} missing (apt-get install libij-java)"
    try:
        import jpype  # noqa: F401
        import scyjava  # noqa: F401
    except ImportError:
        return "jpype1/scyjava not installed (pip install 'pcfij[imagej]')"
    if display and shutil.which("Xvfb") is None:
        return "Xvfb missing (apt-get install xvfb xauth)"
    return None


def start_xvfb() -> tuple[subprocess.Popen, str]:
    """Start ``Xvfb`` on a free display number; return (process, ":N")."""
    r, w = os.pipe()
    proc = subprocess.Popen(
        ["Xvfb", "-displayfd", str(w), "-screen", "0", "1280x1024x24", "-nolisten", "tcp"],
        pass_fds=(w,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    os.close(w)
    text = b""
    while not text.endswith(b"\n"):
        ready, _, _ = select.select([r], [], [], 60)
        if not ready:
            proc.kill()
            raise RuntimeError("Xvfb did not report its display within 60 s")
        chunk = os.read(r, 64)
        if not chunk:
            raise RuntimeError("Xvfb exited before reporting its display")
        text += chunk
    os.close(r)
    return proc, ":" + text.decode().strip()


_xvfb: list = []


def _stop_xvfb() -> None:
    for proc in _xvfb:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="session")
def imagej_display():
    """A running ImageJ (interactive mode: menus, dialogs) on a private Xvfb display."""
    why = missing_requirements(display=True)
    if why:
        pytest.skip(why)
    from pcfij.imagej import start, start_imagej

    if start.session() is None:
        proc, display = start_xvfb()
        _xvfb.append(proc)
        atexit.register(_stop_xvfb)  # registered before Java starts: runs after its shutdown
        os.environ["DISPLAY"] = display
    sess = start_imagej(mode="interactive")
    _start_dialog_watchdog()
    yield sess


dismissed_dialogs: list[str] = []


def _start_dialog_watchdog() -> None:
    """Close any modal dialog ImageJ opens (error dialogs, macro errors) so that a failing
    test fails instead of hanging; their titles are kept in :data:`dismissed_dialogs`."""
    import threading

    from pcfij.imagej.convert import jclass

    if any(t.name == "pcfij-dialog-watchdog" for t in threading.enumerate()):
        return
    Window = jclass("java.awt.Window")
    Dialog = jclass("java.awt.Dialog")

    def watch():
        stop = threading.Event()
        while not stop.wait(0.1):
            try:
                for w in Window.getWindows():
                    if isinstance(w, Dialog) and w.isVisible() and w.isModal():
                        dismissed_dialogs.append(str(w.getTitle()))
                        w.dispose()
            except Exception:
                pass

    threading.Thread(target=watch, name="pcfij-dialog-watchdog", daemon=True).start()


def run_python(code: str, *, env_extra: dict | None = None, display: bool = False,
               timeout: int = SUBPROCESS_TIMEOUT) -> subprocess.CompletedProcess:
    """Run Python code in a fresh interpreter (its own JVM); headless unless display."""
    env = dict(os.environ)
    env.pop("DISPLAY", None)
    env.update(env_extra or {})
    cmd = [PYTHON, "-c", code]
    if display:
        cmd = ["xvfb-run", "-a"] + cmd
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env,
                          cwd=str(REPO))


def run_ij_batch(macro: str | os.PathLike, arg: str, plugins_dir: str | os.PathLike, *,
                 env_extra: dict | None = None, timeout: int = SUBPROCESS_TIMEOUT):
    """``xvfb-run -a java -Dplugins.dir=DIR -jar ij.jar -batch MACRO ARG``."""
    env = dict(os.environ)
    env.update(env_extra or {})
    cmd = ["xvfb-run", "-a", "java", f"-Dplugins.dir={plugins_dir}", "-jar", IJ_JAR,
           "-batch", str(macro), arg]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env,
                          cwd=str(REPO))
