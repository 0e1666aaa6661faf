"""Django's signed_cookies session backend, for the Go interoperability
tests (format/django). Debian 12 packages Django 3.2 as python3-django; run
with /usr/bin/python3.

    /usr/bin/python3 session.py COOKIE_NAME

reads one JSON request per line on stdin and answers one JSON line each,
through Django's own SessionMiddleware:

    {"op":"seal","secret_key":"...","session":{...},"cookie_age":SECONDS,"now":UNIX,"serializer":"json"}
      -> {"cookie":"<value>","max_age":SECONDS}
    {"op":"open","secret_key":"...","cookie":"<value>","cookie_age":SECONDS,"now":UNIX}
      -> {"valid":true|false,"session":{...}}

"cookie_age" is SESSION_COOKIE_AGE (the reader's expiry against the
signing time), "now" replaces the clock for the request, "serializer" is
SESSION_SERIALIZER (json, or pickle as Django before 1.6 defaulted to).
Django 3.2 has one SECRET_KEY and no SECRET_KEY_FALLBACKS (Django 4.1).
"""
import json
import sys
import time

import django
from django.conf import settings

settings.configure(
    SECRET_KEY="replaced for each request",
    SESSION_ENGINE="django.contrib.sessions.backends.signed_cookies",
    SESSION_COOKIE_NAME=sys.argv[1],
    ALLOWED_HOSTS=["testserver"],
    INSTALLED_APPS=["django.contrib.sessions"],
)
django.setup()

from django.contrib.sessions.middleware import SessionMiddleware  # noqa: E402
from django.http import HttpResponse  # noqa: E402
from django.test import RequestFactory  # noqa: E402

SERIALIZERS = {
    "json": "django.contrib.sessions.serializers.JSONSerializer",
    "pickle": "django.contrib.sessions.serializers.PickleSerializer",
}
real_time = time.time


def handle(req):
    settings.SECRET_KEY = req["secret_key"]
    settings.SESSION_COOKIE_AGE = req.get("cookie_age", 1209600)
    settings.SESSION_SERIALIZER = SERIALIZERS[req.get("serializer", "json")]
    answer = {}

    def view(request):
        if req["op"] == "seal":
            request.session.update(req["session"])
        else:
            answer["session"] = dict(request.session.items())
            # A cookie that fails to load leaves a new, modified session.
            answer["valid"] = not request.session.modified
        return HttpResponse()

    headers = {}
    if req["op"] == "open":
        headers["HTTP_COOKIE"] = "%s=%s" % (settings.SESSION_COOKIE_NAME, req["cookie"])
    request = RequestFactory().get("/", **headers)
    if "now" in req:
        time.time = lambda: float(req["now"])
    try:
        response = SessionMiddleware(view)(request)
    finally:
        time.time = real_time
    if req["op"] == "seal":
        morsel = response.cookies[settings.SESSION_COOKIE_NAME]
        answer = {"cookie": morsel.value, "max_age": morsel["max-age"]}
    return answer


for line in sys.stdin:
    try:
        out = handle(json.loads(line))
    except Exception as e:  # reported to the Go test, which fails on it
        out = {"error": "%s: %s" % (type(e).__name__, e)}
    print(json.dumps(out), flush=True)
