"""Use cases. Each takes a session (one transaction, opened by the caller) and
keyword-only arguments, enforces the rules, writes the audit log and returns plain
data. Services never import Slack."""
