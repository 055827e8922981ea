"""Known secrets the tests use in the sign-in, token and webhook-secret flows (happy and
failing), so that a full run's log file can be searched for them
(scripts/check_logs_for_secrets.py): any hit is a secret that reached a log line or an
error report.

Letters, digits and ``-`` / ``_`` only: each is written the same way in a plain log line,
a JSON log line, a ``repr`` and a URL-encoded body, so one substring search finds it in
every format. Never pass them through factories (factory_boy logs its arguments at DEBUG)
or log them on purpose; tests/productops/test_secrets_in_logs.py is where they are used.
"""

#: A user's password: portal sign-in, password reset, invitation sign-up.
PASSWORD = "Canary-Passw0rd-Q7vLm2Pz9Rt4"
#: An API token's key (``po_`` + 43 characters, the shape ``services.api_token_create`` makes).
API_TOKEN = "po_CanaryApiTokenQ7vLm2Pz9Rt4Xw8Hk3Jd6Fs1Nb5Gc"
#: An outgoing webhook's signing secret (``whsec_`` + base64 of 24 bytes, as comms.webhooks makes).
WEBHOOK_SECRET = "whsec_CanaryWebhookSecretQ7vLm2Pz9Rt4X"

#: Name → value, as the check reports them.
ALL = {"password": PASSWORD, "api_token": API_TOKEN, "webhook_secret": WEBHOOK_SECRET}
