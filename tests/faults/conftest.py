"""Fault tests: real processes and servers under injected failures. Each test reports what it
injected and what it observed through `fault_report`; the counts are printed at the end of
the run, so `make test` output carries them (issue #15 asks for the numbers, not just a pass)."""

from __future__ import annotations

from typing import Any

import pytest

_REPORTS: list[tuple[str, dict[str, Any]]] = []


@pytest.fixture
def fault_report(request: pytest.FixtureRequest) -> dict[str, Any]:
    counts: dict[str, Any] = {}
    _REPORTS.append((request.node.name, counts))
    return counts


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _REPORTS:
        return
    terminalreporter.section("fault tests: injected and observed")
    for name, counts in _REPORTS:
        terminalreporter.write_line(f"{name}: " + ", ".join(f"{k}={v}" for k, v in counts.items()))
