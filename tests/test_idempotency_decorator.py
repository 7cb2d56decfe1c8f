"""The ``@idempotent`` decorator's contract for an action that *returns* an answer outside
2xx (conversations/http/idempotency.py): the answer goes back as it is, the action's writes
roll back, and the key is freed for a corrected retry. The API's own create actions raise
their errors instead (tests/test_idempotency.py covers those), so a small view stands in."""

from http import HTTPStatus

import pytest
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from conversations.http.idempotency import idempotent
from conversations.models import Conversation, IdempotencyKey
from conversations.selectors import Partition

pytestmark = pytest.mark.django_db


class WritesThenAnswers(APIView):
    """Creates a conversation, then answers ``status`` (given per request)."""

    authentication_classes = ()
    permission_classes = ()
    partition: Partition | None = None  # what FormatViewMixin sets from the API key

    @idempotent
    def post(self, request):
        Conversation.objects.create(project=self.partition.project)
        return Response({"answered": request.data["status"]}, status=request.data["status"])


def call(project, status):
    view = WritesThenAnswers.as_view(partition=Partition(project=project))
    request = APIRequestFactory().post(
        "/r", {"status": status}, format="json", HTTP_IDEMPOTENCY_KEY="k"
    )
    response = view(request)
    if isinstance(response, Response):  # a replay is a plain HttpResponse, already bytes
        response.render()
    return response


def test_an_answer_outside_2xx_is_returned_rolled_back_and_frees_the_key(project):
    refused = call(project, HTTPStatus.CONFLICT)
    assert refused.status_code == HTTPStatus.CONFLICT
    assert refused.data == {"answered": HTTPStatus.CONFLICT}
    assert Conversation.objects.count() == 0  # the action's write rolled back
    assert IdempotencyKey.objects.count() == 0  # the key is free again


def test_a_2xx_answer_is_stored_with_the_write_and_replayed(project):
    first = call(project, HTTPStatus.CREATED)
    again = call(project, HTTPStatus.CREATED)
    assert (first.status_code, again.status_code) == (HTTPStatus.CREATED, HTTPStatus.CREATED)
    assert again["Idempotent-Replayed"] == "true" and again.content == first.content
    assert Conversation.objects.count() == 1
