"""Text the bot says itself, English and Arabic side by side.

The router issue grows this into per-language catalogs; the spine needs the fallback and media answers.
"""
from __future__ import annotations

from bot.nlu.normalize import detect_language  # noqa: F401 - the catalog's callers pick the language with it

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
    "clarify": {
        "en": "I want to be sure I understood. Did you mean:\n{options}\n\nReply with the number, or ask in other words.",
        "ar": "أريد التأكد أنني فهمتك. هل تقصد:\n{options}\n\nأرسل الرقم، أو اكتب سؤالك بطريقة أخرى.",
    },
    "feedback_prompt": {
        "en": "_Was this helpful? Reply 👍 or 👎_",
        "ar": "_هل كانت الإجابة مفيدة؟ أرسل 👍 أو 👎_",
    },
    "feedback_thanks": {
        "en": "Thank you for the feedback! 🙏",
        "ar": "شكراً على تقييمك! 🙏",
    },
    "feedback_sorry": {
        "en": "Sorry that didn't help. Try asking in other words, reply *menu* for options, or *agent* for a person.",
        "ar": "نأسف لأن الإجابة لم تساعدك. جرّب صياغة سؤالك بطريقة أخرى، أو أرسل *القائمة* للخيارات، أو *موظف* للتحدث مع شخص.",
    },
    "human_requested": {
        "en": "I've asked the events team to reply to you here. A person will answer as soon as they can "
              "(usually within a few hours, 9:00–21:00 Aden time).",
        "ar": "طلبت من فريق الفعاليات الرد عليك هنا. سيجيبك أحد أفراد الفريق في أقرب وقت "
              "(عادةً خلال ساعات قليلة، من ٩ صباحاً حتى ٩ مساءً بتوقيت عدن).",
    },
    "feedback_invite": {
        "en": "We'd love to hear it! Write your feedback or suggestion in one message and the events team will read it.",
        "ar": "يسعدنا سماع رأيك! اكتب ملاحظتك أو اقتراحك في رسالة واحدة وسيقرؤها فريق الفعاليات.",
    },
    "feedback_received": {
        "en": "Thank you, your feedback has been passed to the events team. 🙏",
        "ar": "شكراً لك، وصلت ملاحظتك إلى فريق الفعاليات. 🙏",
    },
    "language_set": {
        "en": "Done — I'll write to you in English. (Send *عربي* to switch to Arabic.)",
        "ar": "تم — سأراسلك بالعربية. (أرسل *English* للتبديل إلى الإنجليزية.)",
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


def say(key: str, language: str, **values: str) -> str:
    return MESSAGES[key][language].format(**values)


def say_both(key: str, first: str = "en", **values: dict[str, str] | str) -> str:
    """Both languages, the user's first: used when the bot cannot be sure which one the user reads."""
    second = "ar" if first == "en" else "en"
    def render(lang: str) -> str:
        return MESSAGES[key][lang].format(**{k: v[lang] if isinstance(v, dict) else v for k, v in values.items()})
    return f"{render(first)}\n\n{render(second)}"
