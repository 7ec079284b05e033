"""Outbound Slack, transport only: the outbox (enqueue in the caller's transaction),
the delivery worker that sends it within Slack's rate limits, the bot tokens, file
uploads, signed webhooks, and the counters about them.

What a message says is decided elsewhere (bot.notify) and handed in, already built:
nothing here imports the services, the views or bot.notify. `bot.delivery.outbox`
never imports Slack; only the worker and the sender talk to Slack's Web API.
"""
