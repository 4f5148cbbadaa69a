"""Make the demo snapshot (and the test fixture) from captures of a real Gancio 1.21 server.

Usage: python scripts/make_snapshot.py CAPTURES_DIR OUT.json

Merges the list dump (which has `updatedAt`) with the per-event details (which have the
description, visibility and recurrence rule) into one file: the instance as it was.
Maintainers run this by hand; neither the package nor the tests read the captures.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

DETAIL_KEYS = (
    "id",
    "title",
    "slug",
    "description",
    "multidate",
    "start_datetime",
    "end_datetime",
    "media",
    "is_visible",
    "recurrent",
    "online_locations",
    "parentId",
    "tags",
    "place",
)


def main(captures: Path, out: Path) -> None:
    listed = json.loads((captures / "events-all-recurrent.json").read_text())
    details = json.loads((captures / "event-details-all.json").read_text())
    nodeinfo = json.loads((captures / "captures" / "a10-nodeinfo.json").read_text())["body"]
    updated = {row["id"]: row["updatedAt"] for row in listed["body"]}
    events = []
    for item in details["events"]:
        if item["status"] != 200:
            continue  # deleted on the server
        body = item["body"]
        row = {key: body[key] for key in DETAIL_KEYS}
        row["updatedAt"] = updated.get(body["id"], listed["captured_at"].replace("Z", ".000Z"))
        events.append(row)
    snapshot = {
        "note": "Events of a real Gancio 1.21.0 instance (Europe/Rome), as its API served them.",
        "captured_at_unix": listed["captured_at_unix"],
        "instance": "https://gancio.example.org",
        "nodeinfo": nodeinfo,
        "events": events,
    }
    out.write_text(json.dumps(snapshot, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
