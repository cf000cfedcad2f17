"""Users' time zones: what a user may type to name theirs, and a guess when they never did.

A zone is always stored as an IANA name ("Europe/Paris"), so daylight saving time is
followed wherever the user said where they are. A user may also give only the time on
their clock ("14:30") or an offset ("UTC+2"): the zone kept then is a fixed offset
(``Etc/GMT-2``, the IANA spelling of UTC+2, sign inverted), which does not follow
daylight saving time, and the user is told so. A WhatsApp user who never said is
placed by their number's country, when the whole country keeps one zone.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from zoneinfo import TZPATH, ZoneInfo, available_timezones

from core.messages import Channel

# names a system may list that are not places
_NOT_PLACES = frozenset({"Factory", "localtime", "posixrules"})
_REGIONS = frozenset(
    {
        "Africa",
        "America",
        "Antarctica",
        "Asia",
        "Atlantic",
        "Australia",
        "Europe",
        "Indian",
        "Pacific",
    }
)
_CLOCK = re.compile(r"^(\d{1,2})(?:[:.h](\d{2}))?\s*([ap]\.?m\.?)?$", re.IGNORECASE)
_OFFSET = re.compile(r"^(?:utc|gmt)\s*([+-])\s*(\d{1,2})(?::?(\d{2}))?$", re.IGNORECASE)
# where on Earth clocks are: UTC-12 to UTC+14
_EARLIEST, _LATEST = -12 * 60, 14 * 60
# a time of day alone cannot tell UTC+13 from UTC-11: the more populated side wins
_PREFERRED_WEST = -11 * 60


@dataclass(frozen=True, slots=True)
class ZoneChoice:
    """The zone a user's words name; ``fixed`` when they gave a time or an offset and
    the zone kept for it ignores daylight saving time (a place would follow it)."""

    zone: str
    fixed: bool = False


@functools.cache
def _names() -> dict[str, str]:
    """Every IANA zone by its case-folded name."""
    return {name.casefold(): name for name in available_timezones() - _NOT_PLACES}


@functools.cache
def _current() -> frozenset[str]:
    """The zones the time zone database lists as current in its ``zone.tab``
    (Asia/Kolkata, not the old Asia/Calcutta); empty when it has none."""
    for path in [Path(p) / "zone.tab" for p in TZPATH]:
        if path.is_file():
            return _listed(path.read_text(encoding="utf-8"))
    try:
        return _listed(resources.files("tzdata.zoneinfo").joinpath("zone.tab").read_text())
    except (ModuleNotFoundError, FileNotFoundError):
        return frozenset()


def _listed(table: str) -> frozenset[str]:
    rows = (line.split("\t") for line in table.splitlines() if not line.startswith("#"))
    return frozenset(row[2] for row in rows if len(row) > 2)


def _preference(name: str) -> tuple[bool, int, str]:
    """Of names for the same clocks, the current one first, then the most specific."""
    return name not in _current(), -name.count("/"), name


@functools.cache
def _cities() -> dict[str, str]:
    """A zone by the city that names it ("new_york"), the current name of several."""
    named: dict[str, list[str]] = {}
    for name in _names().values():
        if name.split("/", 1)[0] in _REGIONS:
            named.setdefault(name.rsplit("/", 1)[1].casefold(), []).append(name)
    return {city: min(names, key=_preference) for city, names in named.items()}


def canonical(name: str) -> str | None:
    """The IANA zone ``name`` spells in any case (``europe/paris`` -> ``Europe/Paris``)."""
    return _names().get(name.strip().casefold())


def choose(text: str, now: datetime) -> ZoneChoice | None:
    """The zone a user means by ``text``: an IANA name, a city that names a zone, an
    offset (``UTC+5:30``) or the time on their clock at ``now`` (``14:30``, ``2:30pm``);
    None when it is none of those."""
    text = " ".join(text.split())
    if zone := canonical(text):
        return ZoneChoice(zone)
    if zone := _cities().get(_plain(text).replace(" ", "_")):
        return ZoneChoice(zone)
    if match := _OFFSET.match(text):
        sign = -1 if match.group(1) == "-" else 1
        return _at_offset(sign * (int(match.group(2)) * 60 + int(match.group(3) or 0)), now)
    if (minutes := _clock_minutes(text)) is not None:
        return _from_clock(minutes, now)
    return None


def offset_label(zone: str, now: datetime) -> str:
    """``UTC+2``, ``UTC-3:30`` or ``UTC``: how far ``zone`` is from UTC at ``now``."""
    offset = now.astimezone(ZoneInfo(zone)).utcoffset() or timedelta()
    minutes = int(offset.total_seconds() // 60)
    if not minutes:
        return "UTC"
    hours, rest = divmod(abs(minutes), 60)
    return f"UTC{'+' if minutes > 0 else '-'}{hours}" + (f":{rest:02d}" if rest else "")


def described(zone: str, now: datetime) -> str:
    """A zone as a user reads it: ``Europe/Paris (UTC+1)``, or ``UTC+2`` for a fixed
    offset, whose IANA name (``Etc/GMT-2``) has its sign the other way round."""
    offset = offset_label(zone, now)
    return offset if zone == "UTC" or zone.startswith("Etc/") else f"{zone} ({offset})"


def of_number(number: str) -> str | None:
    """The zone of a phone number (E.164, ``+33612345678``) when its country or area
    keeps a single one; None for several, or a number that names no place."""
    # its metadata takes a while to load, and only WhatsApp users have a number
    import phonenumbers
    from phonenumbers import timezone as number_zones

    try:
        parsed = phonenumbers.parse(number)
    except phonenumbers.NumberParseException:
        return None
    zones = number_zones.time_zones_for_number(parsed)
    if len(zones) != 1:
        return None
    return canonical(zones[0])  # "Etc/Unknown" is not a zone


def zone_of(stored: str | None, channel: str | None, external_id: str | None) -> str | None:
    """A user's zone: the one they gave (or their channel told), else the zone of their
    WhatsApp number's country; None when neither says (the caller's default applies)."""
    if stored and (zone := canonical(stored)):
        return zone
    if channel == Channel.WHATSAPP.value and external_id:
        return _guess(external_id)
    return None


# numbers of the same users come back every time schedules are looked at
_guess = functools.lru_cache(maxsize=65_536)(of_number)


def _plain(text: str) -> str:
    """``São Paulo`` -> ``sao paulo``: cities as zone names spell them."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def _clock_minutes(text: str) -> int | None:
    """The minutes past midnight of ``14:30``, ``9.05``, ``2pm`` or ``2:30 p.m.``."""
    match = _CLOCK.match(text)
    if match is None or (match.group(2) is None and match.group(3) is None):
        return None
    hour, minute = int(match.group(1)), int(match.group(2) or 0)
    if match.group(3):
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if match.group(3).lower().startswith("p") else 0)
    if hour > 23 or minute > 59:
        return None
    return hour * 60 + minute


def _from_clock(minutes: int, now: datetime) -> ZoneChoice | None:
    """The zone whose clock shows ``minutes`` past midnight at ``now`` (to the quarter
    hour: the user took a moment to type)."""
    utc = now.astimezone(UTC)
    difference = minutes - (utc.hour * 60 + utc.minute + utc.second / 60)
    offset = round(difference / 15) * 15
    # the same time of day is two offsets a day apart: the preferred one first
    preferred = (offset - _PREFERRED_WEST) % (24 * 60) + _PREFERRED_WEST
    if preferred == _PREFERRED_WEST:
        preferred += 24 * 60
    for candidate in (preferred, preferred - 24 * 60, preferred + 24 * 60):
        if choice := _at_offset(candidate, now):
            return choice
    return None


def _at_offset(minutes: int, now: datetime) -> ZoneChoice | None:
    """A zone ``minutes`` ahead of UTC at ``now``: ``UTC`` or an ``Etc/GMT`` zone for
    whole hours; otherwise a place that keeps that offset all year (Asia/Kolkata for
    UTC+5:30), else one that has it now (and changes it with the seasons)."""
    if not _EARLIEST <= minutes <= _LATEST:
        return None
    if minutes % 60 == 0:
        hours = minutes // 60
        return ZoneChoice("UTC" if hours == 0 else f"Etc/GMT{-hours:+d}", fixed=True)
    wanted = timedelta(minutes=minutes)
    places = sorted(
        (n for n in _names().values() if n.split("/", 1)[0] in _REGIONS), key=_preference
    )
    matching = [n for n in places if now.astimezone(ZoneInfo(n)).utcoffset() == wanted]
    steady = [n for n in matching if _steady(n, now.year)]
    if steady:
        return ZoneChoice(steady[0], fixed=True)
    return ZoneChoice(matching[0]) if matching else None


def _steady(name: str, year: int) -> bool:
    """Whether a zone keeps one offset all year (no daylight saving time)."""
    zone = ZoneInfo(name)
    return (
        datetime(year, 1, 15, tzinfo=zone).utcoffset()
        == datetime(year, 7, 15, tzinfo=zone).utcoffset()
    )
