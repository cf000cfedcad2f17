"""Errors of the knowledge base; each says in plain words what is wrong with the input."""

from __future__ import annotations

from core.errors import ChorusError


class KnowledgeError(ChorusError):
    """Root of every knowledge-base error; ``str()`` is a message fit for the creator."""


class UnsupportedDocument(KnowledgeError):
    """The file type is not one Chorus reads."""

    def __init__(self, name: str, detected: str) -> None:
        super().__init__(
            f"{name}: {detected} files are not supported (PDF, DOCX, HTML, Markdown, "
            "plain text and images of text are)"
        )
        self.name = name
        self.detected = detected


class DocumentTooLarge(KnowledgeError):
    """A size, page-count or decompressed-size limit was exceeded."""

    def __init__(self, name: str, what: str, limit: str) -> None:
        super().__init__(f"{name}: {what} is over the limit of {limit}")
        self.name = name
        self.what = what
        self.limit = limit


class UnreadableDocument(KnowledgeError):
    """The file cannot be read: broken, encrypted, or without a text layer."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"{name}: {reason}")
        self.name = name
        self.reason = reason


class OcrUnavailable(KnowledgeError):
    """The OCR engine cannot run here (its package or model files are missing)."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"scanned pages cannot be read: {reason}")
        self.reason = reason


class FetchFailed(KnowledgeError):
    """A URL could not be fetched within the limits, for a reason that may pass (the
    server failed or was slow, the connection broke): trying again later may work."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason


class AddressRefused(FetchFailed):
    """The address itself is the problem, so trying again will not help: it is malformed
    or not http(s), it points to a private or local network, its host name does not
    exist, its certificate is invalid, it redirects in a loop, or the server refuses it
    (a 4xx answer such as 404). Bad input, where :class:`FetchFailed` is a failure."""


class UnknownDocument(KnowledgeError):
    """No document with this id belongs to the bot."""

    def __init__(self, bot_id: str, document_id: str) -> None:
        super().__init__(f"bot {bot_id!r} has no document {document_id!r}")
        self.bot_id = bot_id
        self.document_id = document_id


class EmbeddingFailed(KnowledgeError):
    """An embedding model could not turn text into vectors (server absent, bad answer)."""

    def __init__(self, model: str, reason: str) -> None:
        super().__init__(f"embedding model {model}: {reason}")
        self.model = model
        self.reason = reason


class EmbeddingModelUnavailable(EmbeddingFailed):
    """A local model's files are missing or differ from the pinned ones (reinstall it)."""
