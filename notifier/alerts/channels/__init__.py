"""How an alert leaves the building: one error type (`base.DeliveryError`) for every channel.

via_apprise (every service Apprise knows, watched by httpwatch for the HTTP answers and by
smtpwatch for the SMTP errors Apprise does not report), pooled (the fast path for json:// and
mailto://, the same message Apprise would send): webhook (pooled aiohttp), smtp (pooled SMTP
connections) with email_message (the MIME); smtp_errors says what an SMTP failure means for both.
"""
