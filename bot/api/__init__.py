"""HTTP routes besides Slack's: health now; the ingest API and metrics later."""
