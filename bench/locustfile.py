"""Locust users for bench/load.py; the scenario and its data come from the environment.

LOAD_SCENARIO picks the user class's task; LOAD_DATA names a JSON file with the token,
customer ids and webhook signing data written by bench/load.py.

Users are ``FastHttpUser`` (geventhttpclient): on this 2-core machine the load generator
shares the CPUs with gunicorn and PostgreSQL, and requests' HttpUser costs several times
more CPU per request. Each user sends requests as a Poisson process (exponential gaps,
scheduled from its own clock, so a slow answer does not lower the offered rate) starting
at a random time. ``constant_throughput`` with every user starting together sent the
whole population at once at the start and kept them in step, so the run measured
bursts of 100 simultaneous requests every half-second rather than a steady rate.
"""

from __future__ import annotations

import json
import os
import random
import time
import uuid
from urllib.parse import urlencode

import gevent
from locust import task
from locust.contrib.fasthttp import FastHttpUser

with open(os.environ["LOAD_DATA"]) as _fh:
    DATA = json.load(_fh)
SCENARIO = os.environ.get("LOAD_SCENARIO", "floor")
PER_USER_RATE = float(os.environ.get("LOAD_PER_USER_RATE", "1"))
AUTH = {"Authorization": f"Bearer {DATA['token']}"}


class DecantUser(FastHttpUser):
    def on_start(self) -> None:
        self._due = time.monotonic() + random.expovariate(PER_USER_RATE)
        gevent.sleep(max(0.0, self._due - time.monotonic()))

    def wait_time(self) -> float:
        """Time until this user's next Poisson arrival (0 if it is already late)."""
        self._due += random.expovariate(PER_USER_RATE)
        return max(0.0, self._due - time.monotonic())

    @task
    def scenario(self) -> None:
        getattr(self, SCENARIO)()

    def floor(self) -> None:
        self.client.get("/api/users/me", name="floor", headers=AUTH)

    def timeline(self) -> None:
        customer = random.choice(DATA["customers"])
        self.client.get(
            f"/api/sales/customers/{customer}/activities?perPage=20",
            name="timeline",
            headers=AUTH,
        )

    def send(self) -> None:
        customer = random.choice(DATA["email_customers"])
        self.client.post(
            "/api/sales/marketing/email/send",
            json={
                "to": customer["email"],
                "customerId": customer["id"],
                "subject": "Load test",
                "html": "<p>Hello {{ customer_name }}</p>",
            },
            name="send",
            headers=AUTH,
        )

    def webhook(self) -> None:
        from twilio.request_validator import RequestValidator

        params = {
            "MessageSid": "SM" + uuid.uuid4().hex,
            "AccountSid": DATA["twilio_sid"],
            "From": random.choice(DATA["phones"]),
            "To": DATA["twilio_number"],
            "Body": "Do you have the 2019 Barolo?",
            "NumMedia": "0",
        }
        signature = RequestValidator(DATA["twilio_token"]).compute_signature(
            DATA["webhook_url"], params
        )
        self.client.post(
            "/api/sales/marketing/webhooks/twilio",
            data=urlencode(params),
            headers={
                "X-Twilio-Signature": signature,
                "Content-Type": "application/x-www-form-urlencoded",
            },
            name="webhook",
        )
