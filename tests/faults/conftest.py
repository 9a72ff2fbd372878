"""``fault_report``: what a fault test injected, and whether troika survived it,
as a line of ``$TROIKA_REPORT_DIR/fault.jsonl`` (see tests/_report.py).

A test names its fault (``fault_report.inject("anvil SIGKILLed ...")``) and
may add what happened (``fault_report.detail = "..."``); the outcome is the
test's own: ``survived`` if it passed, ``failed`` if it failed or errored. A
test that names no fault records nothing."""

from __future__ import annotations

import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field

import pytest

from tests._report import record

_CALL = pytest.StashKey[pytest.TestReport]()


@dataclass
class FaultReport:
    """The faults one test injected (in order) and what came of them."""

    faults: list[str] = field(default_factory=list)
    detail: str = ""

    def inject(self, fault: str) -> None:
        """Note a fault the test is about to inject (a short description)."""
        self.faults.append(fault)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.when == "call":
        item.stash[_CALL] = report
    return report


@pytest.fixture
def fault_report(request: pytest.FixtureRequest) -> Iterator[FaultReport]:
    report = FaultReport()
    started = time.monotonic()
    yield report
    if not report.faults:
        return
    call = request.node.stash.get(_CALL, None)
    outcome = "survived" if call is not None and call.passed else "failed"
    detail = report.detail
    if call is not None and call.failed:
        crash = getattr(call.longrepr, "reprcrash", None)
        message = crash.message if crash is not None else str(call.longrepr)
        detail = (detail + " | " if detail else "") + message.splitlines()[0]
    record(
        "fault",
        "; then ".join(report.faults),
        outcome,
        detail,
        test=request.node.name,
        seconds=round(time.monotonic() - started, 2),
    )
