"""A built-in parity sample: review-like texts of varied lengths, some past any max_length.

Written for sentiscore. Used by export's parity check (no --validate-with data given), by
``sentiscore upgrade`` and by ``sentiscore bench`` (no DATA given).
"""

from __future__ import annotations

SENTENCES = [
    "The movie was fantastic! I loved it.",
    "Terrible service, cold food and a rude waiter.",
    "It was fine.",
    "I would not buy this again; it broke after two days.",
    "An absolute joy from the first page to the last.",
    "Meh.",
    "The acting was wooden and the plot made no sense at all.",
    "Great value for the price, and shipping was quick.",
    "I expected more from such a famous director, honestly.",
    "Five stars. My kids watch it every weekend.",
    "The battery lasts all day and the screen is gorgeous.",
    "Worst hotel stay of my life: noisy, dirty and overpriced.",
    "Not bad, not great, somewhere in the middle.",
    "The soundtrack alone is worth the ticket.",
    "Customer support never answered my emails.",
    "A slow start, but the ending blew me away.",
    "Cheap plastic, flimsy hinges, returned it the same day.",
    "I laughed, I cried, I bought the sequel.",
    "The instructions were confusing and two screws were missing.",
    "Surprisingly good for a budget brand.",
    "Boring. I fell asleep halfway through.",
    "Delicious pasta and friendly staff; we will be back.",
    "The update made the app slower and it crashes constantly.",
    "A masterpiece of quiet, patient storytelling.",
    "It does what it says, nothing more.",
    "Painfully long and utterly predictable.",
    "Comfortable shoes, true to size, and they look great.",
    "The villain was the only interesting character.",
    "I can't recommend this enough to anyone who loves jazz.",
    "Arrived broken and the refund took a month.",
]


def builtin_sample(n: int = 200) -> list[str]:
    """``n`` texts: single sentences, short paragraphs and long concatenations (past 512 tokens)."""
    out: list[str] = []
    k = len(SENTENCES)
    i = 0
    while len(out) < n:
        span = (1, 3, 8, 40)[i % 4]
        out.append(" ".join(SENTENCES[(i + j) % k] for j in range(span)))
        i += 1
    return out
