"""The public ShareLM backend's design, rebuilt from its description for the side-by-side benchmark:
Flask, one route `POST /api/endpoint`, CORS open, ONE global SQLAlchemy session shared by every request of
a process, the `conversations` table (id, conversation_id, bot_msgs ARRAY, user_msgs ARRAY, page_url,
user_id, user_metadata JSON, timestamp, conversation_metadata JSON), every message through the
`anonymization` package's regex chain (e-mail, phone, MAC, IPv4, IPv6, credit card, IBAN), one INSERT and
one COMMIT per request, any error a 500. No authentication, no rate limit, no idempotency.

Served as the reference is meant to be run in production for the benchmark:

    DATABASE_URL=postgresql+psycopg://... gunicorn --workers 2 --worker-class sync reference_backend.app:app

(from the `benchmarks` folder). The harness creates the table first (`schema.create_schema`), so that two
workers booting at once do not race to create it; each worker still creates it if missing, as the reference.

Two deliberate departures, both in the reference's favour: a failed request rolls the shared session back
(the reference leaves it failed, so every later request of that worker would fail too), and CORS is one
response header set by a hook rather than the flask-cors extension (the same header, less work).
"""

from __future__ import annotations

import os
import sys

from anonymization import (
    Anonymization,
    AnonymizerChain,
    CreditCardAnonymizer,
    EmailAnonymizer,
    IbanAnonymizer,
    Ipv4Anonymizer,
    Ipv6Anonymizer,
    MacAddressAnonymizer,
    PhoneNumberAnonymizer,
)
from flask import Flask, jsonify, request
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

from reference_backend.schema import Conversation, create_schema


def make_anonymizer() -> AnonymizerChain:
    chain = AnonymizerChain(Anonymization("en_US"))
    chain.add_anonymizers(EmailAnonymizer, PhoneNumberAnonymizer, MacAddressAnonymizer, Ipv4Anonymizer,
                          Ipv6Anonymizer, CreditCardAnonymizer, IbanAnonymizer)
    return chain


DATABASE_URL = os.environ.get("DATABASE_URL", "")
app = Flask(__name__)

if DATABASE_URL:
    engine = create_engine(DATABASE_URL)
    create_schema(engine)
    session = sessionmaker(bind=engine)()  # the one session every request of this process shares
    anon = make_anonymizer()


@app.after_request
def cors(response):
    if request.path.startswith("/api/"):
        response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@app.route("/api/endpoint", methods=["POST"])
def store_conversation():
    try:
        data = request.get_json()
        conversation_id = data["conversation_id"]
        bot_msgs = data["bot_msgs"]
        user_msgs = data["user_msgs"]
        page_url = data["page_url"]
        user_id = data["user_id"]
        user_metadata = data["user_metadata"]
        timestamp = data["timestamp"]
        conversation_metadata = data["conversation_metadata"]

        row = Conversation(
            conversation_id=conversation_id,
            bot_msgs=[anon.anonymize(m) for m in bot_msgs],
            user_msgs=[anon.anonymize(m) for m in user_msgs],
            page_url=page_url,
            user_id=user_id,
            user_metadata=user_metadata,
            timestamp=timestamp,
            conversation_metadata=conversation_metadata,
        )
        session.add(row)
        session.commit()
        saved = {"message": "Conversation saved successfully", "conversation_id": conversation_id}
        return jsonify(saved), 200
    except Exception as e:  # the reference answers every failure, a missing field included, with a 500
        session.rollback()
        print(e, file=sys.stderr)
        return jsonify({"error": str(e)}), 500
