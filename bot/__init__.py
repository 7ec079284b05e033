"""msp-bot: a Managed Service Provider's Command Center in Slack."""

__version__ = "0.1.0"
