"""The import contract (``.importlinter``, run by ``make test`` as ``lint-imports``) fails on
the imports it exists to refuse: the repository's own config, checked against a small tree of
the same packages with one bad import at a time."""

import configparser
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APPS = ("lms", "accounts", "notifications", "commerce", "segments", "campaigns", "loyalty", "promotions", "console")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _named_modules() -> set[str]:
    """The app modules the config names (a contract refuses to run on a module that is missing)."""
    config = configparser.ConfigParser()
    config.read(ROOT / ".importlinter")
    names = set()
    for section in config.sections():
        for option in ("source_modules", "forbidden_modules"):
            names.update(line.strip() for line in config[section].get(option, "").splitlines() if line.strip())
    return {name for name in names if name.split(".")[0] in APPS}


def _package(base: Path, name: str) -> None:
    parts = name.split(".")
    for depth in range(1, len(parts) + 1):
        package = base.joinpath(*parts[:depth])
        package.mkdir(exist_ok=True)
        (package / "__init__.py").touch()


def _module(base: Path, name: str, source: str) -> None:
    package, _, module = name.rpartition(".")
    _package(base, package)
    base.joinpath(*package.split("."), f"{module}.py").write_text(source)


def _tree(base: Path, bad: dict[str, str]) -> Path:
    """The apps and the modules the config names, as empty modules; a few imports that keep to
    the rules; and the modules in ``bad``."""
    for name in [*APPS, *_named_modules()]:
        _package(base, name)
    _module(base, "campaigns.engine.evaluate", "import decimal\nfrom campaigns.engine import money\n")
    _module(base, "campaigns.engine.money", "import decimal\n")
    _module(base, "campaigns.models", "import django.db\nimport commerce.models\n")
    _module(base, "loyalty.services", "import campaigns.models\nimport campaigns.engine\nimport lms.forms\n")
    for module, source in bad.items():
        _module(base, module, source)
    shutil.copy(ROOT / ".importlinter", base / ".importlinter")
    return base


def _lint(base: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo"],
        cwd=base,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(base)},
    )


def test_the_contract_passes_a_tree_that_imports_downward_only(tmp_path):
    answer = _lint(_tree(tmp_path, {}))

    assert answer.returncode == 0, answer.stdout + answer.stderr
    assert "3 kept, 0 broken" in answer.stdout


@pytest.mark.parametrize(
    ("module", "source", "broken"),
    [
        ("commerce.services", "import loyalty.models\n", "Apps import one way"),
        ("lms.db", "from promotions import models\n", "Apps import one way"),
        ("campaigns.engine.rules", "from django.db import models\n", "campaigns.engine is pure"),
        ("campaigns.engine.money", "import campaigns.models\n", "campaigns.engine is pure"),
        ("campaigns.engine.evaluate", "import redis\n", "campaigns.engine is pure"),
        ("loyalty.admin.programs", "from campaigns.forms import CampaignForm\n", "never its api, admin or forms"),
        ("loyalty.api.views", "from commerce.api import ApiKeyAuthentication\n", "never its api, admin or forms"),
    ],
    ids=[
        "upward",
        "project-package-upward",
        "engine-django",
        "engine-app",
        "engine-package",
        "lower-forms",
        "lower-api",
    ],
)
def test_the_contract_fails_on_an_import_it_forbids(tmp_path, module, source, broken):
    answer = _lint(_tree(tmp_path, {module: source}))

    assert answer.returncode == 1, answer.stdout + answer.stderr
    assert "1 broken" in answer.stdout
    assert broken in " ".join(answer.stdout.split())


def test_the_repository_keeps_its_contract():
    answer = subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )

    assert answer.returncode == 0, answer.stdout + answer.stderr
