"""Pure rules: no I/O, no Slack, no database."""
