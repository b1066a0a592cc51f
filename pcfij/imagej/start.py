"""Start ImageJ inside this Python process, without downloading anything.

Two ways, one function (:func:`start_imagej`):

* a **local Fiji** (``fiji_dir="/path/to/Fiji.app"``) through pyimagej's
  ``imagej.init(fiji_dir, mode=...)``;
* a **plain ImageJ 1.x jar** through scyjava (Debian's ``/usr/share/java/ij.jar`` from the
  ``libij-java`` package by default; ``ij_jar=`` or ``$PCFIJ_IJ_JAR`` to choose another).

Modes: ``"interactive"`` (ImageJ's menus and windows exist but the main window is hidden;
needs a display, e.g. Xvfb), ``"gui"`` (the ImageJ window is shown), ``"headless"``
(``java.awt.headless=true``: no windows, no dialogs; commands read their macro options) and
``"auto"`` (interactive when ``$DISPLAY`` is set, else headless).

A JVM can be started only once per process (JPype cannot restart it): calling
:func:`start_imagej` again returns the running session, and asking for an incompatible
set-up (another jar, headless after a display) raises :class:`ImageJUnavailable`.

Every failure raises :class:`ImageJUnavailable` whose message says what to install or set.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_IJ_JAR = "/usr/share/java/ij.jar"
MODES = ("auto", "interactive", "gui", "headless")

_lock = threading.RLock()
_session: ImageJSession | None = None


class ImageJUnavailable(RuntimeError):
    """Java, JPype/scyjava or ImageJ is missing, or ImageJ cannot start as asked.

    The message names what to install or which option to change.
    """


@dataclass
class ImageJSession:
    """The running ImageJ (one per process).

    Attributes
    ----------
    mode : str
        ``"interactive"``, ``"gui"`` or ``"headless"``.
    headless : bool
        True when Java runs with ``java.awt.headless=true`` (no dialogs, no menus).
    version : str
        ImageJ 1.x version (``IJ.getVersion()``), e.g. ``"1.53t"``.
    ij_jar, fiji_dir : Path or None
        Where ImageJ came from.
    startup_seconds : float
        Wall time spent starting the JVM and ImageJ.
    ij : Java object or None
        The ``ij.ImageJ`` instance (None when headless).
    gateway : object or None
        The pyimagej gateway when started from a Fiji folder.
    """

    mode: str
    headless: bool
    version: str
    ij_jar: Path | None
    fiji_dir: Path | None
    startup_seconds: float
    ij: Any = None
    gateway: Any = None
    commands_registered: bool = False
    extra: dict = field(default_factory=dict)

    # convenience wrappers -------------------------------------------------------------
    def run(self, command: str, options: str | None = None, imp: Any = None) -> None:
        """``IJ.run`` a command; a failure raises :class:`RuntimeError` (no Java trace).

        A pcfij command that fails reports its error in ImageJ (``IJ.error``/log) and here
        too: the last error is raised as :class:`pcfij.errors.InputError` or RuntimeError.
        """
        from pcfij.imagej import bridge

        bridge.run_command(command, options, imp)

    def run_macro(self, code: str, arg: str = "") -> str | None:
        """Run ImageJ macro code; return the macro's return value (or None)."""
        from pcfij.imagej import bridge

        return bridge.run_macro(code, arg)


def session() -> ImageJSession | None:
    """Return the running ImageJ session, or None if :func:`start_imagej` was not called."""
    return _session


def start_imagej(
    fiji_dir: str | os.PathLike | None = None,
    *,
    mode: str = "auto",
    ij_jar: str | os.PathLike | None = None,
    max_memory: str | None = None,
    plugins_dir: str | os.PathLike | None = None,
    register_commands: bool = True,
    java_home: str | os.PathLike | None = None,
) -> ImageJSession:
    """Start ImageJ (once per process) and register the pcfij commands.

    Parameters
    ----------
    fiji_dir : path, optional
        A local ``Fiji.app`` folder, started through pyimagej (``$PCFIJ_FIJI_DIR`` if unset).
        Without it a plain ImageJ 1.x jar is used.
    mode : {"auto", "interactive", "gui", "headless"}
        See the module docstring.
    ij_jar : path, optional
        The ImageJ 1.x jar (default ``$PCFIJ_IJ_JAR`` or ``/usr/share/java/ij.jar``).
    max_memory : str, optional
        Java heap limit, e.g. ``"8g"`` (Java's default is a quarter of the RAM).
    plugins_dir : path, optional
        Passed to Java as ``-Dplugins.dir`` (ImageJ's plugins folder).
    register_commands : bool
        Register the pcfij commands (menu entries under *Plugins > pcfij* when there is a
        display; ``IJ.run``/macro ``run()`` in every mode).
    java_home : path, optional
        The Java installation (default ``$JAVA_HOME`` or the ``java`` on ``$PATH``).

    Returns
    -------
    ImageJSession

    Raises
    ------
    ImageJUnavailable
        With a message naming what to install or change.
    """
    global _session
    if mode not in MODES:
        raise ImageJUnavailable(f"mode must be one of {', '.join(MODES)}; got {mode!r}")
    with _lock:
        if mode == "auto":
            mode = "interactive" if os.environ.get("DISPLAY") else "headless"
        if _session is not None:
            _check_compatible(_session, mode, fiji_dir, ij_jar)
            if register_commands and not _session.commands_registered:
                _register(_session)
            return _session
        if mode in ("interactive", "gui") and not os.environ.get("DISPLAY"):
            raise ImageJUnavailable(
                f"mode={mode!r} needs a display but $DISPLAY is not set; use mode='headless', "
                "or run under a virtual display: `xvfb-run -a python ...` "
                "(Debian: apt-get install xvfb xauth)"
            )
        fiji = fiji_dir or os.environ.get("PCFIJ_FIJI_DIR") or None
        t0 = time.perf_counter()
        if fiji:
            sess = _start_fiji(Path(fiji), mode, max_memory, java_home)
        else:
            sess = _start_jar(ij_jar, mode, max_memory, plugins_dir, java_home)
        sess.startup_seconds = time.perf_counter() - t0
        _session = sess
        if register_commands:
            _register(sess)
        return sess


# ------------------------------------------------------------------------------ helpers
def _check_compatible(sess: ImageJSession, mode: str, fiji_dir, ij_jar) -> None:
    want_headless = mode == "headless"
    if want_headless != sess.headless:
        raise ImageJUnavailable(
            f"ImageJ is already running in {sess.mode} mode in this process and Java cannot "
            f"be restarted; start a new Python process for mode={mode!r}"
        )
    if fiji_dir and (sess.fiji_dir is None or Path(fiji_dir).resolve() != sess.fiji_dir):
        raise ImageJUnavailable(
            "ImageJ is already running in this process from "
            f"{sess.fiji_dir or sess.ij_jar}; start a new Python process to use {fiji_dir}"
        )
    if ij_jar and sess.ij_jar and Path(ij_jar).resolve() != sess.ij_jar:
        raise ImageJUnavailable(
            f"ImageJ is already running in this process from {sess.ij_jar}; start a new "
            f"Python process to use {ij_jar}"
        )


def _import_scyjava():
    try:
        import jpype  # noqa: F401
        import scyjava
    except ImportError as exc:
        raise ImageJUnavailable(
            f"the ImageJ bridge needs JPype and scyjava ({exc}); install them with "
            "`pip install 'pcfij[imagej]'` (or `pip install jpype1 scyjava pyimagej`)"
        ) from None
    return scyjava


def find_java_home(java_home: str | os.PathLike | None = None) -> Path:
    """Return a Java installation folder (one holding ``lib/server/libjvm.so`` or similar).

    Looks at ``java_home``, ``$JAVA_HOME``, then the ``java`` program on ``$PATH``.
    """
    candidates = []
    if java_home:
        candidates.append(Path(java_home))
    if os.environ.get("JAVA_HOME"):
        candidates.append(Path(os.environ["JAVA_HOME"]))
    java = shutil.which("java")
    if java:
        candidates.append(Path(os.path.realpath(java)).parent.parent)
    for home in candidates:
        for lib in ("lib/server/libjvm.so", "jre/lib/amd64/server/libjvm.so",
                    "lib/server/libjvm.dylib", "bin/server/jvm.dll"):
            if (home / lib).exists():
                return home
    raise ImageJUnavailable(
        "Java was not found (no JAVA_HOME and no `java` on PATH); install Java 11 or newer "
        "(Debian/Ubuntu: `apt-get install default-jre-headless`; or run scripts/setup.sh) "
        "or set JAVA_HOME to a JDK/JRE folder"
    )


def _prepare_jvm(scyjava, java_home, max_memory, extra_options) -> None:
    import jpype

    home = find_java_home(java_home)
    os.environ["JAVA_HOME"] = str(home)
    scyjava.config.set_java_constraints(fetch="never")
    if max_memory:
        scyjava.config.add_option(f"-Xmx{max_memory}")
    for opt in extra_options:
        scyjava.config.add_option(opt)
    if jpype.isJVMStarted():
        return


def _start_jar(ij_jar, mode, max_memory, plugins_dir, java_home) -> ImageJSession:
    scyjava = _import_scyjava()
    import jpype

    jar = Path(ij_jar or os.environ.get("PCFIJ_IJ_JAR") or DEFAULT_IJ_JAR)
    if not jar.is_file():
        raise ImageJUnavailable(
            f"ImageJ jar {jar} not found; install ImageJ 1.x (Debian/Ubuntu: "
            "`apt-get install libij-java`, or run scripts/setup.sh), pass ij_jar=/path/to/ij.jar "
            "(or set PCFIJ_IJ_JAR), or use a local Fiji with fiji_dir=/path/to/Fiji.app"
        )
    headless = mode == "headless"
    opts = []
    if headless:
        opts.append("-Djava.awt.headless=true")
    if plugins_dir:
        opts.append(f"-Dplugins.dir={Path(plugins_dir).resolve()}")
    if jpype.isJVMStarted():
        # someone else started Java: ImageJ must already be on its class path
        try:
            scyjava.jimport("ij.IJ")
        except Exception:
            raise ImageJUnavailable(
                "Java is already running in this process without ImageJ on its class path; "
                "call pcfij.imagej.start_imagej() before anything else starts Java"
            ) from None
    else:
        _prepare_jvm(scyjava, java_home, max_memory, opts)
        scyjava.config.add_classpath(str(jar.resolve()))
        try:
            scyjava.start_jvm()
        except Exception as exc:
            raise ImageJUnavailable(
                f"Java could not start ({exc}); install Java 11 or newer "
                "(`apt-get install default-jre-headless`) or set JAVA_HOME"
            ) from None
    IJ = scyjava.jimport("ij.IJ")
    GraphicsEnvironment = scyjava.jimport("java.awt.GraphicsEnvironment")
    is_headless = bool(GraphicsEnvironment.isHeadless())
    ij_instance = None
    if is_headless:
        _headless_setup(scyjava, jar)
        mode = "headless"
    else:
        ImageJ = scyjava.jimport("ij.ImageJ")
        ij_instance = IJ.getInstance()
        if ij_instance is None:
            try:
                ij_instance = ImageJ() if mode == "gui" else ImageJ(ImageJ.NO_SHOW)
            except Exception as exc:
                raise ImageJUnavailable(
                    f"ImageJ could not open its window ({exc}); check $DISPLAY or use "
                    "mode='headless'"
                ) from None
            ij_instance.exitWhenQuitting(False)
    return ImageJSession(
        mode=mode, headless=is_headless, version=str(IJ.getVersion()),
        ij_jar=jar.resolve(), fiji_dir=None, startup_seconds=0.0, ij=ij_instance,
    )


def _headless_setup(scyjava, jar: Path | None) -> None:
    """Make plain ImageJ 1.x usable with ``java.awt.headless=true``.

    ``IJ.run`` first builds the menus, which throws ``HeadlessException`` without a display.
    We give ImageJ a command table filled from ``IJ_Props.txt`` (most built-in commands:
    filters, stacks, conversions ...) so that ``IJ.run`` works, and switch on macro batch
    mode so that images "shown" from Python are found by title (``WindowManager``).
    """
    Menus = scyjava.jimport("ij.Menus")
    Hashtable = scyjava.jimport("java.util.Hashtable")
    Interpreter = scyjava.jimport("ij.macro.Interpreter")
    if Menus.getCommands() is None:
        table = Hashtable()
        for label, cls in _ij_props_commands(jar).items():
            table.put(label, cls)
        field_ = Menus.class_.getDeclaredField("pluginsTable")
        field_.setAccessible(True)
        field_.set(None, table)
    Interpreter.batchMode = True


def _ij_props_commands(jar: Path | None) -> dict[str, str]:
    out: dict[str, str] = {}
    if jar is None:
        return out
    try:
        with zipfile.ZipFile(jar) as zf:
            text = zf.read("IJ_Props.txt").decode("latin-1")
    except (OSError, KeyError, zipfile.BadZipFile):
        return out
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if not sep or not value.startswith('"'):
            continue
        label, sep, cls = value[1:].partition('",')
        if sep and cls.strip():
            out[label] = cls.strip()
    return out


def _start_fiji(fiji: Path, mode, max_memory, java_home) -> ImageJSession:
    scyjava = _import_scyjava()
    if not (fiji / "jars").is_dir():
        raise ImageJUnavailable(
            f"{fiji} is not a Fiji folder (no jars/ inside); give the path of Fiji.app"
        )
    try:
        import imagej
    except ImportError:
        raise ImageJUnavailable(
            "starting a local Fiji needs pyimagej: `pip install 'pcfij[imagej]'`"
        ) from None
    _prepare_jvm(scyjava, java_home, max_memory, [])
    try:
        gateway = imagej.init(str(fiji.resolve()), mode=mode)
    except Exception as exc:
        raise ImageJUnavailable(f"Fiji at {fiji} could not start: {exc}") from None
    IJ = scyjava.jimport("ij.IJ")
    GraphicsEnvironment = scyjava.jimport("java.awt.GraphicsEnvironment")
    headless = bool(GraphicsEnvironment.isHeadless()) or mode == "headless"
    ij_instance = IJ.getInstance()
    if not headless and ij_instance is None:
        ImageJ = scyjava.jimport("ij.ImageJ")
        ij_instance = ImageJ() if mode == "gui" else ImageJ(ImageJ.NO_SHOW)
    if headless:
        scyjava.jimport("ij.macro.Interpreter").batchMode = True
    return ImageJSession(
        mode=mode, headless=headless, version=str(IJ.getVersion()), ij_jar=None,
        fiji_dir=fiji.resolve(), startup_seconds=0.0, ij=ij_instance, gateway=gateway,
    )


def _register(sess: ImageJSession) -> None:
    from pcfij.imagej import bridge

    bridge.register_commands(sess)
    sess.commands_registered = True
