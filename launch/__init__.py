"""The launcher: one command that checks, downloads, waits, previews, supervises the bridge and
the engine through a session, and survives being killed (design.md §1–§2)."""
