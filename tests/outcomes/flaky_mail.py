"""An email backend that fails on demand, for retry tests: FAIL_NEXT[0] failures, then locmem."""

import smtplib

from django.core.mail.backends.locmem import EmailBackend as LocMem

FAIL_NEXT = [0]
REFUSE = [False]


class FlakyBackend(LocMem):
    def send_messages(self, messages):
        if REFUSE[0]:
            raise smtplib.SMTPRecipientsRefused({"x@example.test": (550, b"no such user")})
        if FAIL_NEXT[0] > 0:
            FAIL_NEXT[0] -= 1
            raise smtplib.SMTPServerDisconnected("connection lost")
        return super().send_messages(messages)
