"""Every third-party import is declared in pyproject.toml, so a fresh machine installs it.

A package that happens to be in the developer's virtualenv but not in the project's dependencies passes every
other test here and fails CI on a clean clone; this test catches that before a commit.
"""

from __future__ import annotations

import ast
import importlib.metadata
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PRODUCT_PACKAGES = ("tools", "store", "retrieval", "agent", "service", "evals", "research", "api", "cli", "prompts")
DEV_PACKAGES = ("tests", "benchmarks")
LOCAL_MODULES = set(PRODUCT_PACKAGES + DEV_PACKAGES)
# Imported only by scripts that run in a virtualenv of their own (see the Makefile), never in SciSynth's.
OWN_VIRTUALENV = {"optimum": "benchmarks/export_onnx.py (`make onnx-models`: optimum pins an older transformers)"}
# Extras for optional features: product code checks they are installed before importing them and says what to
# install when they are not (`scisynth train` needs `train`; MLflow tracking is skipped without `tracking`; a
# PostgreSQL URL needs `postgres`; a Redis URL needs `scale`).
OPTIONAL_FEATURES = ("train", "tracking", "scale", "postgres", "ray")


def _declared() -> tuple[set[str], set[str]]:
    """(what the product may import: runtime dependencies and optional features' extras, everything declared)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    optional = project.get("optional-dependencies", {})
    main = {canonicalize_name(Requirement(spec).name) for spec in project["dependencies"]} | {
        canonicalize_name(Requirement(spec).name) for feature in OPTIONAL_FEATURES for spec in optional[feature]}
    extras = {
        canonicalize_name(Requirement(spec).name)
        for specs in project.get("optional-dependencies", {}).values()
        for spec in specs
    }
    return main, main | extras


def _imported_modules(folders: tuple[str, ...]) -> dict[str, Path]:
    """Top-level third-party module name -> one file importing it."""
    found: dict[str, Path] = {}
    for folder in folders:
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    if top not in sys.stdlib_module_names | LOCAL_MODULES | set(OWN_VIRTUALENV) | {"__future__"}:
                        found.setdefault(top, path.relative_to(ROOT))
    return found


def _undeclared(folders: tuple[str, ...], declared: set[str]) -> list[str]:
    distributions = importlib.metadata.packages_distributions()
    missing = []
    for module, path in sorted(_imported_modules(folders).items()):
        providers = {canonicalize_name(name) for name in distributions.get(module, [])}
        if not providers & declared:
            missing.append(f"{module} (imported in {path}; installed from {sorted(providers) or 'nothing'})")
    return missing


def test_product_imports_are_runtime_dependencies() -> None:
    main, _ = _declared()
    assert _undeclared(PRODUCT_PACKAGES, main) == []


def test_test_and_benchmark_imports_are_declared() -> None:
    _, everything = _declared()
    assert _undeclared(DEV_PACKAGES, everything) == []
