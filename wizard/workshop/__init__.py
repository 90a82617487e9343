"""Workshop mode: one shared sandbox (or account) for a room of participants, and the facilitator's tools."""
