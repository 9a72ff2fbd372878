"""A pytest plugin for the hardening report: the hypothesis tests, and how many examples each ran.

``tools/hardening_report.py --run`` loads it (``-p tests.hardening._property_report``)
with ``--hardening``: then only the fault tests, the hardening tests and the
property tests of the whole suite (``@given`` and stateful ones) run, and each
property test adds one ``property`` record (tests/_report.py) with the test
cases hypothesis ran for it (from its observability callbacks: examples
generated, replayed and shrunk, passing or not) and the test's outcome.
Without ``$TROIKA_REPORT_DIR`` it records nothing (tests/_report.py).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from tests._report import record

_CASES = pytest.StashKey[Counter[str]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--hardening",
        action="store_true",
        help="run only tests/faults, tests/hardening and the hypothesis tests",
    )


def is_property(item: pytest.Item) -> bool:
    """Whether ``item`` is driven by hypothesis (``@given`` or a state machine's TestCase)."""
    function = getattr(item, "obj", None)
    if getattr(function, "is_hypothesis_test", False):
        return True
    cls = getattr(item, "cls", None)
    return cls is not None and cls.__name__.endswith(".TestCase") and hasattr(cls, "settings")


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("--hardening"):
        # Observability traces coverage per test case unless told not to (slow before
        # Python 3.12); the environment variable that says so would also make
        # hypothesis write every observation under .hypothesis/observed.
        from hypothesis.internal import observability

        observability.OBSERVABILITY_COLLECT_COVERAGE = False


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not config.getoption("--hardening"):
        return
    keep, drop = [], []
    for item in items:
        path = item.nodeid.split("::", 1)[0]
        hardening = path.startswith(("tests/faults/", "tests/hardening/"))
        (keep if hardening or is_property(item) else drop).append(item)
    items[:] = keep
    if drop:
        config.hook.pytest_deselected(items=drop)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    if not is_property(item):
        return (yield)
    from hypothesis.internal.observability import (
        add_observability_callback,
        remove_observability_callback,
    )

    cases: Counter[str] = Counter()
    item.stash[_CASES] = cases

    def observe(observation: Any) -> None:
        if getattr(observation, "type", None) == "test_case":
            cases[str(getattr(observation, "status", "unknown"))] += 1

    add_observability_callback(observe)
    try:
        return (yield)
    finally:
        remove_observability_callback(observe)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when != "call":
        return
    item_cases = _reports.pop(report.nodeid, None)
    if item_cases is None:
        return
    outcome = "survived" if report.passed else "failed"
    total = sum(item_cases.values())
    record(
        "property",
        report.nodeid,
        outcome,
        f"{total} test cases" + ("" if report.passed else " (the test failed)"),
        suite=report.nodeid.split("::", 1)[0].removesuffix(".py").replace("/", "."),
        examples=total,
        statuses=dict(item_cases),
    )


_reports: dict[str, Counter[str]] = {}


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if call.when == "call" and _CASES in item.stash:
        _reports[item.nodeid] = item.stash[_CASES]
    return report
