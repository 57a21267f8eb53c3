"""Package discovery for the wheel (the rest of the build is in pyproject.toml).

The folders are the subpackages of `dlaforge` through pyproject.toml's
[tool.setuptools.package-dir] (dlaforge.sim -> sim/, dlaforge.hw -> hw/, ...). setuptools'
`packages.find` cannot map a found folder to another package root, so the packages are found
here: every folder under a root that holds an __init__.py, named by the root's package. A new
subpackage is in the wheel without being listed anywhere (tests/core/test_packaging.py checks
that no folder of modules lacks its __init__.py, which discovery would leave out).
"""

import tomllib
from pathlib import Path

from setuptools import find_packages, setup

ROOT = Path(__file__).resolve().parent


def package_dir() -> dict[str, str]:
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["tool"]["setuptools"]["package-dir"]


def discover() -> list[str]:
    """Every package of the distribution: each root of package_dir() and the folders with an
    __init__.py below it, as dotted names under the root's package."""
    found = set()
    for package, folder in package_dir().items():
        found.add(package)
        found.update(f"{package}.{sub}" for sub in find_packages(str(ROOT / folder)))
    return sorted(found)


if __name__ == "__main__":
    setup(packages=discover())
