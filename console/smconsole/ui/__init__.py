"""The Textual UI: screens show, services fetch. Never imports boto3."""
