"""Outbound Slack: the outbox (enqueue in the caller's transaction), the delivery
worker that sends it within Slack's rate limits, and the counters about both.

`bot.delivery.outbox` is what services use; it never imports Slack. Only the worker
and the sender talk to Slack's Web API.
"""
