"""Commands for a bot's creator, the same on every channel: manage and test the knowledge.

A document the creator sends is learned by a background job (:mod:`bots.ingestion`);
``/docs`` lists the documents, ``/deldoc ID`` deletes one, and ``/ask QUESTION`` shows the
passages the bot would answer from, with their scores, for tuning. ``/pricing`` and
``/grant`` set prices and give credits (:mod:`billing.creator`); ``/features`` switches
what the bot offers besides answers (:mod:`bots.features`); ``/languages`` the languages
it speaks (:mod:`bots.languages`); ``/ambience`` sets the bed under its recorded voice
(:mod:`bots.ambience`). Replies are in the creator's language, the turn's translator; the
errors the services raise in English are told through the catalogues too.
"""

from __future__ import annotations

import re

from billing.creator import CreatorBilling
from bots.ambience import BotAmbience
from bots.features import FeatureSwitches
from bots.ingestion import DocumentJobs, knowledge_problem
from bots.languages import BotLanguageSettings
from bots.origins import AllowedOrigins, origin_problem
from bots.profile import BotProfile
from bots.registry import BotDirectory
from core.errors import InvalidOrigin
from core.i18n.translator import ENGLISH, Translator
from core.messages import Attachment, OutboundMessage
from core.outbox import Address
from knowledge.base import KnowledgeBase
from knowledge.errors import KnowledgeError
from knowledge.retrieval import HybridRetriever

MAX_TITLE = 60


class CreatorCommands:
    """Runs creator commands and ingests documents creators send, in the creator's
    language."""

    def __init__(
        self,
        knowledge: KnowledgeBase,
        retriever: HybridRetriever,
        documents: DocumentJobs,
        bots: BotDirectory,
        billing: CreatorBilling | None = None,
        features: FeatureSwitches | None = None,
        *,
        ambience: BotAmbience | None = None,
        languages: BotLanguageSettings | None = None,
    ) -> None:
        self._knowledge = knowledge
        self._retriever = retriever
        self._documents = documents
        self._bots = bots
        self._billing = billing
        self._allowed = AllowedOrigins(bots)
        self._features = features
        self._ambience = ambience
        self._languages = languages
        self.names = (
            frozenset({"docs", "deldoc", "ask", "origins", "theme"})
            | ({"pricing", "grant"} if billing else set())
            | ({"features"} if features else set())
            | ({"ambience"} if ambience else set())
            | ({"languages"} if languages else set())
        )

    async def run(
        self, name: str, args: str, bot: BotProfile, *, tr: Translator = ENGLISH
    ) -> list[OutboundMessage]:
        """Run ``/name args`` for the bot's creator, answering in ``tr``'s language."""
        try:
            if name == "docs":
                return [await self._docs(bot, tr)]
            if name == "deldoc":
                if not args.strip():
                    return [
                        _text(
                            tr.gettext(
                                "Which document? Send /deldoc followed by its id from /docs."
                            )
                        )
                    ]
                info = await self._knowledge.delete(bot.id, args.strip().split()[0])
                return [
                    _text(
                        tr.ngettext(
                            "Deleted “%(title)s” and its %(count)s passage.",
                            "Deleted “%(title)s” and its %(count)s passages.",
                            info.chunk_count,
                            title=info.title,
                        )
                    )
                ]
            if name == "ask":
                return [await self._ask(bot, args.strip(), tr)]
            if name == "origins":
                return [await self._origins(bot, args.split(), tr)]
            if name == "theme":
                return [await self._theme(bot, args.strip(), tr)]
            if name == "pricing" and self._billing is not None:
                return [_text(await self._billing.pricing(bot, args, tr=tr))]
            if name == "grant" and self._billing is not None:
                return [_text(await self._billing.grant(bot, args, tr=tr))]
            if name == "features" and self._features is not None:
                return [_text(await self._features.command(bot, args, tr=tr))]
            if name == "ambience" and self._ambience is not None:
                return [_text(await self._ambience.command(bot, args, tr=tr))]
            if name == "languages" and self._languages is not None:
                return [_text(await self._languages.command(bot, args, tr=tr))]
        except KnowledgeError as exc:
            return [
                _text(tr.gettext("That didn't work: %(reason)s", reason=knowledge_problem(exc, tr)))
            ]
        raise ValueError(f"not a creator command: {name}")

    async def ingest(
        self, bot: BotProfile, attachment: Attachment, chat: Address, *, tr: Translator = ENGLISH
    ) -> list[OutboundMessage]:
        """Learn a document the creator sent, in the background; ``chat`` hears how it
        goes, in ``tr``'s language. The replies to give now (a refusal, or none)."""
        return await self._documents.submit(bot, attachment, chat, tr=tr)

    async def _docs(self, bot: BotProfile, tr: Translator) -> OutboundMessage:
        documents = await self._knowledge.documents(bot.id)
        if not documents:
            return _text(
                tr.gettext(
                    "%(bot)s has no documents yet. Send me a PDF, DOCX, HTML, Markdown or "
                    "text file, or a photo of a page, to add one.",
                    bot=bot.name,
                )
            )
        lines = [
            tr.ngettext(
                "%(bot)s knows %(count)s document:",
                "%(bot)s knows %(count)s documents:",
                len(documents),
                bot=bot.name,
            )
        ]
        lines += [
            tr.ngettext(
                "• %(id)s  %(title)s (%(count)s passage)",
                "• %(id)s  %(title)s (%(count)s passages)",
                d.chunk_count,
                id=d.id[:8],
                title=d.title,
            )
            for d in documents
        ]
        lines.append(tr.gettext("Delete one with /deldoc ID."))
        return _text("\n".join(lines))

    async def _ask(self, bot: BotProfile, question: str, tr: Translator) -> OutboundMessage:
        if not question:
            return _text(
                tr.gettext("Send /ask followed by a question to see what I would answer from.")
            )
        scored = await self._retriever.explain(bot.id, question, limit=5)
        if not scored:
            return _text(tr.gettext("Nothing in the documents matches that question."))
        gate = f"{self._retriever.min_similarity:.2f}"
        if any(s.relevant for s in scored):
            lines = [tr.gettext("Question covered (relevance gate %(gate)s).", gate=gate)]
        else:
            lines = [
                tr.gettext(
                    "Question not covered: I would say I don't know (relevance gate %(gate)s).",
                    gate=gate,
                )
            ]
        for n, s in enumerate(scored, 1):
            lines.append(
                tr.gettext(
                    "%(mark)s [%(n)s] dense %(dense)s · bm25 %(lexical)s · fused %(fused)s",
                    mark="✓" if s.relevant else "✗",
                    n=n,
                    dense=f"{s.dense:.2f}" if s.dense is not None else "–",
                    lexical=f"{s.lexical:.1f}" if s.lexical is not None else "–",
                    fused=f"{s.fused:.4f}",
                )
                + f"\n    {s.chunk.text[:160]}"
            )
        sources = tuple(s.as_passage().as_source(n) for n, s in enumerate(scored, 1))
        return OutboundMessage(text="\n".join(lines), sources=sources)

    async def _origins(self, bot: BotProfile, words: list[str], tr: Translator) -> OutboundMessage:
        """``/origins [list]``, ``/origins add URL``, ``/origins remove URL``: the websites
        whose pages may open the bot's widget."""
        action = words[0].lower() if words else "list"
        if action in ("add", "remove") and len(words) == 2:
            change = self._allowed.add if action == "add" else self._allowed.remove
            try:
                allowed = await change(bot.id, words[1])
            except InvalidOrigin as exc:
                return _text(origin_problem(exc, tr))
        elif action == "list":
            allowed = await self._allowed.allowed(bot.id)
        else:
            return _text(
                tr.gettext(
                    "Send /origins add https://your.site, /origins remove … or /origins list."
                )
            )
        if not allowed:
            return _text(
                tr.gettext(
                    "%(bot)s's widget works on no other website yet. Add yours with "
                    "/origins add https://your.site",
                    bot=bot.name,
                )
            )
        listing = "\n".join(f"• {origin}" for origin in allowed)
        return _text(
            tr.gettext(
                "%(bot)s's widget may appear on:\n%(websites)s", bot=bot.name, websites=listing
            )
        )

    async def _theme(self, bot: BotProfile, args: str, tr: Translator) -> OutboundMessage:
        """``/theme``, ``/theme color #0f766e``, ``/theme title TEXT``, ``/theme position
        left|right``, ``/theme avatar https://…``, ``/theme reset``: the widget's look."""
        field, _, value = args.partition(" ")
        field, value = field.lower(), value.strip()
        theme: dict[str, str] = dict((await self._bots.settings(bot.id)).get("widget", {}))
        if field == "reset":
            theme = {}
        elif field:
            problem = theme_problem(field, value, tr)
            if problem:
                return _text(problem)
            theme[field] = value.lower() if field in ("color", "position") else value
        if field:
            await self._bots.change_settings(bot.id, widget=theme or None)
        if theme:
            shown = tr.gettext(
                "%(bot)s's widget uses %(theme)s.\nChange it with /theme color #0f766e, "
                "/theme title TEXT, /theme position left|right, /theme avatar https://… "
                "or /theme reset.",
                bot=bot.name,
                theme=", ".join(f"{k} {v}" for k, v in sorted(theme.items())),
            )
        else:
            shown = tr.gettext(
                "%(bot)s's widget uses the defaults.\nChange it with /theme color #0f766e, "
                "/theme title TEXT, /theme position left|right, /theme avatar https://… "
                "or /theme reset.",
                bot=bot.name,
            )
        return _text(shown)


def theme_problem(field: str, value: str, tr: Translator = ENGLISH) -> str | None:
    """Why a theme value can't be used, in ``tr``'s language, or None."""
    if field == "color":
        ok = re.fullmatch(r"#(?:[0-9a-fA-F]{3}){1,2}", value) is not None
        return None if ok else tr.gettext("A colour is written like #0f766e.")
    if field == "position":
        if value.lower() in ("left", "right"):
            return None
        return tr.gettext("The position is left or right.")
    if field == "title":
        if 0 < len(value) <= MAX_TITLE:
            return None
        return tr.gettext("A title has 1 to %(most)s characters.", most=tr.number(MAX_TITLE))
    if field == "avatar":
        ok = value.startswith("https://") and len(value) <= 500 and " " not in value
        return None if ok else tr.gettext("The avatar is an https:// address of a picture.")
    return tr.gettext("/theme changes color, title, position or avatar (or reset).")


def _text(text: str) -> OutboundMessage:
    return OutboundMessage(text=text)
