"""Layering of the pcfij package, read from the source with ``ast`` (issue #14).

Three rules:

1. The engines (``pcfij.pcf``, ``pcfij.ccc``, ``pcfij.shift``, ``pcfij.kernels``,
   ``pcfij.simulate``) never import the adapters or the file layer (``pcfij.cli``,
   ``pcfij.commands``, ``pcfij.imagej``, ``pcfij.blocks``, ``pcfij.io``).
2. No import cycles among pcfij modules.
3. The kernels (``pcfij.kernels``) import none of the analyses or adapters above them.

An import is any ``import``/``from ... import`` anywhere in a module (also inside functions:
a lazy import is still a dependency), and any string constant naming a pcfij module the
way ``importlib`` is handed one (``"pcfij.cli.pcf:run_pcf"``, ``"pcfij.cli.pcf"``).
Importing ``pcfij.a.b`` is an edge to ``pcfij.a.b`` only (not to the package ``pcfij.a``,
which Python also runs; counting that would make every package a cycle).

Edges that break a rule today are listed in ``KNOWN_UPWARD`` and ``KNOWN_CYCLES`` with the
issue that removes them: everything else is checked strictly, and a listed edge that is no
longer there is reported so the list only shrinks.
"""

from __future__ import annotations

import ast
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "pcfij"
ENGINES = ("pcfij.pcf", "pcfij.ccc", "pcfij.shift", "pcfij.kernels", "pcfij.simulate")
ADAPTERS = ("pcfij.cli", "pcfij.imagej", "pcfij.blocks", "pcfij.io", "pcfij.commands")

#: engine -> adapter imports that exist today, each with the issue that removes it
KNOWN_UPWARD: dict[tuple[str, str], str] = {}

#: imports that close a cycle today, each with the issue that removes it: the cycle test
#: drops these edges and needs the rest to be acyclic, so any new cycle fails
KNOWN_CYCLE_EDGES: dict[tuple[str, str], str] = {
}


def module_name(path: Path, root: Path = ROOT) -> str:
    rel = path.relative_to(root).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def all_modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _target(name: str, modules: dict[str, Path]) -> str | None:
    """The pcfij module ``name`` refers to (itself, or its closest existing parent)."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Every pcfij module that module ``name`` (file ``path``) imports."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_pkg = path.name == "__init__.py"
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                out.add(_target(alias.name, modules) or "")
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = name.split(".")
                base = base if is_pkg else base[:-1]
                base = base[: len(base) - (node.level - 1)]
                src = ".".join(base + ([node.module] if node.module else []))
            else:
                src = node.module or ""
            for alias in node.names:
                sub = f"{src}.{alias.name}"
                out.add(sub if sub in modules else (_target(src, modules) or ""))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value.split(":", 1)[0]
            if text.startswith("pcfij.") and text.replace(".", "").replace("_", "").isalnum():
                if text in modules:  # only exact module names: not prose in docstrings
                    out.add(text)
    out.discard("")
    out.discard(name)
    return {m for m in out if m == "pcfij" or m.startswith("pcfij.")}


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    modules = all_modules()
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def _in(module: str, packages) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def test_the_graph_sees_known_imports(graph):
    # the parser itself: edges that are certainly there (or the rules below prove nothing)
    assert "pcfij.kernels.pcf_plan" in graph["pcfij.kernels.pcf_cpu"]
    assert "pcfij.kernels.backend" in graph["pcfij.kernels"]
    assert "pcfij.pcf.result" in graph["pcfij.pcf.ipcf"]
    assert "pcfij.errors" in graph["pcfij.kernels.backend"]
    assert len(graph) > 50


def test_the_parser_finds_every_kind_of_import(tmp_path):
    pkg = tmp_path / "pcfij"
    (pkg / "a").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "a" / "__init__.py").write_text("from . import b\n")
    (pkg / "a" / "b.py").write_text(
        "import pcfij.c\n"
        "from ..d import thing\n"
        "def f():\n    from pcfij.a import c2\n"
        "RUN = 'pcfij.e:run'\n"
        "DOC = 'see pcfij.e for more'\n"
    )
    for m in ("c.py", "d.py", "e.py", "a/c2.py"):
        (pkg / m).write_text("")
    mods = {module_name(p, tmp_path): p for p in pkg.rglob("*.py")}
    got = imports_of("pcfij.a.b", pkg / "a" / "b.py", mods)
    init = imports_of("pcfij.a", pkg / "a" / "__init__.py", mods)
    assert got == {"pcfij.c", "pcfij.d", "pcfij.a.c2", "pcfij.e"}
    assert init == {"pcfij.a.b"}


def test_engines_never_import_adapters_or_files(graph):
    found = {(src, dst) for src, deps in graph.items() if _in(src, ENGINES)
             for dst in deps if _in(dst, ADAPTERS)}
    new = sorted(found - set(KNOWN_UPWARD))
    assert not new, (
        "engine modules import the adapter/file layer (pass data in, return results out "
        f"instead): {new}"
    )
    stale = sorted(set(KNOWN_UPWARD) - found)
    if stale:
        warnings.warn(f"KNOWN_UPWARD lists edges that are gone; remove them: {stale}",
                      UserWarning, stacklevel=1)


def test_kernels_are_the_bottom_layer(graph):
    # the analyses sit on the kernels, never the other way round
    above = ("pcfij.pcf", "pcfij.ccc", "pcfij.shift", "pcfij.simulate", "pcfij.params",
             "pcfij.outputs", "pcfij.plot") + ADAPTERS
    found = sorted((src, dst) for src, deps in graph.items() if _in(src, ("pcfij.kernels",))
                   for dst in deps if _in(dst, above))
    assert not found, f"kernel modules import the layers above them: {found}"


def test_calibration_is_a_leaf(graph):
    # engines' presentations, outputs, io and the adapters all take Calibration from here
    assert graph["pcfij.calibration"] == set()
    assert "pcfij.calibration" in graph["pcfij.pcf.present"]
    assert "pcfij.calibration" in graph["pcfij.ccc.present"]


def strongly_connected(graph: dict[str, set[str]]) -> list[tuple[str, ...]]:
    """Tarjan's algorithm (iterative); the components with more than one module, sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, it = work[-1]
            advanced = False
            for nxt in it:
                if nxt not in graph:
                    continue
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph[nxt]))))
                    advanced = True
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    m = stack.pop()
                    on_stack.discard(m)
                    comp.append(m)
                    if m == node:
                        break
                if len(comp) > 1:
                    out.append(tuple(sorted(comp)))
    return sorted(out)


def test_cycle_finder_on_a_known_graph():
    g = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"f"}, "f": {"e"},
         "g": {"g"}}
    assert strongly_connected(g) == [("a", "b", "c"), ("e", "f")]


def test_no_import_cycles(graph):
    present = {(src, dst) for src, deps in graph.items() for dst in deps}
    cut = {src: deps - {dst for s, dst in KNOWN_CYCLE_EDGES if s == src}
           for src, deps in graph.items()}
    cycles = strongly_connected(cut)
    assert not cycles, (
        "import cycles among pcfij modules (each tuple imports itself round): "
        f"{cycles}; move what both sides need into a module below them"
    )
    stale = sorted(set(KNOWN_CYCLE_EDGES) - present)
    if stale:
        warnings.warn(f"KNOWN_CYCLE_EDGES lists imports that are gone; remove them: {stale}",
                      UserWarning, stacklevel=1)
