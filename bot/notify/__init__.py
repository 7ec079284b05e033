"""What to tell whom: the alert, notice and request messages, the webhook bodies of
request decisions, the digests busy channels get, and the Home tabs redrawn after
changes.

The notifiers here turn a service's plain results into views and queue them in the
outbox (bot.delivery), in the caller's transaction. They are built once by the
composition root (bot/app.py, bot/cli.py) and handed down to the handlers, the API,
the jobs and the CLI, which pass them to the services; a test builds the ones it wants.
"""
