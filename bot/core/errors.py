"""Named exceptions of the bot, in one flat module."""


class BotError(Exception):
    """Base class of the bot's own errors."""


class ConfigurationError(BotError):
    """A setting is missing or malformed; the message names it."""


class MalformedRequest(BotError):
    """A signed webhook lacks a field the bot needs (answered with 400)."""


class SendError(BotError):
    """Sending a message through a channel failed.

    Attributes:
        code: the provider's error code (Twilio's numeric code), if any.
        status: the HTTP status of the provider's answer, if any.
        transient: True when trying again later may succeed (429, 5xx, network).
    """

    def __init__(self, message: str, code: int | None = None, status: int | None = None,
                 transient: bool = False):
        super().__init__(message)
        self.code = code
        self.status = status
        self.transient = transient


class LLMError(BotError):
    """The language model could not answer (timeout, rate limit, outage, bad answer)."""


class EventFileError(BotError, ValueError):
    """An events file that cannot be imported.

    Attributes:
        errors: one message per problem, each naming its row ("row 4 (code 'X'): ...").
    """

    def __init__(self, errors: list[str]):
        super().__init__("\n".join(errors))
        self.errors = list(errors)
