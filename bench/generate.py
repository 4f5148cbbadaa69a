"""Synthetic Gancio instances in the real API's shapes, for the benchmark.

Deterministic for a given (count, seed, start): tags drawn from a Zipf-like set, a few
hundred places with coordinates, ~1 KB HTML descriptions, an image on most events, about
5% multi-day events and 5% occurrences of recurrent series (``parentId`` set), all
upcoming from ``start``. Rows carry the list fields plus ``description``, ``is_visible``
and ``recurrent``, as the test fake expects.
"""

from __future__ import annotations

import random

WORDS = (
    "assemblea concerto cena benefit presentazione libro proiezione film laboratorio mercato "
    "festa quartiere musica live jazz punk teatro danza incontro dibattito mostra fotografia "
    "ciclofficina biblioteca popolare giardino radio cucina sociale torneo serata karaoke "
    "reading poesia workshop stampa serigrafia palestra sportello casa lavoro scuola cinema"
).split()
TAGS = [
    "musica",
    "concerto",
    "teatro",
    "cinema",
    "assemblea",
    "ecologia",
    "bici",
    "libri",
    "benefit",
    "cena",
    "festa",
    "laboratorio",
    "mercato",
    "danza",
    "jazz",
    "punk",
    "poesia",
    "fumetto",
    "arte",
    "fotografia",
    "radio",
    "sport",
    "bambini",
    "software libero",
    "hacklab",
    "privacy",
    "dibattito",
    "mostra",
    "workshop",
    "karaoke",
    "dj set",
    "open mic",
    "caffè",
    "città",
    "università",
    "mutuo aiuto",
    "tecnología",
    "ciclofficina",
] + [f"tema {i}" for i in range(80)]


def _sentence(rng: random.Random) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(6, 16))]
    return " ".join(words).capitalize() + "."


def _description(rng: random.Random) -> str:
    parts, size = [], 0
    while size < 1000:
        kind = rng.random()
        if kind < 0.2:
            part = f"<p><strong>{_sentence(rng)}</strong></p>"
        elif kind < 0.4:
            part = f'<p>{_sentence(rng)} <a href="https://example.org/{rng.choice(WORDS)}">info</a></p>'
        else:
            part = f"<p>{_sentence(rng)} {_sentence(rng)}</p>"
        parts.append(part)
        size += len(part)
    return "".join(parts)


def generate(count: int, start: int, seed: int = 1) -> list[dict]:
    """Return ``count`` event rows starting after unix time ``start``."""
    rng = random.Random(seed)
    places = [
        {
            "id": i,
            "name": f"{rng.choice(['Spazio', 'Circolo', 'Casa', 'Centro'])} {rng.choice(WORDS).title()} {i}",
            "address": f"Via {rng.choice(WORDS).title()} {rng.randint(1, 200)}, Città",
            "latitude": round(45 + rng.random(), 6),
            "longitude": round(7 + rng.random(), 6),
        }
        for i in range(1, max(20, min(400, count // 25)) + 1)
    ]
    tag_weights = [1 / (k + 1) for k in range(len(TAGS))]
    place_weights = [1 / (k + 1) ** 0.6 for k in range(len(places))]
    rows = []
    for event_id in range(1, count + 1):
        title = " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 7))).capitalize()
        begin = start + 3600 + rng.randint(0, 365 * 24) * 3600
        multidate = rng.random() < 0.05
        end = begin + (rng.randint(1, 4) * 86400 if multidate else rng.randint(1, 5) * 3600)
        tags: list[str] = []
        for _ in range(rng.choice((0, 1, 1, 2, 2, 3))):
            tag = rng.choices(TAGS, tag_weights)[0]
            if tag not in tags:
                tags.append(tag)
        media = []
        if rng.random() < 0.7:
            media.append(
                {
                    "url": f"{rng.getrandbits(128):032x}.jpg",
                    "width": 1200,
                    "height": rng.choice((675, 800, 1200)),
                    "name": title[:40],
                    "size": rng.randint(40000, 400000),
                    "focalpoint": [0, 0],
                }
            )
        row = {
            "id": event_id,
            "title": title,
            "slug": f"{title.lower().replace(' ', '-')}-{event_id}",
            "start_datetime": begin,
            "end_datetime": end,
            "media": media,
            "online_locations": [],
            "updatedAt": "2026-11-20T10:00:00.000Z",
            "apUserApId": None,
            "parentId": rng.randint(1, 50) + count if rng.random() < 0.05 else None,
            "tags": tags,
            "place": dict(rng.choices(places, place_weights)[0]),
            "description": _description(rng),
            "is_visible": True,
            "recurrent": None,
        }
        if multidate:
            row["multidate"] = True
        rows.append(row)
    return rows
