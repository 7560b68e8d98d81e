"""What the wheel carries: the product's packages, and none of the development tools."""

import configparser
from pathlib import Path

from setuptools import find_packages

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = {"gateway", "workers", "schemas", "telemetry"}
CHECKOUT_ONLY = {"bench", "drills", "devstack", "tests"}  # run from a checkout, never installed


def wheel_packages():
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    include = config["options.packages.find"]["include"].split()
    return find_packages(ROOT, include=include)


def test_the_wheel_carries_the_product_packages_whole():
    packages = wheel_packages()
    assert {name.split(".")[0] for name in packages} == PRODUCT
    for top in PRODUCT:  # every subpackage, so nothing the services import is left behind
        on_disk = {".".join(p.relative_to(ROOT).parts[:-1]) for p in (ROOT / top).rglob("__init__.py")}
        assert on_disk <= set(packages), on_disk - set(packages)


def test_every_top_level_package_is_either_shipped_or_a_development_tool():
    tops = {p.parent.name for p in ROOT.glob("*/__init__.py")}
    assert tops - PRODUCT - CHECKOUT_ONLY == set(), "a new top-level package: ship it or list it as checkout-only"
