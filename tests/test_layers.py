"""The package's structure: no import cycles, runtime code apart from development tools, a
leaf config, and one module that owns the report folder's format.

Every module under ``lecturelens/`` is parsed with :mod:`ast`; imports at module level and
inside functions count alike (a function-level import is a dependency all the same, only
a later one). A package's ``__init__`` is a node of its own.

The package root (``lecturelens/__init__.py``) is the one exception: Python runs it before
any module of the package, so every module depends on it whether it says so or not, and an
edge to it (``from lecturelens import __version__``) adds nothing. It is left out as a
target; :func:`test_package_root_is_a_thin_facade` checks that it imports only leaves at
import time, so that it cannot close a cycle.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "lecturelens"
ROOT = "lecturelens"
#: The one module that spells the report folder's file names.
OWNER = "lecturelens.reportfiles"
#: The report folder's files (see :mod:`lecturelens.reportfiles`).
REPORT_FILES = ("observations.csv", "emotion_features.npy", "tracks.csv", "students.csv",
                "student_embeddings.npy", "roster.csv", "run.json", "windows.csv",
                "group.csv", "gifs.csv", "window_features.npy", "group_features.npy",
                "timeline.png", "report.html", ".lecturelens.lock")


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


MODULES = _modules()


def _resolve(name: str) -> str | None:
    """The package-internal module ``name`` denotes (the longest known prefix)."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in MODULES:
            return candidate
        parts.pop()
    return None


def _imports(module: str, top_level_only: bool = False) -> list[tuple[str, int]]:
    """``(imported module, line)`` for every package-internal import of ``module`` (the
    package root left out, see the module docs)."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    is_package = path.name == "__init__.py"
    out = []
    for node in (tree.body if top_level_only else ast.walk(tree)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == ROOT or alias.name.startswith(ROOT + "."):
                    out.append((_resolve(alias.name), node.lineno))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                pkg = module.split(".") if is_package else module.split(".")[:-1]
                pkg = pkg[:len(pkg) - (node.level - 1)]
                base = ".".join(pkg + ([base] if base else []))
            if not (base == ROOT or base.startswith(ROOT + ".")):
                continue
            for alias in node.names:
                # ``from a import b``: b is a module of its own, or a name inside a.
                sub = f"{base}.{alias.name}"
                out.append((sub if sub in MODULES else _resolve(base), node.lineno))
    return [(m, line) for m, line in out if m not in (None, module, ROOT)]


GRAPH = {m: _imports(m) for m in MODULES}


def _is_dev(module: str) -> bool:
    return module == f"{ROOT}.dev" or module.startswith(f"{ROOT}.dev.")


def _find_cycle(graph: dict[str, list[tuple[str, int]]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        stack.append(m)
        for dep, _ in graph.get(m, []):
            if state.get(dep) == 1:
                return stack[stack.index(dep):] + [dep]
            if dep not in state and (found := visit(dep)):
                return found
        stack.pop()
        state[m] = 2
        return None

    for m in sorted(graph):
        if m not in state and (found := visit(m)):
            return found
    return None


def test_the_graph_sees_the_package():
    assert {"lecturelens.pipeline", "lecturelens.config", "lecturelens.cli",
            "lecturelens.emotion", OWNER} <= set(MODULES)
    # A package's own modules are found through ``from package import module`` too.
    deps = {d for d, _ in GRAPH["lecturelens.pipeline"]}
    assert "lecturelens.config" in deps and "lecturelens.emotion.worker" in deps


def test_package_root_is_a_thin_facade():
    leaves = {"lecturelens.config", "lecturelens.errors"}
    at_import = {d for d, _ in _imports(ROOT, top_level_only=True)}
    assert at_import <= leaves, at_import
    for leaf in leaves:
        assert {d for d, _ in GRAPH[leaf]} <= leaves - {leaf}


def test_no_import_cycles():
    cycle = _find_cycle(GRAPH)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_find_cycle_reports_one():
    graph = {"a": [("b", 1)], "b": [("c", 1)], "c": [("a", 1)], "d": [("a", 1)]}
    assert _find_cycle(graph) == ["a", "b", "c", "a"]
    assert _find_cycle({"a": [("b", 1)], "b": []}) is None


def test_runtime_never_imports_dev():
    bad = [f"{m}:{line} imports {dep}" for m, deps in GRAPH.items() if not _is_dev(m)
           for dep, line in deps if _is_dev(dep)]
    assert not bad, "\n".join(bad)


def test_inference_does_not_import_training():
    train = "lecturelens.emotion.train"
    reach = set()
    todo = ["lecturelens.pipeline", "lecturelens.emotion", "lecturelens.emotion.worker"]
    while todo:
        m = todo.pop()
        if m in reach:
            continue
        reach.add(m)
        todo += [d for d, _ in GRAPH.get(m, [])]
    assert train not in reach
    assert not any(_is_dev(m) for m in reach)


def test_config_is_a_leaf():
    deps = {d for d, _ in GRAPH["lecturelens.config"]}
    assert deps <= {"lecturelens.errors"}, deps


def _string_constants(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.value, node.lineno


def test_report_file_names_have_one_owner():
    """A report-folder file name is spelled (as a whole string) only by its owner; the
    others ask it (docstrings and messages may mention the files)."""
    names = set(REPORT_FILES)
    bad = [f"{m}:{line} spells {value!r}" for m, path in MODULES.items() if m != OWNER
           for value, line in _string_constants(path) if value in names]
    assert not bad, "\n".join(bad)
    owned = {value for value, _ in _string_constants(MODULES[OWNER])}
    assert names <= owned, names - owned


def test_runtime_commands_load_no_dev_or_training_code():
    """Runtime commands and the pipeline leave the development modules unloaded: the CLI
    loads them only for a development command (or to list them in ``lecturelens --help``)."""
    code = ("import sys\n"
            "from click.testing import CliRunner\n"
            "from lecturelens.cli import cli\n"
            "for args in (['analyze', '--help'], ['report', '--help'], ['config-sample']):\n"
            "    res = CliRunner().invoke(cli, args)\n"
            "    assert res.exit_code == 0, res.output\n"
            "import lecturelens.pipeline, lecturelens.report, lecturelens.batch\n"
            "bad = sorted(m for m in sys.modules if m.startswith('lecturelens.dev')\n"
            "             or m == 'lecturelens.emotion.train')\n"
            "assert not bad, bad\n"
            "res = CliRunner().invoke(cli, ['--help'])\n"
            "assert res.exit_code == 0, res.output\n"
            "assert 'train-emotion' in res.output and 'eval-people' in res.output\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]


@pytest.mark.parametrize("command", ["train-emotion", "soup-emotion", "eval-emotion",
                                     "eval-people"])
def test_dev_commands_still_answer(command):
    from click.testing import CliRunner

    from lecturelens.cli import cli

    res = CliRunner().invoke(cli, [command, "--help"])
    assert res.exit_code == 0, res.output
    assert "Usage:" in res.output
