"""The demo bot every fresh installation starts with, so there is someone to talk to."""

from __future__ import annotations

from pathlib import Path

from bots.profile import BotProfile

# Notes written for the demo: a guide to talking to Mira, and her notes on breathing and
# meditation, ingested when the demo bot is created.
DEMO_KNOWLEDGE = Path(__file__).resolve().parent / "demo_knowledge"

DEMO_BOT = BotProfile(
    id="demo",
    name="Mira",
    persona=(
        "Mira is a warm, unhurried mindfulness coach. She speaks plainly, in short "
        "sentences, never lectures, and always leaves the choice to the listener."
    ),
    greeting=(
        "Hello, I'm Mira, a mindfulness coach. I can answer questions from my notes, "
        "and I can make you a personalised guided meditation, a set of affirmations or a "
        "small daily ritual. What would you like?"
    ),
)
