"""Let the next files land in the streaming example (run it, then `odibi run` again).

Writes each file aside and renames it into place, as a well-behaved uploader does: a streaming
query never sees half a file.
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent

NEXT = {
    "events/2026-11-27T1230.json": [
        '{"order_id": 6, "customer_id": 12, "amount": 30.0, "event_time": "2026-11-27T12:31:00"}',
        # 12:04 is behind the watermark (12:21 - 10 min): the window aggregate drops it.
        '{"order_id": 7, "customer_id": 10, "amount": 5.0, "event_time": "2026-11-27T12:04:00"}',
    ],
    "customers/2026-11-27T1230.csv": [
        "customer_id,name,tier,updated_at",
        "11,Brook,gold,2026-11-27T12:30:00",
        "13,Dara,silver,2026-11-27T12:30:00",
    ],
}


def main() -> None:
    for name, lines in NEXT.items():
        target = HERE / "landing" / name
        if target.exists():
            print(f"{target.relative_to(HERE)} has landed already")
            continue
        staging = target.parent.parent / f".{target.name}.tmp"
        staging.write_text("\n".join(lines) + "\n", encoding="utf-8")
        staging.rename(target)
        print(f"landed {target.relative_to(HERE)}")


if __name__ == "__main__":
    main()
