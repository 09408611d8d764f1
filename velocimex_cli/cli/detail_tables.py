"""A record shown field by field for a person, built only when a table is printed (Rich is
imported then, never for JSON, NDJSON or CSV). What a command adds is how a few fields read
for a person (None as "never", ...); the record it emits as data stays as it is."""

from __future__ import annotations

from typing import Any


def record_detail(payload: Any) -> Any:
    """One record (an order, the dead-man switch's state, a profile's key, ...) field by field."""
    from velocimex_cli.render.tables import detail_table

    return detail_table(payload)


def rotated_key_detail(payload: Any) -> Any:
    """A key given a new secret (`vmx auth rotate`, `vmx engine keys rotate`): no grace for the
    old secret reads "(stopped at once)", no expiry reads "never"."""
    shown = dict(payload)
    shown["previous_until"] = shown["previous_until"] or "(stopped at once)"
    shown["expires_at"] = shown["expires_at"] or "never"
    return record_detail(shown)
