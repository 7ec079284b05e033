"""`python -m bot` does what the `msp-bot` console script does."""

from bot.cli import main

main()
