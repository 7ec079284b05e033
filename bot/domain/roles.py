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


# What each role may do, in plain words, said to the person ("you can ...") or of
# someone else ("they can ..."): the one wording wherever a role is explained.
_ABILITIES: dict[Role, str] = {
    Role.OWNER: "{can} do everything, including making someone an admin or owner",
    Role.ADMIN: "{can} do everything except make someone an admin or owner",
    Role.APPROVER: "{can} see every customer, approve or deny requests, and handle alerts",
    Role.MEMBER: "{can} see and work on the customers assigned to {whom}, add customers, "
    "and ask for changes by request",
    Role.VIEWER: "{can} see everything but change nothing",
}


def article(role: Role) -> str:
    """The article before the role's name: "an Owner", "a Member"."""
    return "an" if role.value[0] in "aeiou" else "a"


def what_you_can_do(role: Role) -> str:
    """Said to the person with the role: "you can see everything but change nothing"."""
    return _ABILITIES[role].format(can="you can", whom="you")


def what_they_can_do(role: Role) -> str:
    """Said of someone else: "they can see everything but change nothing"."""
    return _ABILITIES[role].format(can="they can", whom="them")


def a_role(role: Role) -> str:
    """The role as a sentence says it: "an owner", "a viewer"."""
    return f"{article(role)} {role.value}"


def roles_in_words(roles: frozenset[Role]) -> str:
    """Who has these roles, most powerful first, as a sentence says it: "owners and
    admins", "owners, admins and members"; "everyone on the staff" for every role."""
    if roles >= frozenset(Role):
        return "everyone on the staff"
    named = [f"{role.value}s" for role in sorted(roles, key=lambda role: -role.rank)]
    if len(named) < 2:
        return "".join(named) or "nobody"
    return f"{', '.join(named[:-1])} and {named[-1]}"


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
