"""Use cases. Each takes a session (one transaction, opened by the caller) and
keyword-only arguments, enforces the rules, writes the audit log and returns plain
data: the types views render are in bot.results, so views need not import services.
Services never import Slack."""
