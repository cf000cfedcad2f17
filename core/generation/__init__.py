"""Text generation: language models and the composer that write answers and content.

``seams`` is the protocol the conversation knows (:class:`~core.generation.seams.TextGenerator`);
the rest implement it: the grounded extractive composer (no model needed: ``composer``,
with ``spans`` for what a passage may quote, ``questions`` for what a question wants,
``selection`` for scoring and choosing, ``fragments`` for what reads as broken, and
``scripts`` for personal content, planned from the ``practices`` library and timed by
``pacing``), clients of Ollama and of OpenAI-compatible servers
(sharing ``remote``'s clocks, retries and circuit breaker; ``sse`` reads event streams),
llama.cpp in the process, the fallback that keeps answering when a model fails, prompt
building and citation checking. It may use the foundation, the
runtime and knowledge (the passages it answers from), nothing above.
"""
