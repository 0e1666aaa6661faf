"""Flask's default session (SecureCookieSessionInterface over itsdangerous),
for the Go interoperability tests (format/flask). Debian 12 packages Flask
2.2 and itsdangerous 2.1 as python3-flask; run with /usr/bin/python3.

    /usr/bin/python3 session.py COOKIE_NAME

reads one JSON request per line on stdin and answers one JSON line each,
through a Flask application's own request handling:

    {"op":"seal","secret_keys":[NEWEST,...],"session":{...},"lifetime":SECONDS,"now":UNIX}
      -> {"cookie":"<value>","set_cookie":"<header>"}
    {"op":"open","secret_keys":[NEWEST,...],"cookie":"<value>","lifetime":SECONDS,"now":UNIX}
      -> {"valid":true|false,"session":{...}}

"lifetime" is PERMANENT_SESSION_LIFETIME, which Flask's reader holds the
signing time against; "now" replaces the clock for the request. Flask 2.2
has no SECRET_KEY_FALLBACKS (Flask 3.1): "secret_keys" is handed to
itsdangerous as the list it accepts underneath (oldest first, the last one
signs), which is what SECRET_KEY_FALLBACKS does in Flask 3.1.

The types Flask's tagged JSON keeps travel here as one-key objects:
{"$tuple":[...]}, {"$bytes":"<base64>"}, {"$uuid":"<uuid>"},
{"$datetime":"<ISO 8601>"}, {"$markup":"<html>"}; seal builds the Python
values from them and open writes them back the same way, so the Go test
sees exactly which Python type Flask read.
"""
import base64
import datetime
import json
import sys
import time
import uuid

from flask import Flask, session
from markupsafe import Markup

app = Flask(__name__)
app.config["SESSION_COOKIE_NAME"] = sys.argv[1]
real_time = time.time
request_data = {}


def to_python(v):
    if isinstance(v, list):
        return [to_python(x) for x in v]
    if isinstance(v, dict):
        if len(v) == 1:
            (k, x), = v.items()
            if k == "$tuple":
                return tuple(to_python(y) for y in x)
            if k == "$bytes":
                return base64.b64decode(x)
            if k == "$uuid":
                return uuid.UUID(x)
            if k == "$datetime":
                return datetime.datetime.fromisoformat(x)
            if k == "$markup":
                return Markup(x)
        return {k: to_python(x) for k, x in v.items()}
    return v


def to_plain(v):
    if isinstance(v, tuple):
        return {"$tuple": [to_plain(x) for x in v]}
    if isinstance(v, bytes):
        return {"$bytes": base64.b64encode(v).decode()}
    if isinstance(v, uuid.UUID):
        return {"$uuid": str(v)}
    if isinstance(v, datetime.datetime):
        return {"$datetime": v.isoformat()}
    if isinstance(v, Markup):
        return {"$markup": str(v)}
    if isinstance(v, list):
        return [to_plain(x) for x in v]
    if isinstance(v, dict):
        return {k: to_plain(x) for k, x in v.items()}
    return v


@app.route("/seal")
def seal():
    for k, v in to_python(request_data["session"]).items():
        session[k] = v
    return {}


@app.route("/open")
def open_():
    # A cookie that fails to verify leaves an empty session, as a new
    # visitor's; a verified one is never empty here (the tests store values).
    valid = request.cookies.get(app.config["SESSION_COOKIE_NAME"]) is not None and len(session) > 0
    return {"valid": valid, "session": to_plain(dict(session))}


from flask import request  # noqa: E402


def handle(req):
    global request_data
    request_data = req
    keys = req["secret_keys"]
    # itsdangerous wants oldest first; the tests say newest first.
    app.secret_key = keys[0] if len(keys) == 1 else list(reversed(keys))
    app.permanent_session_lifetime = datetime.timedelta(seconds=req.get("lifetime", 31 * 86400))
    client = app.test_client()
    if req["op"] == "open":
        client.set_cookie("localhost", app.config["SESSION_COOKIE_NAME"], req["cookie"])
    if "now" in req:
        time.time = lambda: float(req["now"])
    try:
        response = client.get("/" + req["op"])
    finally:
        time.time = real_time
    if response.status_code != 200:
        raise RuntimeError("Flask answered %d: %s" % (response.status_code, response.get_data(as_text=True)))
    if req["op"] == "seal":
        line = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith(app.config["SESSION_COOKIE_NAME"] + "="))
        return {"cookie": line.split(";", 1)[0].split("=", 1)[1], "set_cookie": line}
    return response.get_json()


for line in sys.stdin:
    try:
        out = handle(json.loads(line))
    except Exception as e:  # reported to the Go test, which fails on it
        out = {"error": "%s: %s" % (type(e).__name__, e)}
    print(json.dumps(out), flush=True)
