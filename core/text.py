"""Small text helpers shared by the composer, the lexical index and the replies."""

from __future__ import annotations

# Common English function words: they say nothing about what a question is about.
STOP_WORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for
    from further had has have having he her here hers herself him himself his how i if in
    into is it its itself just me more most my myself no nor not now of off on once only or
    other our ours ourselves out over own same she should so some such than that the their
    theirs them themselves then there these they this those through to too under until up
    very was we were what when where which while who whom why will with would you your
    yours yourself yourselves""".split()
)


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """``1 passage``, ``3 passages``: a number with its noun in the right form."""
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"
