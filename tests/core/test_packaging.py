"""The wheel holds every subpackage: pyproject.toml lists packages by hand (the folders map to
dlaforge.* through package-dir), so a new folder with an __init__.py must be listed too, or a
non-editable install leaves it out while editable installs and the tests still work."""

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_package_folder_is_in_the_wheel():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    roots = config["package-dir"]               # "dlaforge.sim" -> "sim", ...
    found = set()
    for package, folder in roots.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            if "__pycache__" in init.parts:
                continue
            rel = init.parent.relative_to(ROOT / folder).parts
            found.add(".".join((package,) + rel))
    assert found - listed == set(), "packages missing from pyproject.toml's list"
    assert listed - found == set(), "listed packages without an __init__.py"
