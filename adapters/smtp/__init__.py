"""Email over SMTP (aiosmtplib) for the batch-feed notifications."""
