"""ImageJ test fixtures: a private Xvfb display and one real ImageJ 1.x per test session.

JPype cannot restart Java, so the in-process ImageJ (with a display, under Xvfb) is started
once per pytest process; headless ImageJ and ``java -jar ij.jar -batch`` runs happen in
subprocesses (with timeouts). Tests skip, naming what to install, when Java, ImageJ or
Xvfb are missing (scripts/setup.sh installs them).

The command host (``pcfij install-plugins``) is driven the way users start ImageJ:
:func:`run_ij_batch` (``xvfb-run java -jar ij.jar -batch``) and :func:`run_ij_gui` (ImageJ
with its GUI under Xvfb running macro files; a small Java driver, ``tests/PcfijDriver.java``,
dismisses and prints modal dialogs, can press Esc, click a command's menu item and fill its
dialog, and prints the Log window and the Recorder). Both check that no ``pcfij-*`` file
or folder is left in ``/dev/shm`` or the temp folder afterwards.
"""

from __future__ import annotations

import atexit
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
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


TEMP_DIRS = ("/dev/shm", tempfile.gettempdir())


def _run(cmd: list[str], *, timeout: int, env: dict) -> subprocess.CompletedProcess:
    """Run in a new process group; on a timeout the whole group (xvfb-run, Xvfb, java) is
    killed, so that a hanging ImageJ does not outlive the test."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, cwd=str(REPO), start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def _pcfij_temp() -> set[str]:
    out = set()
    for d in TEMP_DIRS:
        if os.path.isdir(d):
            # the host's pcfij-PID-* and the old drop-ins' pcfij-TIME-RANDOM folders
            out |= {os.path.join(d, n) for n in os.listdir(d) if re.match(r"pcfij-\d+-", n)}
    return out


def _alive(name: str) -> bool:
    """Whether the process that made ``pcfij-PID-...`` still runs (another ImageJ, e.g. a
    test run in parallel: its folder is not a leftover of this one)."""
    pid = int(re.match(r".*pcfij-(\d+)-", name).group(1))
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError, ValueError):
        return False
    except PermissionError:
        return True
    return True


def _no_leftovers(before: set[str], proc) -> None:
    left = {p for p in _pcfij_temp() - before if not _alive(p)}
    assert not left, f"temporary files left behind: {sorted(left)}\n{proc.stdout}{proc.stderr}"


def run_ij_batch(macro: str | os.PathLike, arg: str, plugins_dir: str | os.PathLike, *,
                 env_extra: dict | None = None, timeout: int = SUBPROCESS_TIMEOUT):
    """``xvfb-run -a java -Dplugins.dir=DIR -jar ij.jar -batch MACRO ARG``."""
    env = dict(os.environ)
    env.update(env_extra or {})
    cmd = ["xvfb-run", "-a", "java", f"-Dplugins.dir={plugins_dir}", "-jar", IJ_JAR,
           "-batch", str(macro), arg]
    before = _pcfij_temp()
    proc = _run(cmd, timeout=timeout, env=env)
    _no_leftovers(before, proc)
    return proc


def install_host(folder: str | os.PathLike) -> Path:
    """``pcfij install-plugins FOLDER`` in a fresh process, as a user runs it; FOLDER is
    returned (``-Dplugins.dir`` for ImageJ). ``$PCFIJ_TEST_PLUGINS`` (a folder with
    ``plugins/``) replaces the install, to run these tests against other plugins."""
    other = os.environ.get("PCFIJ_TEST_PLUGINS")
    if other:
        return Path(other)
    root = Path(folder)
    (root / "plugins").mkdir(parents=True, exist_ok=True)
    proc = subprocess.run([PYTHON, "-m", "pcfij", "install-plugins", str(root)],
                          capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT,
                          cwd=str(REPO))
    assert proc.returncode == 0, proc.stderr
    return root


_driver_dir: list[Path] = []


def gui_driver() -> Path:
    """Compile ``tests/PcfijDriver.java`` once per test session; return the class folder."""
    if _driver_dir:
        return _driver_dir[0]
    javac = shutil.which("javac")
    if javac is None:
        pytest.skip("javac missing (apt-get install default-jdk-headless)")
    out = Path(tempfile.mkdtemp(prefix="ijdriver-"))
    subprocess.run([javac, "-nowarn", "-cp", IJ_JAR, "-d", str(out),
                    str(REPO / "tests" / "PcfijDriver.java")], check=True, capture_output=True)
    _driver_dir.append(out)
    return out


def run_ij_gui(macros, plugins_dir: str | os.PathLike, *, arg: str = "", esc_ms: int = -1,
               record: bool = False, click: str | None = None, fill: str = "",
               save: str | os.PathLike | None = None, env_extra: dict | None = None,
               timeout: int = SUBPROCESS_TIMEOUT) -> subprocess.CompletedProcess:
    """ImageJ with its GUI (under Xvfb) runs the macro files one after the other.

    ``esc_ms``: press Esc that many ms after the status bar first shows the engine
    computing (the worker's status: the command is running); ``record``: Recorder on;
    ``click``: then choose this menu command (its dialog filled with ``fill``: ``n0=2;c1=cpu``
    = numeric field 0, choice 1, ``s``tring, ``b``ox) and save the Results table to
    ``save``. Output lines: ``DIALOG title | text``, ``MACRO-RETURNED ms``, ``ESC ms``,
    ``RESULTS-SIZE n``, the Log between ``LOG-BEGIN``/``LOG-END``, the Recorder between
    ``RECORDED-BEGIN``/``RECORDED-END``.
    """
    env = dict(os.environ)
    env.update(env_extra or {})
    cmd = ["xvfb-run", "-a", "java", f"-Dplugins.dir={plugins_dir}"]
    if click:
        cmd += [f"-Dpcfij.click={click}", f"-Dpcfij.fill={fill}"]
    if save:
        cmd += [f"-Dpcfij.save={save}"]
    cmd += ["-cp", f"{IJ_JAR}:{gui_driver()}", "PcfijDriver",
            ",".join(str(m) for m in macros), arg, str(esc_ms)] + (["record"] if record else [])
    before = _pcfij_temp()
    proc = _run(cmd, timeout=timeout, env=env)
    _no_leftovers(before, proc)
    return proc


def section(text: str, begin: str, end: str) -> str:
    """The lines between two marker lines of a driver's output."""
    a = text.index(begin + "\n") + len(begin) + 1
    return text[a : text.index(end, a)].strip("\n")
