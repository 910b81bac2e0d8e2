"""The console's blueprint, on which session.py (sign-in) and views.py (pages) register their routes,
and the admin its session has signed in."""
from flask import Blueprint, g

bp = Blueprint("console", __name__, url_prefix="/console", template_folder="templates", static_folder="static")


def current_admin():
    """The signed-in admin as an audit actor, or None."""
    admin = g.get("admin")
    if not admin:
        return None
    return {"actor_type": "console", "actor_id": admin["id"], "actor_name": admin["name"]}
