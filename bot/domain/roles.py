"""Roles and what each may do (DOMAIN.md, "People and roles").

Pure policy: the services ask these functions and raise when the answer is no.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    APPROVER = "approver"
    MEMBER = "member"
    VIEWER = "viewer"

    @property
    def rank(self) -> int:
        """Higher is more powerful; used to order lists, never to decide permissions."""
        return len(Role) - list(Role).index(self)

    @property
    def label(self) -> str:
        return self.value.capitalize()


ROLE_DESCRIPTIONS: dict[Role, str] = {
    Role.OWNER: "everything, including granting admin and owner",
    Role.ADMIN: "everything except granting admin or owner",
    Role.APPROVER: "view everything and approve or deny requests",
    Role.MEMBER: "view and act on the customers assigned to them; submit requests",
    Role.VIEWER: "read-only",
}

# Roles an admin may hand out, and may take away from others.
ADMIN_GRANTABLE: frozenset[Role] = frozenset({Role.APPROVER, Role.MEMBER, Role.VIEWER})


def parse_role(text: str) -> Role | None:
    try:
        return Role(text.strip().lower())
    except ValueError:
        return None


def can_manage_roles(role: Role | None) -> bool:
    return role in (Role.OWNER, Role.ADMIN)


def why_role_change_refused(
    *, actor: Role | None, current: Role | None, new: Role | None
) -> str | None:
    """None when `actor` may move someone from `current` to `new` (None = no role)."""
    if actor == Role.OWNER:
        return None
    if actor == Role.ADMIN:
        if new is not None and new not in ADMIN_GRANTABLE:
            return f"Only an owner can grant the {new.value} role."
        if current is not None and current not in ADMIN_GRANTABLE:
            return f"Only an owner can change the role of an {current.value}."
        return None
    return "Only owners and admins can change roles."


def can_act_on_alerts(role: Role | None) -> bool:
    """Everyone on staff but viewers may acknowledge, resolve and snooze alerts;
    members only their assigned customers' (the alert service checks which)."""
    return role is not None and role is not Role.VIEWER
