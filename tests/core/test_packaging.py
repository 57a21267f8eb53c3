"""The wheel holds every subpackage. The folders map to dlaforge.* through pyproject.toml's
package-dir, and setup.py finds the packages under them (folders with an __init__.py); a
folder of modules without an __init__.py would be left out of a non-editable install while
editable installs and the tests still work (.ci/wheel_check builds and installs the wheel)."""

import importlib.util
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _setup_module():
    spec = importlib.util.spec_from_file_location("dlaforge_setup", ROOT / "setup.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)          # setup() itself runs only as a script
    return module


def _roots() -> dict[str, str]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-dir"]


def _folders_with_modules():
    """(package, folder) of every folder under a root that holds a module."""
    for package, folder in _roots().items():
        for source in (ROOT / folder).rglob("*.py"):
            if "__pycache__" in source.parts:
                continue
            rel = source.parent.relative_to(ROOT / folder).parts
            yield ".".join((package,) + rel), source.parent


def test_every_folder_of_modules_is_a_package():
    missing = sorted({str(folder.relative_to(ROOT)) for _, folder in _folders_with_modules()
                      if not (folder / "__init__.py").is_file()})
    assert missing == [], "folders of modules without an __init__.py (left out of the wheel)"


def test_setup_finds_every_package_folder():
    assert "packages" not in tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"][
        "setuptools"], "packages are discovered by setup.py, not listed"
    found = set(_setup_module().discover())
    assert {package for package, _ in _folders_with_modules()} <= found
    assert {"dlaforge", "dlaforge.sim", "dlaforge.hw", "dlaforge.hw.methods",
            "dlaforge.workloads", "dlaforge.workloads.methods", "dlaforge.reports"} <= found
