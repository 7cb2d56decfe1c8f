"""The OpenAI Conversations wire format, and Azure OpenAI v1 (OpenAI + isolation + api-key)."""
