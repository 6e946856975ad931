"""Errors the services raise for a rule a caller broke; the API turns them into JSON."""


class DomainError(Exception):
    """A rule of the domain said no; ``code`` is stable for clients, ``message`` is for people."""

    def __init__(self, code: str, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
