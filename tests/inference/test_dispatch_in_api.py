"""The outbox dispatcher running inside the API process delivers a classification to a signed webhook."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from fastapi.testclient import TestClient
from pydantic import SecretStr

from inference.app import create_app
from inference.ticketing.webhook import verify_signature

SECRET = "whsec-test-0123456789"


def test_dispatcher_in_api_delivers_signed_webhook(trained, tmp_path):
    received: list[tuple[dict, bytes]] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append(({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"ok": true}')

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        settings, _ = trained
        settings = settings.model_copy(update={
            "database_url": f"sqlite:///{tmp_path / 'f.db'}", "auth_enabled": False, "model_reload_interval_s": 0,
            "ticketing_connector": "webhook", "dispatch_in_api": True,
            "webhook_url": SecretStr(f"http://127.0.0.1:{server.server_port}/hook"),
            "webhook_secret": SecretStr(SECRET)})
        with TestClient(create_app(settings)) as c:
            r = c.post("/v1/classify", json={"items": [{"id": "W-1", "text": "充电宝冒烟了，电话13812345678"}]},
                       headers={"X-Request-ID": "req-wh-1"})
            assert r.status_code == 200
            deadline = time.monotonic() + 30
            while not received and time.monotonic() < deadline:
                time.sleep(0.1)
        assert len(received) == 1
        headers, body = received[0]
        assert headers["x-feedback-event-id"] == "triage:req-wh-1:W-1"
        assert verify_signature(SECRET, headers["x-feedback-timestamp"], body, headers["x-feedback-signature"])
        event = json.loads(body)
        assert event["type"] == "triage" and event["data"]["priority"] == r.json()["results"][0]["priority"]
        assert "13812345678" not in body.decode()
    finally:
        server.shutdown()
