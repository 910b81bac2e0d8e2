"""The web floor: every route the sidecar serves, and what a request needs on its way in and out.

Route modules (one blueprint each, registered by the app factory): capture (the signed API Moodle
calls), direct (uploads straight from the browser), identity (reference photos and the identity
step), reports, retention, metrics (/metrics and /healthz). Request helpers: auth (signed
requests, the acting Moodle user), connections (the request's database connection), errors (the
one handler that turns refusals into JSON), requestlog, requests (JSON bodies, uploaded images,
image and ZIP responses), uploads (a camshot or an event, received the same way by the signed and
the direct routes). The routes read the request and authorise; the work is the domain's.
"""
