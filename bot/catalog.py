"""Text the bot says itself, English and Arabic side by side.

The router issue grows this into per-language catalogs; the spine needs the fallback and media answers.
"""
from __future__ import annotations

import re

_ARABIC = re.compile(r"[\u0600-\u06FF\u0750-\u077F\u08A0-\u08FF\uFB50-\uFDFF\uFE70-\uFEFF]")

MESSAGES: dict[str, dict[str, str]] = {
    "fallback": {
        "en": "Sorry, I can't answer that right now. Reply *menu* to see what I can do, "
              "or *agent* to reach a person from the events team.",
        "ar": "عذراً، لا أستطيع الإجابة الآن. أرسل *القائمة* لمعرفة ما يمكنني فعله، "
              "أو *موظف* للتواصل مع شخص من فريق الفعاليات.",
    },
    "media_received": {
        "en": "Thanks, we received your {kind}. A person from the events team will look at it; "
              "if you have a question, please write it as text.",
        "ar": "شكراً، وصلنا {kind}. سيطّلع فريق الفعاليات على ما أرسلته؛ وإذا كان لديك سؤال فاكتبه نصاً من فضلك.",
    },
    "location_received": {
        "en": "Thanks, we received your location{label}. Ask me about events near you or how to get to a venue.",
        "ar": "شكراً، وصلنا موقعك{label}. اسألني عن الفعاليات القريبة منك أو كيف تصل إلى مكان الفعالية.",
    },
    "empty_message": {
        "en": "I received an empty message. How can I help you with our events?",
        "ar": "وصلتني رسالة فارغة. كيف أقدر أساعدك في فعالياتنا؟",
    },
}

MEDIA_KINDS = {
    "image": {"en": "image", "ar": "الصورة"},
    "video": {"en": "video", "ar": "الفيديو"},
    "audio": {"en": "voice note", "ar": "الرسالة الصوتية"},
    "document": {"en": "document", "ar": "الملف"},
    "sticker": {"en": "sticker", "ar": "الملصق"},
    "media": {"en": "file", "ar": "الملف"},
}


def detect_language(text: str) -> str:
    """'ar' when the text holds Arabic script, else 'en' (the router issue refines this, e.g. Arabizi)."""
    return "ar" if _ARABIC.search(text or "") else "en"


def say(key: str, language: str, **values: str) -> str:
    return MESSAGES[key][language].format(**values)


def say_both(key: str, first: str = "en", **values: dict[str, str] | str) -> str:
    """Both languages, the user's first: used when the bot cannot be sure which one the user reads."""
    second = "ar" if first == "en" else "en"
    def render(lang: str) -> str:
        return MESSAGES[key][lang].format(**{k: v[lang] if isinstance(v, dict) else v for k, v in values.items()})
    return f"{render(first)}\n\n{render(second)}"
