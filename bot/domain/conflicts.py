"""Which changes of one account cannot both be open (pending or scheduled): the
later one is refused when it is asked and when it is approved, naming the other.
Pairs not listed stack, and the scheduled ones apply on the renewal date in the
order they were approved (see docs/REQUESTS.md). Pure."""

from __future__ import annotations

from typing import Any

from bot.domain.requests import RequestType

T = RequestType

# Why each pair cannot both go ahead, in a few words people read.
_CONFLICTS: dict[frozenset[RequestType], str] = {
    frozenset(
        {T.CANCEL, T.DOWNGRADE}
    ): "a cancelled plan ends at renewal, so it cannot also move down then",
    frozenset(
        {T.CANCEL, T.DECREASE_LICENCES}
    ): "a cancelled plan ends at renewal, so it keeps no licences to decrease",
    frozenset({T.CANCEL, T.REMOVE_ADDON}): "a cancellation removes every add-on at renewal already",
    frozenset({T.CANCEL, T.UPGRADE}): "one ends the paid plan and the other moves it up",
    frozenset({T.UPGRADE, T.DOWNGRADE}): "one moves the plan up and the other down",
    frozenset(
        {T.REMOVE_EXPIRED_TRIAL, T.TRIAL_EXTENSION}
    ): "one removes the trial and the other extends it",
    frozenset(
        {T.REMOVE_EXPIRED_TRIAL, T.UPGRADE}
    ): "one removes the trial and the other upgrades it",
}
_DELETION = "the account is to be deleted"
_SAME_ADD_ON = "one adds this add-on and the other removes it"


def conflict(
    kind: RequestType,
    details: dict[str, Any],
    other: RequestType,
    other_details: dict[str, Any],
    *,
    other_scheduled: bool,
) -> str | None:
    """Why `kind` cannot be open next to `other` (None: they stack). Upgrading or
    reactivating a plan whose cancellation is scheduled is not a conflict: it
    withdraws the cancellation (R17)."""
    if other is T.CANCEL and other_scheduled and kind in (T.UPGRADE, T.REACTIVATE):
        return None
    if T.DELETE_ACCOUNT in (kind, other) and kind is not other:
        return _DELETION
    if {kind, other} == {T.ADD_ADDON, T.REMOVE_ADDON}:
        same = details.get("add_on") == other_details.get("add_on")
        return _SAME_ADD_ON if same else None
    return _CONFLICTS.get(frozenset({kind, other}))
