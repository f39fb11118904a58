"""The baseline for bench/webhooks.py: a Flask endpoint that reads the body and answers 202.

It has the receiver's route shape (`POST /webhooks/<source>`, a JSON answer) but neither checks
a signature nor touches a database, so running it under the same gunicorn settings in the same
run says what Flask, gunicorn and the loopback cost on this machine. The receiver's throughput
as a share of this one is the figure the webhook benchmark reports.

    gunicorn -c docs/gunicorn.conf.py --pythonpath bench _noop_app:app
"""

from __future__ import annotations

from flask import Flask, Response, jsonify, request

app = Flask("noop")


@app.post("/webhooks/<source>")
def receive(source: str) -> tuple[Response, int]:
    raw = request.get_data(cache=False)
    return jsonify({"status": "accepted", "source": source, "bytes": len(raw)}), 202


@app.get("/healthz")
def healthz() -> Response:
    return jsonify({"status": "ok"})


@app.get("/readyz")
def readyz() -> Response:
    return jsonify({"status": "ok"})
