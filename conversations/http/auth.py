"""API-key authentication for every wire format (DRF authentication classes).

Clients send ``Authorization: Bearer <key>``; Azure clients may send ``api-key: <key>``
instead (``AzureOpenAI`` 2.x/3.x sends only ``api-key``; ``docs/contract.md`` §Sources:
Azure OpenAI v1).
HTTP Basic with a blank user name and the key as the password (RFC 7617; ``curl -u ":$KEY"``,
a browser's password prompt) is accepted too, as OpenAI's own 401 message offers it.
Failures raise DRF's ``NotAuthenticated`` (no key) or ``AuthenticationFailed`` (wrong or
revoked key); each format's error renderer words them in its own shape.
"""

import base64

from rest_framework import authentication, exceptions

from conversations.services import api_key_authenticate


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer <key>``; ``request.auth`` is the :class:`ApiKey`."""

    accept_api_key_header = False

    def get_raw_key(self, request) -> str:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        scheme, _, credentials = header.partition(" ")
        if scheme.lower() == "bearer" and credentials.strip():
            return credentials.strip()
        if scheme.lower() == "basic" and credentials.strip():
            return self.basic_password(credentials.strip())
        if self.accept_api_key_header:
            return request.META.get("HTTP_API_KEY", "").strip()
        return ""

    @staticmethod
    def basic_password(credentials: str) -> str:
        """The password of Basic ``credentials`` whose user name is blank, else ``""``.

        ``credentials`` is base64 of ``user-id ":" password`` (RFC 7617 §2). A user name
        that is not blank, or credentials that do not decode, carry no key (the answer is
        the "no key" 401, which says how to send one).
        """
        try:
            decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
        except ValueError:  # not base64 (binascii.Error), not ASCII, or not UTF-8
            return ""
        user, colon, password = decoded.partition(":")
        return password.strip() if colon and not user else ""

    def authenticate(self, request):
        raw_key = self.get_raw_key(request)
        if not raw_key:
            raise exceptions.NotAuthenticated()
        api_key = api_key_authenticate(raw_key)
        if api_key is None:
            error = exceptions.AuthenticationFailed(code="invalid_api_key")
            error.raw_key = raw_key
            raise error
        return (None, api_key)

    def authenticate_header(self, request):
        return 'Bearer realm="convstore"'


class AzureApiKeyAuthentication(ApiKeyAuthentication):
    """Bearer auth, or the ``api-key`` header Azure OpenAI clients send."""

    accept_api_key_header = True
