"""Pure rules: no I/O, no Slack, no database.

Rules are cited by number (R1-R22) here and across the code; docs/RULES.md defines
each one and names the code and tests that enforce it."""
