"""The audit log's vocabulary (R22): actions, and actors that are not Slack users.

Services write events with `storage.repositories.audit.append`.
"""

from __future__ import annotations

from enum import StrEnum

# Actors that are not Slack users.
OPERATOR_ACTOR = "operator:cli"
BOOTSTRAP_ACTOR = "operator:MSPBOT_OWNERS"
SYSTEM_ACTOR = "system"
RENEWALS_ACTOR = "job:renewals"
INSTALL_ACTOR = "slack:app_install"


def job_actor(name: str) -> str:
    """How the audit log names a scheduler job (its id in scheduler/jobs)."""
    return f"job:{name}"


class AuditAction(StrEnum):
    MSP_CREATED = "msp.created"
    APP_INSTALLED = "app.installed"
    APP_UNINSTALLED = "app.uninstalled"
    ROLE_GRANTED = "role.granted"
    ROLE_CHANGED = "role.changed"
    ROLE_REVOKED = "role.revoked"
    CUSTOMER_CREATED = "customer.created"
    CUSTOMER_UPDATED = "customer.updated"
    CUSTOMER_RENEWED = "customer.renewed"
    CUSTOMER_DELETED = "customer.deleted"
    CUSTOMER_MAX_MAU_REACHED = "customer.max_mau_reached"
    CUSTOMER_USAGE_REPORTED = "customer.usage_reported"
    CUSTOMER_BILLING_UPDATED = "customer.billing_updated"
    CUSTOMER_BILLING_CORRECTED = "customer.billing_corrected"
    MAU_ALLOWANCE_ORDERED = "mau_allowance.ordered"
    API_TOKEN_CREATED = "api_token.created"
    API_TOKEN_REVOKED = "api_token.revoked"
    SETTINGS_UPDATED = "settings.updated"
    SUBSCRIPTION_CREATED = "subscription.created"
    SUBSCRIPTION_REMOVED = "subscription.removed"
    REQUEST_CREATED = "request.created"
    REQUEST_APPROVED = "request.approved"
    REQUEST_DENIED = "request.denied"
    REQUEST_WITHDRAWN = "request.withdrawn"
    REQUEST_EXPIRED = "request.expired"
    REQUEST_APPLIED = "request.applied"
    REQUEST_REVERSED = "request.reversed"
    ALERT_CREATED = "alert.created"
    ALERT_RESOLVED = "alert.resolved"
    ALERT_ACKNOWLEDGED = "alert.acknowledged"
    ALERT_SNOOZED = "alert.snoozed"
    ALERT_WOKEN = "alert.snooze_ended"
