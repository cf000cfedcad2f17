"""A small ctypes binding to the espeak-ng library shipped in the ``espeakng-loader`` wheel.

The wheel carries ``libespeak-ng`` and its data, so nothing comes from apt. No maintained
PyPI package wraps the C API for synthesis to memory against that library: the C
extensions (``espeak-ng-python``, ``python-espeak-ng``) are source-only and link the
system library, and ``pyttsx3`` loads the system library and plays sound. The few calls
needed are bound here.

espeak-ng keeps one global state per process (voice, parameters, callback), so there is
one :class:`Espeak` per process (:func:`espeak`) and every call holds a process-wide
lock. It blocks: call it from a worker thread.
"""

from __future__ import annotations

import ctypes
import functools
import threading
from pathlib import Path

import numpy as np
import numpy.typing as npt

from core.errors import SpeechFailed

AUDIO_OUTPUT_SYNCHRONOUS = 2  # samples go to the callback; espeak_Synth returns when done
INITIALIZE_DONT_EXIT = 0x8000  # report missing data instead of calling exit()
CHARS_UTF8, END_PAUSE, POS_CHARACTER = 0x1, 0x1000, 1
PARAMETER_RATE, PARAMETER_PITCH = 1, 3
EE_OK = 0
MIN_RATE, MAX_RATE = 80, 450
MIN_PITCH, MAX_PITCH = 0, 100

_Callback = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
)
#: espeak-ng's state is global to the process, so is the lock that guards it.
_PROCESS_LOCK = threading.RLock()


class _Voice(ctypes.Structure):
    """``espeak_VOICE`` from ``speak_lib.h``."""

    _fields_ = (
        ("name", ctypes.c_char_p),
        ("languages", ctypes.c_void_p),  # (priority byte, name, NUL) pairs, then a NUL
        ("identifier", ctypes.c_char_p),
        ("gender", ctypes.c_ubyte),
        ("age", ctypes.c_ubyte),
        ("variant", ctypes.c_ubyte),
        ("xx1", ctypes.c_ubyte),
        ("score", ctypes.c_int),
        ("spare", ctypes.c_void_p),
    )


class Espeak:
    """espeak-ng initialised for synchronous synthesis into memory (16-bit mono PCM).

    Use :func:`espeak` rather than constructing one: a second instance would share the
    library's global state. The same call twice gives samples that differ slightly (a
    few samples longer or shorter): the waveform generator's phase carries over from
    one call to the next.
    """

    def __init__(self, library: Path, data: Path) -> None:
        try:
            self._lib = ctypes.CDLL(str(library))
        except OSError as exc:
            raise SpeechFailed(f"cannot load {library}: {exc}") from exc
        lib = self._lib
        lib.espeak_Initialize.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int)
        lib.espeak_Info.restype = ctypes.c_char_p
        lib.espeak_ListVoices.argtypes = (ctypes.POINTER(_Voice),)
        lib.espeak_ListVoices.restype = ctypes.POINTER(ctypes.POINTER(_Voice))
        lib.espeak_SetVoiceByName.argtypes = (ctypes.c_char_p,)
        lib.espeak_SetParameter.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_int)
        lib.espeak_Synth.argtypes = (
            ctypes.c_char_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.c_void_p,
            ctypes.c_void_p,
        )
        rate = lib.espeak_Initialize(
            AUDIO_OUTPUT_SYNCHRONOUS, 0, str(data).encode(), INITIALIZE_DONT_EXIT
        )
        if rate <= 0:
            raise SpeechFailed(f"espeak-ng cannot start with the data in {data}")
        self.sample_rate: int = rate
        self.version: str = (lib.espeak_Info(None) or b"?").decode()
        self._chunks: list[npt.NDArray[np.int16]] = []
        self._callback = _Callback(self._collect)  # kept referenced while the library lives
        lib.espeak_SetSynthCallback(self._callback)
        self._names: dict[str, str] = {}  # lower-cased language or identifier -> itself
        for identifier, languages in self._voices(None):
            for name in (identifier, *languages):
                self._names.setdefault(name.lower(), name)
        variants = (identifier.rsplit("/", 1)[-1] for identifier, _ in self._voices(b"variant"))
        self._variants = {name.lower(): name for name in variants}
        self._current: str | None = None

    def resolve(self, voice: str) -> str | None:
        """The name espeak-ng accepts for ``voice`` (a language such as ``en-us``, a voice
        identifier such as ``gmw/en-US``, optionally ``+variant``), or None if unknown."""
        base, _, variant = voice.strip().lower().partition("+")
        name = self._names.get(base)
        if name is None or (variant and variant not in self._variants):
            return None
        return f"{name}+{self._variants[variant]}" if variant else name

    def synthesize(self, text: str, *, voice: str, rate: int, pitch: int) -> npt.NDArray[np.int16]:
        """Speak ``text`` with a voice from :meth:`resolve`; ``rate`` in words per minute
        and ``pitch`` (0-100) are clamped to what espeak-ng accepts."""
        encoded = text.replace("\x00", " ").encode("utf-8", "replace")
        with _PROCESS_LOCK:
            if voice != self._current:
                if self._lib.espeak_SetVoiceByName(voice.encode()) != EE_OK:
                    raise SpeechFailed(f"espeak-ng has no voice {voice!r}")
                self._current = voice
            self._lib.espeak_SetParameter(PARAMETER_RATE, min(max(rate, MIN_RATE), MAX_RATE), 0)
            self._lib.espeak_SetParameter(PARAMETER_PITCH, min(max(pitch, MIN_PITCH), MAX_PITCH), 0)
            self._chunks.clear()
            flags = CHARS_UTF8 | END_PAUSE
            status = self._lib.espeak_Synth(
                encoded, len(encoded) + 1, 0, POS_CHARACTER, 0, flags, None, None
            )
            chunks, self._chunks = self._chunks, []
        if status != EE_OK:
            raise SpeechFailed(f"espeak_Synth returned {status}")
        return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int16)

    def _collect(self, wav: ctypes._Pointer[ctypes.c_short], count: int, _events: int) -> int:
        if wav and count > 0:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(count,)).copy())
        return 0  # 0: go on

    def _voices(self, language: bytes | None) -> list[tuple[str, list[str]]]:
        """(identifier, languages) of the installed voices, or of the voices of one
        language (``b"variant"`` lists the variants)."""
        wanted = ctypes.create_string_buffer(language or b"")
        spec = _Voice(languages=ctypes.cast(wanted, ctypes.c_void_p))
        voices = self._lib.espeak_ListVoices(ctypes.byref(spec) if language else None)
        found = []
        index = 0
        while voices[index]:
            entry = voices[index].contents
            found.append(((entry.identifier or b"").decode(), _languages(entry.languages)))
            index += 1
        return found


def _languages(address: int | None) -> list[str]:
    """Read espeak's packed list: a priority byte, a name and a NUL per language, then a
    NUL (``b"\\x02en-gb\\x00\\x02en\\x00\\x00"`` -> ``["en-gb", "en"]``)."""
    names: list[str] = []
    while address and ctypes.string_at(address, 1) != b"\x00":
        name = ctypes.string_at(address + 1)  # from after the priority byte to the NUL
        names.append(name.decode())
        address += len(name) + 2
    return names


@functools.cache
def _load() -> Espeak:
    import espeakng_loader

    return Espeak(Path(espeakng_loader.get_library_path()), Path(espeakng_loader.get_data_path()))


def espeak() -> Espeak:
    """The process's espeak-ng, initialised on first use (blocking: from a worker thread)."""
    with _PROCESS_LOCK:
        return _load()
