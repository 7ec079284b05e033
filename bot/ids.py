"""Every identifier Slack routes on, in one place (commands, events, callback,
action and block ids). Handlers register on these; the manifest test checks them."""

from __future__ import annotations

from enum import StrEnum

from bot.domain.commercial import CommercialField
from bot.domain.customers import CustomerField

__all__ = [
    "ActionId",
    "BlockId",
    "CallbackId",
    "CommercialField",
    "CustomerField",
    "EventType",
    "SlashCommand",
]


class SlashCommand(StrEnum):
    MSP = "/msp"


class EventType(StrEnum):
    APP_HOME_OPENED = "app_home_opened"
    APP_UNINSTALLED = "app_uninstalled"
    TOKENS_REVOKED = "tokens_revoked"


class CallbackId(StrEnum):
    """Modals and global shortcuts."""

    ADD_CUSTOMER_SHORTCUT = "add_customer"
    ADD_CUSTOMER = "add_customer_modal"
    EDIT_CUSTOMER = "edit_customer_modal"
    DELETE_CUSTOMER = "delete_customer_modal"
    CORRECT_BILLING = "correct_billing_modal"
    FIND_CUSTOMER = "find_customer_modal"
    CUSTOMER_LIST = "customer_list_modal"  # a list opened from the Home tab
    LICENCE = "licence_modal"
    REQUEST_FORM = "request_modal"  # one modal per request type, told apart by its metadata
    DENY_REQUEST = "deny_request_modal"
    CONFIRM_DELETION = "confirm_deletion_modal"  # approving a deletion: type the name
    SUBSCRIPTION_FORM = "subscription_modal"
    ALERT_LIST = "alert_list_modal"  # a digest's "List all", each alert with its menu


class ActionId(StrEnum):
    HOME_ADD_CUSTOMER = "home_add_customer"
    EDIT_CUSTOMER = "customer_edit"
    DELETE_CUSTOMER = "customer_delete"
    CORRECT_BILLING = "customer_correct_billing"
    VIEW_CUSTOMER = "customer_view"
    PICK_CUSTOMER = "customer_pick"
    CUSTOMER_SEARCH = "customer_search"  # external_select type-ahead (options requests)
    LIST_PREVIOUS = "customers_previous"
    LIST_NEXT = "customers_next"
    LIST_SORT = "customers_sort"
    ROW_MENU = "customer_row_menu"  # the overflow menu on each list row
    HOME_OPEN_LIST = "home_open_list"
    HOME_REFRESH = "home_refresh"
    DASHBOARD_SHARE = "dashboard_share"
    LICENCE_CUSTOMER = "licence_customer"
    LICENCE_MONTH = "licence_month"
    LICENCE_EXTEND = "licence_extend"
    LICENCE_CHART = "licence_chart"  # "Post chart in this channel" (licence view, /msp mau)
    LICENCE_OPEN = "licence_open"  # a MAU notice's "Open licence": `/msp licence` below it
    REQUEST_APPROVE = "request_approve"
    REQUEST_DENY = "request_deny"
    REQUEST_WITHDRAW = "request_withdraw"
    REQUEST_REVIEW = "request_review"  # a row's button: the whole request, then a decision
    REQUEST_SCHEDULE = "request_schedule"  # "Schedule for DATE" on a refusal
    REQUEST_START = "request_start"  # the card's "Request…" menu
    REVERSE_DELETION = "reverse_deletion"
    SUBSCRIPTION_UNDO = "subscription_undo"  # bring a removed subscription back
    SUBSCRIPTION_NEW = "subscription_new"  # "New subscription" on the list: the modal
    SUBSCRIPTION_REMOVE = "subscription_remove"  # a list row's Remove
    ALERT_ACKNOWLEDGE = "alert_acknowledge"
    ALERT_RESOLVE = "alert_resolve"
    ALERT_SNOOZE = "alert_snooze"  # a select of SNOOZE_HOURS
    ALERT_OPEN_CUSTOMER = "alert_open_customer"
    ALERT_ROW_MENU = "alert_row_menu"  # the overflow menu of a listed alert
    ALERT_LIST_ALL = "alert_list_all"  # a storm digest's "List all"
    ALERT_LIST_FILTER = "alert_list_filter"  # `/msp alerts`: a status or severity menu
    ALERT_LIST_PAGE = "alert_list_page"  # `/msp alerts`: Previous, Next
    ALERT_LIST_BULK = "alert_list_bulk"  # `/msp alerts`: Acknowledge all, Resolve all
    # An input that redraws its open form as it changes (dispatch_action): read as a
    # field like the others, and routed to the redraw by its own id.
    ADD_CUSTOMER_PLAN = "add_customer_plan"  # Add customer's plan: a paid plan's fields
    REQUEST_FORM_INPUT = "request_form_input"  # what a request form's preview follows
    FIELD = "value"  # the one input inside each modal block; blocks are told apart by id


class BlockId(StrEnum):
    HELP_HEADER = "help_header"
    HELP_COMMANDS = "help_commands"
    HOME_HEADER = "home_header"
    HOME_BODY = "home_body"
    HOME_ACTIONS = "home_actions"
    CUSTOMER_ACTIONS = "customer_actions"
    CUSTOMER_FIND = "customer_find"
    BILLING_REASON = "billing_reason"  # the correction form's fields are CommercialField
    LIST_NAVIGATION = "customers_navigation"
    HOME_KPIS = "home_kpis"
    HOME_LISTS = "home_lists"
    DASHBOARD_ACTIONS = "dashboard_actions"
    LICENCE_CONTROLS = "licence_controls"
    MAU_CHART = "mau_chart"  # /msp mau's offer to post the chart, then that it was
    REQUEST_DAYS = "request_days"
    REQUEST_LICENCES = "request_licences"
    REQUEST_PLAN = "request_plan"
    REQUEST_ADD_ON = "request_add_on"
    REQUEST_QUANTITY = "request_quantity"
    REQUEST_REASON = "request_reason"
    REQUEST_PREVIEW = "request_preview"  # what the request would do, for what is typed
    REQUEST_CONFIRM_NAME = "request_confirm_name"
    REQUEST_DENY_NOTE = "request_deny_note"
    REQUEST_ACTIONS = "request_actions"
    SUBSCRIPTIONS_ACTIONS = "subscriptions_actions"
    SUBSCRIPTION_TARGET = "subscription_target"
    SUBSCRIPTION_TOPICS = "subscription_topics"
    SUBSCRIPTION_SEVERITY = "subscription_severity"
    SUBSCRIPTION_CUSTOMERS = "subscription_customers"
    SUBSCRIPTION_EXCLUDED = "subscription_excluded"
    SUBSCRIPTION_KINDS = "subscription_kinds"
    SUBSCRIPTION_QUIET = "subscription_quiet"
    SUBSCRIPTION_GROUPING = "subscription_grouping"
    ALERT_ACTIONS = "alert_actions"
    # A `/msp alerts` row's buttons: "alert_list_row.ID.QUERY", so a click redraws the
    # listing it came from.
    ALERT_LIST_ROW = "alert_list_row"
    ALERT_DIGEST_ACTIONS = "alert_digest_actions"
