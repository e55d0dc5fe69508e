"""The layers, enforced: which package may import which (docs/architecture.md, "Packages").

Statically, every ``import`` in the source tree is checked against the table below; at run
time, importing every module of ``tui.core`` must leave Textual out of ``sys.modules``.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import PROJECT, scaled

# package -> top-level or dotted prefixes it must never import
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "agents": ("tui", "textual", "bench"),
    "tui.core": ("tui.ui", "tui.commands", "tui.cluster", "textual", "bench"),
    "tui.cluster": ("tui.ui", "tui.commands", "textual", "bench"),
    "tui.commands": ("bench",),
    "tui.ui": ("tui.commands", "tui.cluster", "bench"),
    # the dashboard bench drives the app itself, so bench may use tui.ui, never the commands
    "bench": ("tui.commands",),
    "tests": ("bench",),
}
BENCH_TESTS = "tests.test_bench_"
"""Unit tests of the benchmarks' own pure logic (rows, verdicts): the one exception to "tests
never import bench"."""


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PROJECT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> Iterator[tuple[int, str]]:
    """Every absolute module a file imports, at any depth (lazy imports count too)."""
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module
            for alias in node.names:  # ``from tui import events`` imports tui.events
                yield node.lineno, f"{node.module}.{alias.name}"


def _is_under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _package_of(module: str) -> str | None:
    matches = [package for package in FORBIDDEN if _is_under(module, package)]
    return max(matches, key=len) if matches else None


def _source_files() -> list[Path]:
    return sorted(
        path
        for top in ("agents", "tui", "bench", "tests")
        for path in (PROJECT / top).rglob("*.py")
        if "__pycache__" not in path.parts
    )


def test_no_layer_imports_a_layer_it_must_not() -> None:
    broken = []
    for path in _source_files():
        package = _package_of(_module_name(path))
        if package is None:
            continue
        banned_here = FORBIDDEN[package]
        if _module_name(path).startswith(BENCH_TESTS):
            banned_here = tuple(b for b in banned_here if b != "bench")
        for line, name in _imports(path):
            if any(_is_under(name, banned) for banned in banned_here):
                broken.append(f"{path.relative_to(PROJECT)}:{line} imports {name}")
    assert broken == []


def test_only_the_ui_package_imports_textual() -> None:
    allowed = ("tui.ui", "tests", "bench")
    offenders = [
        f"{path.relative_to(PROJECT)}:{line}"
        for path in _source_files()
        if not any(_is_under(_module_name(path), prefix) for prefix in allowed)
        for line, name in _imports(path)
        if _is_under(name, "textual")
    ]
    assert offenders == []


@pytest.mark.parametrize(
    "packages",
    [
        ("tui.core",),
        ("tui.cluster",),
        # the commands import the dashboard lazily, only when it is opened
        ("tui.commands.cli", "tui.commands.doctor", "tui.commands.api_server"),
    ],
)
def test_importing_leaves_textual_out(packages: tuple[str, ...]) -> None:
    code = (
        "import importlib, pkgutil, sys\n"
        f"for name in {list(packages)!r}:\n"
        "    module = importlib.import_module(name)\n"
        "    for info in pkgutil.walk_packages(getattr(module, '__path__', []), name + '.'):\n"
        "        if not info.name.endswith('__main__'):\n"
        "            importlib.import_module(info.name)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] == 'textual')\n"
        "assert not bad, bad\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=scaled(120),
        check=False,
    )
    assert done.returncode == 0, done.stderr
