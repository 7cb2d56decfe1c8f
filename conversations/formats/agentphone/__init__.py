"""The AgentPhone conversations wire format (``/agentphone/v1``), ``providers/telnyx-agentphone.md``
Part B."""
