"""Locust users for bench/load.py; the scenario and its data come from the environment.

LOAD_SCENARIO picks the user class's task; LOAD_DATA names a JSON file with the token,
customer ids and webhook signing data written by bench/load.py. Every user paces itself
with ``constant_throughput`` so the run offers a fixed request rate (open-loop enough for
p99 at a target rate), not "as fast as possible".
"""

from __future__ import annotations

import json
import os
import random
import uuid

from locust import HttpUser, constant_throughput, task

with open(os.environ["LOAD_DATA"]) as _fh:
    DATA = json.load(_fh)
SCENARIO = os.environ.get("LOAD_SCENARIO", "floor")
PER_USER_RATE = float(os.environ.get("LOAD_PER_USER_RATE", "1"))


class DecantUser(HttpUser):
    wait_time = constant_throughput(PER_USER_RATE)

    def on_start(self) -> None:
        self.client.headers["Authorization"] = f"Bearer {DATA['token']}"

    @task
    def scenario(self) -> None:
        getattr(self, SCENARIO)()

    def floor(self) -> None:
        self.client.get("/api/users/me", name="floor")

    def timeline(self) -> None:
        customer = random.choice(DATA["customers"])
        self.client.get(f"/api/sales/customers/{customer}/activities?perPage=20", name="timeline")

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
            data=params,
            headers={"X-Twilio-Signature": signature, "Authorization": ""},
            name="webhook",
        )
