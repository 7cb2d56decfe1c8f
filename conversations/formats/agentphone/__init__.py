"""The AgentPhone conversations wire format (``/agentphone/v1``), ``docs/contract.md``."""
