"""The TwiML a voice code call speaks: the message text, with the code read digit by digit.

The text is the template content rendered like an SMS. The code in it is spelled out one
digit at a time, slowly, with a pause between digits; other numbers ("valid 10 minutes",
an order number, a hotline) are read as numbers. Without a known code (a voice
notification), every run of 4 or more digits is spelled. The whole text is said twice, so
a listener who missed the code hears it again.
"""

from __future__ import annotations

import re

from twilio.twiml.voice_response import Say, VoiceResponse

DIGIT_RUN = re.compile(r"[0-9]{4,}")
REPEATS = 2
DIGIT_PAUSE = "500ms"

# Template language (lower case, "_" read as "-") -> (Twilio <Say> language, voice).
# Amazon Polly voices take SSML (<prosody>, <break>); Twilio lists Polly.Zhiyu, its
# Mandarin voice, under the language code cmn-CN.
VOICES: dict[str, tuple[str, str]] = {
    "": ("en-US", "Polly.Joanna"),
    "en": ("en-US", "Polly.Joanna"),
    "en-us": ("en-US", "Polly.Joanna"),
    "en-gb": ("en-GB", "Polly.Amy"),
    "zh": ("cmn-CN", "Polly.Zhiyu"),
    "zh-cn": ("cmn-CN", "Polly.Zhiyu"),
    "zh-hans": ("cmn-CN", "Polly.Zhiyu"),
    "zh-hans-cn": ("cmn-CN", "Polly.Zhiyu"),
    "cmn": ("cmn-CN", "Polly.Zhiyu"),
    "cmn-cn": ("cmn-CN", "Polly.Zhiyu"),
}


def voice_for(language: str) -> tuple[str, str | None]:
    """(Twilio language, Polly voice or None) for a template language.

    A language we have no voice for is passed to Twilio as written, with its default
    voice, and the digits are separated by commas instead of SSML pauses.
    """
    tag = (language or "").strip().replace("_", "-")
    found = VOICES.get(tag.lower())
    if found is not None:
        return found
    return tag, None


def build_twiml(text: str, language: str, code: str = "") -> str:
    """Inline TwiML that says ``text`` twice, ``code`` (else any digit run) digit by digit."""
    say_language, voice = voice_for(language)
    spelled = _spelled_pattern(code)
    response = VoiceResponse()
    response.pause(length=1)  # the callee is still bringing the phone to the ear
    for repeat in range(REPEATS):
        if repeat:
            response.pause(length=1)
        say = Say(voice=voice, language=say_language or None)
        if voice is None:
            say.value = spelled.sub(lambda m: ", ".join(m.group(0)) + ",", text)
        else:
            _append_ssml(say, text, spelled)
        response.append(say)
    return response.to_xml()


def _spelled_pattern(code: str) -> re.Pattern[str]:
    if code.isdigit():
        # The code itself, not as part of a longer number.
        return re.compile(rf"(?<![0-9]){re.escape(code)}(?![0-9])")
    return DIGIT_RUN


def _append_ssml(say: Say, text: str, spelled: re.Pattern[str]) -> None:
    """``text`` into ``say``: plain text, and each spelled match as slow digits with breaks."""
    position = 0
    for match in spelled.finditer(text):
        if match.start() > position:
            say.nest(text[position : match.start()])
        digits = say.prosody(rate="slow")
        for index, digit in enumerate(match.group(0)):
            if index:
                digits.break_(time=DIGIT_PAUSE)
            digits.nest(digit)
        position = match.end()
    if position < len(text):
        say.nest(text[position:])
