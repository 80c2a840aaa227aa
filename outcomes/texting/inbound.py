"""Replies to the registry's text messages. A reply of STOP (or the provider's other opt-out words, in the shipped
languages too) records the patient's opt-out, which ends texts and emails alike and cancels every unsent message;
any other reply is counted and dropped (nobody reads the text-message number: the texts say how to reach the
clinic). Twilio posts replies to `twilio_inbound`, signed with the account's auth token (X-Twilio-Signature); the
demo and staff feed a reply through `reply_receive` with the `text_reply` command.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import phonenumbers
from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from outcomes import contact
from registry.models import Patient

log = logging.getLogger(__name__)

# Twilio's default opt-out keywords, and the words patients of the shipped languages write.
STOP_WORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE"}
    | {"중지", "수신거부", "거부", "停止", "配信停止", "退订", "退訂", "取消"}
)

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


@dataclass
class Reply:
    stop: bool
    patients: int  # patients with this number who were opted out now (0: unknown number, or already opted out)


def is_stop(body: str) -> bool:
    words = re.split(r"[\s.,!。、！]+", (body or "").strip())
    return bool(words) and words[0].upper() in STOP_WORDS


def number_e164(raw: str) -> str:
    try:
        return phonenumbers.format_number(phonenumbers.parse(raw, None), phonenumbers.PhoneNumberFormat.E164)
    except phonenumbers.NumberParseException:
        return raw.strip()


@transaction.atomic
def reply_receive(*, from_number: str, body: str) -> Reply:
    """A text came back from `from_number`. STOP opts out every patient with that mobile number (a shared family
    phone stops for all of them)."""
    if not is_stop(body):
        return Reply(stop=False, patients=0)
    number = number_e164(from_number)
    opted = sum(
        contact.patient_opt_out(patient=p, source="stop")
        for p in Patient.objects.filter(identity__mobile=number).select_for_update()
    )
    log.info("STOP reply: %s patient(s) opted out", opted)  # never the number
    return Reply(stop=True, patients=opted)


def _signature_ok(request: HttpRequest) -> bool:
    from twilio.request_validator import RequestValidator

    signature = request.headers.get("X-Twilio-Signature", "")
    if not signature:
        return False
    # Twilio signs the URL it was configured with: the registry's public address, not the host the proxy used.
    url = settings.REGISTRY_BASE_URL.rstrip("/") + request.get_full_path()
    return RequestValidator(settings.TWILIO_AUTH_TOKEN).validate(url, request.POST.dict(), signature)


@csrf_exempt
@require_POST
def twilio_inbound(request: HttpRequest) -> HttpResponse:
    if not settings.TWILIO_AUTH_TOKEN:
        return HttpResponse(
            "Text-message replies by Twilio are not configured here.\n", status=404, content_type="text/plain"
        )
    if not _signature_ok(request):
        log.warning("inbound text refused: missing or wrong X-Twilio-Signature")
        return HttpResponse("The request signature does not match.\n", status=403, content_type="text/plain")
    sender = request.POST.get("From", "")
    if not sender:
        return HttpResponse("The request names no sender (From).\n", status=400, content_type="text/plain")
    reply_receive(from_number=sender, body=request.POST.get("Body", ""))
    return HttpResponse(EMPTY_TWIML, content_type="text/xml")
