"""The Telnyx AI conversations wire format (``/telnyx/v2``), with the AI switch on chat."""
