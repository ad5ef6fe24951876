"""DRF's JSON parser, hardened: input it cannot represent is a 400, never a 500."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


class StrictJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError as exc:  # nesting deeper than the decoder's stack
            raise ParseError(_("JSON parse error - nested too deeply.")) from exc
        if _has_lone_surrogate(data):
            # "\ud800" is valid JSON but no text: it could not even be encoded in an answer.
            raise ParseError(_("JSON parse error - invalid Unicode escape."))
        return data


def _has_lone_surrogate(data) -> bool:
    pending = [data]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False
