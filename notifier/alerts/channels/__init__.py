"""How an alert leaves the building: one error type (`base.DeliveryError`) for every channel.

via_apprise (every service Apprise knows, watched by httpwatch for the HTTP answers Apprise does
not report), pooled (the fast path for json:// and mailto://, the same message Apprise would
send): webhook (pooled aiohttp), smtp (pooled SMTP connections) with email_message (the MIME).
"""
