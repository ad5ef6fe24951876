"""``<<name>>`` placeholders: find, validate and fill them, in text and in provider params."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from django.utils.translation import gettext_lazy as _

from django_sms_verify.exceptions import TemplateError

PLACEHOLDER = re.compile(r"<<\s*([A-Za-z_][A-Za-z0-9_]*)\s*>>")
# anything that still looks like a placeholder after filling, e.g. "<<code >" or "<< 1 >>"
LEFTOVER = re.compile(r"<<[^<>]{0,64}>>")
LOGTO_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")

VERIFICATION_PLACEHOLDERS = frozenset({"code", "ttl_minutes"})


def placeholders_in(value: Any) -> set[str]:
    """Every placeholder name in a string, or in the strings of a dict/list of params."""
    names: set[str] = set()
    for text in _strings(value):
        names.update(PLACEHOLDER.findall(text))
    return names


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


def render(value: Any, context: Mapping[str, Any]) -> Any:
    """Fill placeholders in a string or in every string of a dict/list.

    Raises :class:`TemplateError` naming what cannot be filled, so that nothing is ever
    sent with ``<<…>>`` left in it.
    """
    missing = sorted(placeholders_in(value) - set(context))
    if missing:
        raise TemplateError(_("The template needs values for: %(names)s.") % {"names": ", ".join(missing)})
    return _fill(value, context)


def _fill(value: Any, context: Mapping[str, Any]) -> Any:
    if isinstance(value, str):
        filled = PLACEHOLDER.sub(lambda m: str(context[m.group(1)]), value)
        if LEFTOVER.search(filled):
            raise TemplateError(
                _("The template has a malformed placeholder: %(text)s")
                % {"text": LEFTOVER.search(filled).group(0)}
            )
        return filled
    if isinstance(value, Mapping):
        return {key: _fill(item, context) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_fill(item, context) for item in value]
    return value


def check_verification_template(content: str, params: Any) -> None:
    """A verification template may only use ``<<code>>`` and ``<<ttl_minutes>>``, and must
    carry the code in its text or in its provider params."""
    check_wellformed([content, params])
    names = placeholders_in([content, params])
    unknown = sorted(names - VERIFICATION_PLACEHOLDERS)
    if unknown:
        raise TemplateError(
            _("Unknown placeholder %(names)s: a verification template can use <<code>> and <<ttl_minutes>>.")
            % {"names": ", ".join(f"<<{n}>>" for n in unknown)}
        )
    if "code" not in names:
        raise TemplateError(_("A verification template must contain <<code>>."))


def check_wellformed(value: Any) -> None:
    """Raise :class:`TemplateError` for anything like ``<<co de>>`` that is no placeholder."""
    for text in _strings(value):
        bad = LEFTOVER.search(PLACEHOLDER.sub("", text))
        if bad:
            raise TemplateError(_("Malformed placeholder %(text)s.") % {"text": bad.group(0)})


def from_logto(value: Any) -> Any:
    """Logto writes ``{{code}}``; we write ``<<code>>``."""
    if isinstance(value, str):
        return LOGTO_PLACEHOLDER.sub(r"<<\1>>", value)
    if isinstance(value, Mapping):
        return {key: from_logto(item) for key, item in value.items()}
    if isinstance(value, list):
        return [from_logto(item) for item in value]
    return value
