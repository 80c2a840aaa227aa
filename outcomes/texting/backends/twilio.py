"""Text messages through Twilio's Programmable Messaging, with Twilio's own client library (`twilio`).

Settings: TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, and either TEXT_FROM (a number in E.164 or an alphanumeric sender
id where the country allows it) or TWILIO_MESSAGING_SERVICE_SID. Replies (STOP) come back to the inbound webhook
(outcomes.texting.inbound), whose signature is checked with the same auth token.

What Twilio's errors mean here: 429 and 5xx, network errors and bad credentials (401/403, a setting to fix) are
"try again later"; any other 4xx refuses this message for good, and error 21610 says the recipient has replied
STOP to this sender, which the registry records as their opt-out.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from outcomes.texting import TextMessage, TextRefused, TextUnavailable
from outcomes.texting.backends.base import BaseTextBackend

UNSUBSCRIBED = 21610


class TextBackend(BaseTextBackend):
    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.account_sid = str(kwargs.get("account_sid") or settings.TWILIO_ACCOUNT_SID)
        self.auth_token = str(kwargs.get("auth_token") or settings.TWILIO_AUTH_TOKEN)
        self.messaging_service_sid = str(kwargs.get("messaging_service_sid") or settings.TWILIO_MESSAGING_SERVICE_SID)
        self.http_client = kwargs.get("http_client")  # tests hand in a fake transport
        self.client = None
        if not (self.account_sid and self.auth_token):
            raise ImproperlyConfigured("TEXT_BACKEND=twilio needs TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN.")
        if not (self.sender or self.messaging_service_sid):
            raise ImproperlyConfigured("TEXT_BACKEND=twilio needs TEXT_FROM or TWILIO_MESSAGING_SERVICE_SID.")

    def open(self) -> None:
        if self.client is None:
            from twilio.rest import Client

            self.client = Client(self.account_sid, self.auth_token, http_client=self.http_client)

    def send(self, message: TextMessage) -> str:
        from twilio.base.exceptions import TwilioException, TwilioRestException

        self.open()
        params: dict[str, str] = {"to": message.to, "body": message.body}
        if self.messaging_service_sid and not message.sender:
            params["messaging_service_sid"] = self.messaging_service_sid
        else:
            params["from_"] = message.sender or self.sender
        try:
            sent = self.client.messages.create(**params)  # type: ignore[union-attr]
        except TwilioRestException as exc:
            reason = f"Twilio {exc.status} error {exc.code}: {exc.msg}"[:300]
            if exc.status == 429 or exc.status >= 500 or exc.status in (401, 403):
                raise TextUnavailable(reason) from exc
            raise TextRefused(reason, unsubscribed=exc.code == UNSUBSCRIBED) from exc
        except (TwilioException, OSError) as exc:
            raise TextUnavailable(f"{type(exc).__name__}: {exc}"[:300]) from exc
        except Exception as exc:  # requests' connection errors and the like
            if type(exc).__module__.startswith(("requests", "urllib3")):
                raise TextUnavailable(f"{type(exc).__name__}: {exc}"[:300]) from exc
            raise
        return str(sent.sid)
