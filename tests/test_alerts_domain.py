"""The pure rules of alerts: severities and their order, statuses, dedup keys, links."""

from __future__ import annotations

import pytest

from bot.domain.alerts import (
    BUILT_IN_KINDS,
    MAX_KIND,
    AlertStatus,
    Severity,
    default_dedup_key,
    is_link_url,
    text_problems,
    worst,
)
from bot.domain.customers import stored_account_number


def test_severities_rank_critical_highest():
    ordered = sorted(Severity, key=lambda severity: severity.rank, reverse=True)
    assert [s.value for s in ordered] == ["critical", "high", "medium", "low", "info"]
    assert len({severity.rank for severity in Severity}) == 5


@pytest.mark.parametrize(
    ("severity", "other", "at_least"),
    [
        (Severity.CRITICAL, Severity.INFO, True),
        (Severity.HIGH, Severity.HIGH, True),  # its own level counts
        (Severity.MEDIUM, Severity.HIGH, False),
        (Severity.INFO, Severity.LOW, False),
        (Severity.LOW, Severity.INFO, True),
    ],
)
def test_at_least(severity, other, at_least):
    assert severity.at_least(other) is at_least


def test_worst_keeps_the_worse():
    assert worst(Severity.LOW, Severity.CRITICAL) is Severity.CRITICAL
    assert worst(Severity.HIGH, Severity.MEDIUM) is Severity.HIGH
    assert worst(Severity.INFO, Severity.INFO) is Severity.INFO


def test_only_resolved_is_closed():
    assert [status.value for status in AlertStatus if status.is_open] == [
        "firing",
        "acknowledged",
        "snoozed",
    ]


def test_built_in_kinds_fit_the_kind_limit():
    assert {"max_mau_reached", "over_free_limits", "agents_not_reporting"} == BUILT_IN_KINDS
    assert all(len(kind) <= MAX_KIND for kind in BUILT_IN_KINDS)


def test_the_default_dedup_key_is_kind_and_account():
    assert default_dedup_key("disk_full", "ABCD-1234") == "disk_full:ABCD-1234"


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://rmm.example/jobs/7", True),
        ("HTTP://rmm.example", True),
        ("https://", False),
        ("javascript:alert(1)", False),
        ("slack://open", False),
        ("ftp://files.example", False),
        ("rmm.example/jobs/7", False),
    ],
)
def test_links_are_web_links(url, allowed):
    assert is_link_url(url) is allowed


@pytest.mark.parametrize(
    ("text", "stored"),
    [("abcd-1234", "ABCD-1234"), (" ABCD1234 ", "ABCD-1234"), ("Acme Dental", None), ("", None)],
)
def test_account_numbers_typed_loosely(text, stored):
    assert stored_account_number(text) == stored


def test_text_problems_name_each_field_too_long_or_missing():
    assert text_problems(kind="disk_full", title="Disk full", details="", dedup_key=None) == []
    assert text_problems(kind="k" * 41, title=" ", details="d" * 4001, dedup_key="x" * 201) == [
        "kind can be at most 40 characters (41 given).",
        "details can be at most 4000 characters (4001 given).",
        "dedup key can be at most 200 characters (201 given).",
        "Give the title.",
    ]
