"""The ``chorus`` command line (also ``python -m core``).

Exit codes: 0 on success, 2 for bad input (an unknown bot, a bad argument), 1 when
something failed (the database is locked or unreachable).

Only modules that need nothing outside the standard library are imported up front; each
command imports the rest when it runs, so ``chorus --help`` loads little more than
argparse and no command waits for libraries it does not use (``bench/startup.py``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, TypeVar

from channels.terminal import TerminalChannel, locale_language
from core.cli import knowledge as knowledge_cli
from core.errors import (
    BotNameTaken,
    ChannelRefused,
    ChorusError,
    StorageUnavailable,
    UnknownBot,
)
from core.logs import configure_logging
from core.messages import Channel
from webwidget.embed import embed_snippet

if TYPE_CHECKING:
    from core.services import Services
    from core.settings import Settings

T = TypeVar("T")
LOCAL_USER = "local"
DEFAULT_HOST = "0.0.0.0"  # noqa: S104 - a server listens on all
DEFAULT_PORT = 8080
BAD_INPUT = 2
FAILURE = 1

log = logging.getLogger("chorus.cli")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chorus", description="Chorus: multi-channel conversational agents for creators."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the web server")
    serve.add_argument("--host", default=DEFAULT_HOST)
    serve.add_argument("--port", type=int, default=DEFAULT_PORT)
    serve.add_argument(
        "--telegram-polling",
        action="store_true",
        help="fetch Telegram updates by polling (local development, no public URL)",
    )

    chat = commands.add_parser("chat", help="talk to a bot in the terminal")
    chat.add_argument("bot", metavar="BOT", help="the bot's id, e.g. demo")
    chat.add_argument(
        "--user",
        help=f"who you are to the bot; each user has their own conversation "
        f"(default: {LOCAL_USER})",
    )
    chat.add_argument(
        "--language",
        type=_language,
        metavar="CODE",
        help="the language you speak, e.g. es or pt-BR (default: your locale's, from "
        "LANGUAGE, LC_ALL, LC_MESSAGES or LANG); /language in the chat still changes it",
    )

    bot = commands.add_parser("bot", help="create and list bots")
    bot_commands = bot.add_subparsers(dest="bot_command", required=True, metavar="ACTION")
    create = bot_commands.add_parser("create", help="create a bot and print its id")
    create.add_argument("name", metavar="NAME")
    create.add_argument("--persona", default="", help="who the bot is and how it speaks")
    create.add_argument("--greeting", default="", help="the first thing it says")
    create.add_argument("--id", dest="bot_id", help="the id to use (default: from the name)")
    create.add_argument(
        "--telegram-token",
        help="a BotFather token: the bot answers on Telegram (webhook at PUBLIC_BASE_URL)",
    )
    create.add_argument(
        "--whatsapp-number",
        help="a Twilio WhatsApp sender number: the bot answers messages to it",
    )
    bot_commands.add_parser("list", help="list the bots")

    ingest = commands.add_parser("ingest", help="add documents or web pages to a bot")
    ingest.add_argument("bot", metavar="BOT")
    ingest.add_argument("sources", metavar="PATH|URL", nargs="+")
    reindex = commands.add_parser(
        "reindex", help="embed a bot's passages again with the configured embedding model"
    )
    reindex.add_argument("bot", metavar="BOT")
    reindex.add_argument(
        "--force", action="store_true", help="re-embed every passage, not only missing or stale"
    )
    docs = commands.add_parser("docs", help="list a bot's documents, or delete one")
    docs.add_argument("bot", metavar="BOT")
    docs.add_argument("--delete", metavar="ID", help="delete the document with this id")
    ask = commands.add_parser("ask", help="answer a question from a bot's documents")
    ask.add_argument("bot", metavar="BOT")
    ask.add_argument("question", metavar="QUESTION")

    widget = commands.add_parser("widget", help="print the embed code of a bot's web widget")
    widget.add_argument("bot", metavar="BOT")
    widget.add_argument(
        "--host", help=f"the address `chorus serve` listens on (default: {DEFAULT_HOST})"
    )
    widget.add_argument(
        "--port", type=_port, help=f"the port `chorus serve` listens on (default: {DEFAULT_PORT})"
    )
    widget.add_argument(
        "--base-url",
        help="the address visitors' browsers reach the server at, e.g. "
        "https://chat.example.com (default: PUBLIC_BASE_URL, else from --host and --port)",
    )
    origins = commands.add_parser(
        "origins", help="list, allow or disallow the websites a bot's widget may appear on"
    )
    origins.add_argument("bot", metavar="BOT")
    origins.add_argument("action", nargs="?", choices=("list", "add", "remove"), default="list")
    origins.add_argument("website", metavar="URL", nargs="?", help="e.g. https://your.site")

    features = commands.add_parser(
        "features", help="what a bot offers besides answers, or switch one on or off"
    )
    features.add_argument("bot", metavar="BOT")
    features.add_argument(
        "switch", metavar="NAME on|off", nargs="*", help="e.g. create off: no guided creation"
    )

    languages = commands.add_parser(
        "languages", help="the languages a bot speaks, and its greeting and persona in each"
    )
    languages.add_argument("bot", metavar="BOT")
    languages.add_argument("--offer", metavar="CODE", nargs="+", help="e.g. en es de")
    languages.add_argument("--default", metavar="CODE", help="for users it doesn't speak to")
    languages.add_argument(
        "--greeting",
        metavar=("CODE", "TEXT"),
        nargs=2,
        action="append",
        help="its greeting in one language (an empty TEXT removes it)",
    )
    languages.add_argument(
        "--persona",
        metavar=("CODE", "TEXT"),
        nargs=2,
        action="append",
        help="its persona in one language (an empty TEXT removes it)",
    )

    ambience = commands.add_parser(
        "ambience", help="the soft bed under the voice of a bot's recorded content"
    )
    ambience.add_argument("bot", metavar="BOT")
    ambience.add_argument(
        "kind",
        nargs="?",
        choices=("rain", "pad", "music", "off"),
        help="what plays (default: show it)",
    )
    ambience.add_argument(
        "file", metavar="FILE", nargs="?", help="with music: the audio file to upload"
    )
    ambience.add_argument(
        "--level", metavar="DB", help="how far under the voice it sits, in dB (e.g. -22)"
    )

    credits = commands.add_parser("credits", help="a user's credits with a bot, or give some")
    credits.add_argument("bot", metavar="BOT")
    credits.add_argument("user", metavar="USER", help="channel:id, e.g. telegram:123456")
    credits.add_argument("--grant", type=int, metavar="N", help="give the user N credits")

    migrate = commands.add_parser("migrate", help="bring the database schema up to date")
    migrate.add_argument("--to", default="head", help="revision to migrate to (default: head)")
    commands.add_parser("worker", help="run background jobs from the job queue")
    return parser


def _port(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise argparse.ArgumentTypeError(f"{text[:20]!r} isn't a port (1 to 65535)")
    return int(text)


def _language(text: str) -> str:
    from core.text import normalise

    if normalise(text) is None:
        raise argparse.ArgumentTypeError(f"{text[:40]!r} isn't a language code (es, pt-BR)")
    return text.strip()


def main(argv: Sequence[str] | None = None) -> int:
    """Run one ``chorus`` command and return its exit code."""
    args = _parser().parse_args(argv)
    # imported once the arguments are good: `--help` and usage errors need neither
    from pydantic import ValidationError

    from core.settings import Settings

    try:
        settings = Settings()
    except ValidationError as exc:
        print(f"chorus: bad settings in the environment:\n{exc}", file=sys.stderr)
        return BAD_INPUT
    quiet = args.command in (
        "chat",
        "ingest",
        "reindex",
        "docs",
        "ask",
        "widget",
        "origins",
        "credits",
        "features",
        "languages",
        "ambience",
    )
    configure_logging(settings.log_format, "WARNING" if quiet else settings.log_level)
    if args.command == "serve":
        if args.telegram_polling:
            settings = settings.model_copy(update={"telegram_polling": True})
        return _serve(settings, args.host, args.port)
    if args.command == "worker":
        if not settings.redis_url:
            print(
                "chorus: set REDIS_URL to run a worker; without it, background jobs run "
                "inside `chorus serve`.",
                file=sys.stderr,
            )
            return BAD_INPUT
        from core.worker import run_worker

        return run_worker(settings)
    runner: dict[str, Callable[[Services], Awaitable[int]]] = {
        "chat": lambda s: _chat(
            s, args.bot, args.user, args.language or locale_language(os.environ)
        ),
        "bot": lambda s: _create_bot(s, args),
        "migrate": lambda s: _migrate(s, args.to),
        "ingest": lambda s: knowledge_cli.ingest(s, args.bot, args.sources),
        "reindex": lambda s: knowledge_cli.reindex(s, args.bot, args.force),
        "docs": lambda s: knowledge_cli.docs(s, args.bot, args.delete),
        "ask": lambda s: knowledge_cli.ask(s, args.bot, args.question),
        "widget": lambda s: _widget(s, args),
        "origins": lambda s: _origins(s, args.bot, args.action, args.website),
        "credits": lambda s: _credits(s, args.bot, args.user, args.grant),
        "features": lambda s: _features(s, args.bot, args.switch),
        "languages": lambda s: _languages(s, args),
        "ambience": lambda s: _ambience(s, args.bot, args.kind, args.file, args.level),
    }
    try:
        if args.command == "bot" and args.bot_command == "list":
            return asyncio.run(_list_bots(settings))
        return asyncio.run(_with_services(settings, runner[args.command]))
    except KeyboardInterrupt:
        return 0
    except UnknownBot as exc:
        print(
            f"chorus: unknown bot {exc.bot_id!r}. See `chorus bot list`, or create one with "
            "`chorus bot create NAME`.",
            file=sys.stderr,
        )
        return BAD_INPUT
    except BotNameTaken as exc:
        print(f"chorus: a bot with id {exc.bot_id!r} already exists.", file=sys.stderr)
        return BAD_INPUT
    except StorageUnavailable as exc:
        print(f"chorus: the database is unavailable: {exc.reason}\n  ({exc.url})", file=sys.stderr)
        return FAILURE
    except ValueError as exc:
        print(f"chorus: {exc}", file=sys.stderr)
        return BAD_INPUT
    except ChorusError as exc:
        print(f"chorus: {exc}", file=sys.stderr)
        return FAILURE


async def _with_services(settings: Settings, run: Callable[[Services], Awaitable[T]]) -> T:
    from core.services import open_services

    async with open_services(settings) as services:
        return await run(services)


async def _migrate(services: Services, revision: str) -> int:
    if revision != "head":
        await services.db.downgrade(revision)
    print(f"database at {services.db.display_url} is at revision {revision}")
    return 0


async def _chat(services: Services, bot_id: str, user: str | None, language: str | None) -> int:
    """``chorus chat``: talk to a bot as ``user``, who speaks ``language`` (the platform's
    word for it, as Telegram's app language is; None: unknown)."""
    from core.i18n.translator import translator
    from core.storage.repository import find_party

    bot = await services.bots.get(bot_id)
    interactive = sys.stdin.isatty()
    if interactive:
        tr = translator(language)
        print(
            tr.gettext(
                "Talking to %(bot)s (%(id)s). Type a message; /quit or Ctrl-D to leave.",
                bot=bot.name,
                id=bot.id,
            )
            + "\n"
        )
    channel = TerminalChannel(
        bot.id,
        services.engine.handle,
        sender_id=user or LOCAL_USER,
        bot_name=bot.name,
        stdin=sys.stdin.buffer,
        stdout=sys.stdout,
        stderr=sys.stderr,
        interactive=interactive,
        settle=services.studio.idle,
        locate=services.media.path,
        language=language,
    )
    async with services.db.transaction() as session:
        known = await find_party(session, bot.id, Channel.TERMINAL.value, user or LOCAL_USER)
    unregister = services.outbox.register(Channel.TERMINAL.value, channel.deliver)
    try:
        await channel.run(begin=known is None)
    finally:
        unregister()
    return 0


async def _create_bot(services: Services, args: argparse.Namespace) -> int:
    from channels.whatsapp_webhook import normalise_number

    if not args.name.strip():
        print("chorus: a bot needs a name", file=sys.stderr)
        return BAD_INPUT
    if args.whatsapp_number and normalise_number(args.whatsapp_number) is None:
        print(f"chorus: {args.whatsapp_number!r} is not a phone number", file=sys.stderr)
        return BAD_INPUT
    bot = await services.bots.create(
        args.name, persona=args.persona, greeting=args.greeting, bot_id=args.bot_id
    )
    if args.telegram_token:
        try:
            username = await services.telegram.attach(bot.id, args.telegram_token)
        except ChannelRefused as exc:
            print(f"chorus: Telegram refused the token: {exc.reason}", file=sys.stderr)
            return BAD_INPUT
        print(f"{bot.id} is @{username} on Telegram", file=sys.stderr)
    if args.whatsapp_number:
        number = await services.whatsapp.attach(bot.id, args.whatsapp_number)
        print(f"{bot.id} answers WhatsApp messages to {number}", file=sys.stderr)
    print(bot.id)
    return 0


async def _list_bots(settings: Settings) -> int:
    """``bot list`` from the database alone, without the engine, channels and knowledge
    base; a new installation has no bots until it is prepared in full, which gives it
    the demo bot."""
    from bots.registry import BotDirectory
    from core.storage.database import Database

    db = Database(settings.effective_database_url)
    try:
        await db.migrate()
        bots = await BotDirectory(db).list()
    finally:
        await db.close()
    if not bots:
        bots = await _with_services(settings, lambda services: services.bots.list())
    for bot in bots:
        print(f"{bot.id}\t{bot.name}{'  (paused)' if bot.paused else ''}")
    return 0


async def _widget(services: Services, args: argparse.Namespace) -> int:
    from bots.origins import AllowedOrigins
    from webwidget.embed import checked_base_url, normalise_origin, served_base_url

    bot = await services.bots.get(args.bot)
    served = (args.host or DEFAULT_HOST, args.port or DEFAULT_PORT)
    if args.base_url is not None:
        address = checked_base_url(args.base_url)
        if address is None:
            print(
                f"chorus: --base-url {args.base_url[:100]!r} isn't an address like "
                "https://chat.example.com",
                file=sys.stderr,
            )
            return BAD_INPUT
    elif services.settings.public_base_url_set:
        address = services.settings.public_base_url.rstrip("/")
        if args.host or args.port:
            print(
                f"chorus: PUBLIC_BASE_URL is set, so the widget loads from {address}; "
                "--host and --port are not used.",
                file=sys.stderr,
            )
    else:
        address = served_base_url(*served)
        if address is None:
            print(f"chorus: --host {served[0][:100]!r} isn't a host name", file=sys.stderr)
            return BAD_INPUT
        print(
            f"chorus: PUBLIC_BASE_URL is not set, so this assumes the server runs as "
            f"`chorus serve --host {served[0]} --port {served[1]}`, at {address}. Visitors' "
            "browsers must reach it there: for a public website set PUBLIC_BASE_URL to the "
            "server's public address (or pass --base-url), or give --host and --port as "
            "`serve` has them.",
            file=sys.stderr,
        )
    print(embed_snippet(address, bot.id))
    allowed = await AllowedOrigins(services.bots).allowed(bot.id)
    own = f"the server's own pages ({normalise_origin(address)})"
    print(
        f"The widget works on {own} and on {', '.join(allowed)}. Allow another website"
        if allowed
        else f"The widget works only on {own}. Allow your website",
        f"with `chorus origins {bot.id} add https://your.site`.",
        file=sys.stderr,
    )
    return 0


async def _origins(services: Services, bot_id: str, action: str, website: str | None) -> int:
    from bots.origins import AllowedOrigins
    from core.errors import InvalidOrigin

    bot = await services.bots.get(bot_id)
    origins = AllowedOrigins(services.bots)
    if (action == "list") != (website is None):
        print(
            "chorus: `origins list` takes no website"
            if website
            else f"chorus: which website? e.g. `chorus origins {bot.id} {action} https://your.site`",
            file=sys.stderr,
        )
        return BAD_INPUT
    if website is None:
        allowed = await origins.allowed(bot.id)
    else:
        change = origins.add if action == "add" else origins.remove
        try:
            allowed = await change(bot.id, website)
        except InvalidOrigin as exc:
            print(f"chorus: {exc.reason}", file=sys.stderr)
            return BAD_INPUT
    for origin in allowed:
        print(origin)
    if not allowed:
        print(
            f"{bot.id}'s widget works only on the server's own pages. Allow your website "
            f"with `chorus origins {bot.id} add https://your.site`.",
            file=sys.stderr,
        )
    return 0


async def _credits(services: Services, bot_id: str, user: str, grant: int | None) -> int:
    """A user's credits for the operator (``chorus credits BOT USER [--grant N]``)."""
    import uuid

    from billing.creator import MAX_GRANT, CreatorBilling

    bot = await services.bots.get(bot_id)
    creator = CreatorBilling(services.db, services.bots, services.credits)
    end_user = await creator.find_user(bot.id, user)
    if end_user is None:
        print(f"chorus: {user} hasn't talked to {bot.id} (use channel:id)", file=sys.stderr)
        return BAD_INPUT
    if grant is not None:
        if not 1 <= grant <= MAX_GRANT:
            print(f"chorus: --grant takes 1 to {MAX_GRANT:,} credits", file=sys.stderr)
            return BAD_INPUT
        await services.credits.grant(bot, end_user, grant, f"cli:{uuid.uuid4().hex}")
        print(f"gave {user} {grant} credits")
    print(await creator.report(bot, user))
    return 0


async def _features(services: Services, bot_id: str, words: list[str]) -> int:
    """Show a bot's features, or switch one (``chorus features BOT create off``)."""
    from bots.features import FeatureError, describe, parse_switch, switched

    bot = await services.bots.get(bot_id)
    if not words:
        print(describe(bot))
        return 0
    try:
        name, on = parse_switch(words)
    except FeatureError as exc:
        print(f"chorus: {exc}", file=sys.stderr)
        return BAD_INPUT
    print(switched(await services.features.switch(bot.id, **{name: on}), name, on))
    return 0


async def _languages(services: Services, args: argparse.Namespace) -> int:
    """Show a bot's languages, or change them (``chorus languages BOT --offer en es
    --default es --greeting es "¡Hola!"``)."""
    from bots.languages import describe
    from bots.profile import LanguageError

    bot = await services.bots.get(args.bot)
    if args.offer or args.default or args.greeting or args.persona:
        try:
            bot = await services.languages.change(
                bot.id,
                offered=args.offer,
                default=args.default,
                greetings=dict(args.greeting) if args.greeting else None,
                personas=dict(args.persona) if args.persona else None,
            )
        except LanguageError as exc:
            print(f"chorus: {exc}", file=sys.stderr)
            return BAD_INPUT
    print(describe(bot))
    return 0


def _serve(settings: Settings, host: str, port: int) -> int:
    from core.server import serve

    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C before the server handles it
        asyncio.run(serve(settings, host, port))
    return 0


async def _ambience(
    services: Services, bot_id: str, kind: str | None, file: str | None, level: str | None
) -> int:
    """Show or set the bed under a bot's recorded voice (``chorus ambience BOT rain``,
    ``chorus ambience BOT music song.mp3 --level -24``)."""
    from pathlib import Path

    from bots.ambience import AmbienceError, describe, parse_level
    from core.errors import UnusableMusic
    from core.voice.ambience import AmbienceChoice

    bot = await services.bots.get(bot_id)
    choice: AmbienceChoice | None
    try:
        if file is not None and kind != "music":
            raise AmbienceError("only music takes a file")
        decibels = parse_level(level) if level is not None else None
        if kind == "music" and file is not None:
            try:
                data = await asyncio.to_thread(Path(file).read_bytes)
            except OSError as exc:
                print(f"chorus: cannot read {file}: {exc.strerror}", file=sys.stderr)
                return BAD_INPUT
            choice = await services.ambience.upload_music(
                bot.id, data, filename=Path(file).name, level=decibels
            )
        elif kind is not None or decibels is not None:
            choice = await services.ambience.choose(bot.id, kind, decibels)
        else:
            choice = await services.ambience.current(bot.id)
    except (AmbienceError, UnusableMusic) as exc:
        print(f"chorus: {exc}", file=sys.stderr)
        return BAD_INPUT
    print(describe(bot, choice))
    return 0
