"""One mapping from error code to category, decided by the engine, through all three front
ends: for every code of the engine's list, the Python exception class is the class of the
code's category (or a subclass of it) and the C library (the real ``libcaas.so``) returns the
category's status, so that no front end can drift from the others."""

from __future__ import annotations

import ctypes
import os
import re
from pathlib import Path

import pytest

import caas
from caas import errors
from conftest import CLASS_OF_CATEGORY, ROOT

#: The C status of each category, by its name in include/caas.h.
STATUS_OF_CATEGORY = {
    "definition": "CAAS_ERR_DEFINITION",
    "data": "CAAS_ERR_DATA",
    "invalid_argument": "CAAS_ERR_INVALID_ARGUMENT",
    "engine": "CAAS_ERR_ENGINE",
    "internal": "CAAS_ERR_INTERNAL",
}

CODES = sorted(errors.error_codes().items())


def header_statuses() -> dict[str, int]:
    """The values of the statuses, as the header gives them to C programs."""
    header = (ROOT / "include" / "caas.h").read_text(encoding="utf-8")
    body = header[header.index("typedef enum CaasStatus {") : header.index("} CaasStatus;")]
    found = re.findall(r"^\s*(CAAS_\w+) = (\d+),", body, re.MULTILINE)
    return {name: int(value) for name, value in found}


@pytest.fixture(scope="module")
def libcaas() -> ctypes.CDLL:
    """The C library that `cargo build -p caas-ffi` built (scripts/test-python.sh builds it)."""
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    lib = ctypes.CDLL(str(target / "debug" / "libcaas.so"))
    lib.caas_error_code_status.argtypes = [ctypes.c_char_p]
    lib.caas_error_code_status.restype = ctypes.c_int
    return lib


def test_every_category_has_a_class_and_a_status() -> None:
    categories = set(errors.error_codes().values())
    assert categories == set(CLASS_OF_CATEGORY) == set(STATUS_OF_CATEGORY)
    statuses = header_statuses()
    assert len({statuses[name] for name in STATUS_OF_CATEGORY.values()}) == len(categories)


def test_the_intended_categories() -> None:
    codes = errors.error_codes()
    assert (codes["unknown_person"], codes["invalid_option"]) == ("data", "invalid_argument")
    assert (codes["resources_exhausted"], codes["internal"]) == ("engine", "internal")


@pytest.mark.parametrize(("code", "category"), CODES, ids=[code for code, _ in CODES])
def test_a_code_has_its_category_in_python_and_in_c(
    code: str, category: str, libcaas: ctypes.CDLL
) -> None:
    # Python: the exception that the bindings raise for an error of the engine.
    err = errors.from_core("message", code=code, category=category)
    assert (err.code, err.category) == (code, category)
    assert isinstance(err, CLASS_OF_CATEGORY[category])
    others = [cls for name, cls in CLASS_OF_CATEGORY.items() if name != category]
    assert not isinstance(err, tuple(others)), type(err).__mro__
    assert isinstance(err, caas.CaasError)
    # C: the status the library returns errors of this code with.
    assert (
        libcaas.caas_error_code_status(code.encode())
        == header_statuses()[STATUS_OF_CATEGORY[category]]
    )
