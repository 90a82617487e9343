"""Workshop mode: one facilitator's server (`agentcore-wizard workshop serve`) and the wizards of a room reporting
their progress to it.

The one URL the server prints, e.g. http://127.0.0.1:4566/workshop/?code=Xy3..., is everything an attendee needs:
its scheme, host and port are the shared sandbox's AWS endpoint (as with `sandbox serve`), `/workshop/` is the
facilitator's dashboard, and `code` is the room's join code, which every API call carries (without it: 403).

    GET  /workshop/?code=C             the dashboard (one static page; it polls the status API every second)
    GET  /workshop/api/join?code=C     {"name", "sandbox", "version"}: the wizard asks before anything else
    POST /workshop/api/report          {"code", "participant", "version", "stages": {key: {status, error, at}}, ...}
    GET  /workshop/api/status?code=C   {"name", "participants": [{"name", "stages": [{"key", "status"}...]...}]}

Only progress travels (stage keys, statuses, an error's message, fix and code, timestamps, the wizard's version):
never a secret, token, password, consent link or session id. The core never imports the front end from here.
"""
