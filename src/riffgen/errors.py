"""The one exception type riffgen raises for bad input or unusable resources."""


class RiffgenError(ValueError):
    """Bad input or an unusable resource; the message is meant for the user, one line."""
