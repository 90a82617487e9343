"""agentcore-wizard core: stages, state, sandbox. Never imports textual."""

__version__ = "0.1.0"
