"""Domain errors shared by services, pages and the API.

Services raise these (and Django's ValidationError / PermissionDenied); views turn them into a
form error, 400, 403 or 409 — never a 500.
"""


class Conflict(Exception):
    """The item is no longer in the state the action needs (HTTP 409)."""

    def __init__(self, message: str, *, current_state: str | None = None):
        super().__init__(message)
        self.message = message
        self.current_state = current_state
