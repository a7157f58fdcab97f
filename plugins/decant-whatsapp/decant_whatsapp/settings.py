"""The settings this channel declares; the core reads them (environment, instance config)
and ``flask channels settings`` lists them. Twilio's credentials are the core's
TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_BASE_URL, shared with SMS."""

from __future__ import annotations

from app.config import Setting

SETTINGS = (
    Setting(
        "WHATSAPP_FROM",
        str,
        None,
        "The WhatsApp sender registered with Twilio, in E.164 (+14155238886).",
    ),
    Setting(
        "WHATSAPP_PROVIDER",
        str,
        None,
        "twilio or console; by default twilio when the Twilio credentials and WHATSAPP_FROM "
        "are set, else console (messages kept in the dev outbox).",
    ),
    Setting(
        "WHATSAPP_RATE_LIMIT",
        int,
        80,
        "Messages per second from the sender (Twilio's default WhatsApp throughput).",
    ),
    Setting("WHATSAPP_BATCH_SIZE", int, 50, "Campaign rows claimed per batch."),
    Setting(
        "WHATSAPP_STOP_REPLY",
        str,
        "You will get no more WhatsApp messages from us. Reply START to opt in again.",
        "The answer to STOP on WhatsApp (inside the window the customer just opened).",
    ),
)
