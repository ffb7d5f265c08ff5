"""A small bilingual concept lexicon: English words, Modern Standard Arabic and Yemeni/Gulf/Levantine/
Egyptian dialect words that mean the same thing, grouped under one concept name.

The matcher adds the concepts a text mentions as an extra feature channel (``concepts``). That gives two
things plain n-grams cannot:

* **synonyms and dialect words** that share no letters: ولد / عيال / جهال / اطفال ("children"), طافي /
  انقطاع / انطفت ("power is off"), فلوس / زلط / مصاري ("money");
* **a word-level cross-lingual step**: an Arabic query can meet an entry whose only matching word is an
  English example or keyword (قهوه ↔ coffee), and the other way round.

The groups are general language facts about everyday vocabulary of events, tickets, payments and customer
service (the bot's domain), not phrasings taken from any evaluation set. Broken plurals are listed next to
their singulars (كرسي / كراسي, تذكره / تذاكر) because light stemming cannot relate them. Words that are
ambiguous across concepts in this domain (مكان "place", وقت "time" next to ساعه "hour/clock") are left
out on purpose. Common Arabizi spellings (tathkara, 7ajz, atfal) are listed too. Forms are written as users
type them; ``concept_index`` normalises them.
"""
from __future__ import annotations

CONCEPTS: dict[str, tuple[str, ...]] = {
    # --- tickets, booking, payment ---------------------------------------------------------------------
    "ticket": ("تذاكري", "tathkara", "tadhkara", "tazkara", "tathakir", "tazaker", "ticket", "tickets", "tix",
               "تذكره", "تذاكر", "تكت", "تكيت", "تيكت", "بطاقه دخول"),
    "book": ("حجزت", "احجزلي", "سجلني", "سجلوني", "hajz", "7ajz", "a7jez", "a7jiz", "ahjez", "tasjeel", "tasjil",
             "asajel", "book", "booking", "reserve", "reservation", "register", "registration", "signup",
             "sign up", "enroll", "enrol", "حجز", "احجز", "نحجز", "يحجز", "حجوزات", "تسجيل", "سجل", "اسجل", "نسجل",
             "يسجل", "التسجيل", "اشترك", "اشتراك"),
    "price": ("بكام", "حقه", "كم حقها", "يكلف", "تكلف", "expensive", "cheap", "غالي", "رخيص", "rial", "riyal",
              "ريال", "ريالات", "si3r", "se3r", "sa3r", "as3ar", "bkam", "bikam", "rusoom", "price", "prices",
              "cost", "costs", "fee", "fees", "charge", "charges", "سعر", "اسعار", "ثمن", "تكلفه", "كلفه", "رسوم",
              "قيمه", "بكم", "كم سعر"),
    "pay": ("حواله", "حوالات", "تحويل", "transfer", "pay", "paying", "payment", "payments", "paid", "دفع", "ادفع",
            "يدفع", "ندفع", "الدفع", "سداد", "اسدد", "تسديد", "دفعت"),
    "money": ("flos", "floos", "fulus", "filoos", "zalat", "money", "cash", "فلوس", "مصاري", "مصاريف", "زلط",
              "بيزات", "نقد", "نقدا", "نقدي", "كاش", "مبلغ", "المبلغ", "فيزا"),
    "wallet": ("wallet", "ewallet", "e wallet", "mobile money", "محفظه", "محافظ", "جوالي", "jawali", "floosak",
               "onecash", "one cash", "ون كاش", "كريمي", "kuraimi"),
    "refund": ("رجعولي", "ترجعون", "istirja3", "estrja3", "refund", "refunds", "refunded", "money back",
               "reimburse", "reimbursement", "استرجاع", "استرداد", "ارجاع", "ترجيع", "استرجع", "استرد",
               "ارجع فلوسي", "يرجعون", "رجعوا"),
    "cancel": ("الغوا", "يتلغي", "تنلغي", "elgha", "ilgha", "alghi", "algi", "cancel", "cancelled", "canceled",
               "cancellation", "call off", "الغاء", "الغي", "الغيت", "يلغي", "تلغي", "كنسل", "اكنسل", "تلغت",
               "انلغت", "ملغي", "ملغيه"),
    "discount": ("khasm", "5asm", "takhfeed", "discount", "discounts", "offer", "offers", "deal", "reduced",
                 "cheaper", "half price", "خصم", "خصومات", "تخفيض", "تخفيضات", "عرض", "عروض", "تنزيل"),
    "group": ("group", "groups", "team", "bulk", "many people", "مجموعه", "مجموعات", "جماعه", "فريق", "قروب",
              "جروب", "شله"),
    "student": ("talib", "6alib", "tullab", "6ullab", "jam3a", "jame3a", "student", "students", "university",
                "college", "uni", "طالب", "طلاب", "طالبه", "طالبات", "جامعه", "جامعي", "جامعيه", "كليه", "دارس"),
    # --- place, time ---------------------------------------------------------------------------------
    "location": ("اوصل", "نوصل", "الطريق", "get there", "location", "address", "venue", "directions", "map", "pin",
                 "موقع", "عنوان", "لوكيشن", "الخريطه", "خريطه", "لوكيشين"),
    "hall": ("صالة", "hall", "auditorium", "قاعه", "صاله", "القاعه"),
    "car": ("sayara", "sayyara", "seyara", "motar", "car", "cars", "vehicle", "سياره", "سيارات", "موتر", "عربيه",
            "عربيات", "سيارتي"),
    "parking": ("parking", "park", "parked", "car park", "parking lot", "موقف", "مواقف", "باركنج", "باركينج",
                "اوقف", "اصف", "اركن", "اصفط"),
    "start": ("يبتدي", "تبتدي", "الافتتاح", "افتتاح", "start", "starts", "begin", "begins", "open", "opens",
              "opening", "doors", "يبدا", "تبدا", "بدايه", "يفتح", "تفتح", "تفتحون", "يفتحون", "الابواب", "ابواب",
              "موعد", "مواعيد"),
    "hour": ("hour", "hours", "oclock", "ساعه", "الساعه", "ساعات"),
    "tomorrow": ("tomorrow", "بكره", "بكرا", "غدا", "باكر", "بكر"),
    # --- people, policies ----------------------------------------------------------------------------
    "child": ("رضيع", "بيبي", "infant", "infants", "toddlers", "اطفالي", "atfal", "a6fal", "3yal", "3eyal",
              "3iyal", "awlad", "jahal", "child", "children", "kid", "kids", "son", "daughter", "baby", "babies",
              "toddler", "طفل", "اطفال", "ولد", "اولاد", "عيال", "جهال", "بزر", "بزور", "بزران", "صغار", "ابني",
              "بنتي", "ابنتي", "ولدي", "طفلي"),
    "family": ("اهلي", "family", "families", "عائله", "عائلات", "عائلي", "عائليه", "عايله", "اسره", "اسر"),
    "women": ("نسائي", "نسائيه", "حريمي", "nisa", "niswan", "7areem", "hareem", "women", "woman", "ladies", "lady",
              "female", "females", "girls", "نساء", "النساء", "حريم", "سيدات", "نسوان", "بنات", "حرمه"),
    "wheelchair": ("wheelchair", "wheelchairs", "كرسي متحرك", "كراسي متحركه", "كرسي", "كراسي"),
    "disabled": ("blind", "deaf", "crutches", "كفيف", "مكفوف", "اصم", "عكاز", "disabled", "disability",
                 "disabilities", "handicapped", "accessible", "accessibility", "special needs", "اعاقه", "معاق",
                 "معاقين", "ذوي الاحتياجات", "احتياجات خاصه", "عاجز"),
    "ramp": ("ramp", "ramps", "منحدر", "مطلع"),
    "clothes": ("زي", "الزي", "ازياء", "عبايه", "عبايات", "معوز", "فوطه", "جينز", "jeans", "shorts", "casual",
                "formal", "libs", "lebs", "malabis", "clothes", "clothing", "wear", "dress", "outfit", "attire",
                "dress code", "لبس", "ملابس", "البس", "هدوم", "ثياب", "ثوب", "لباس", "نلبس", "يلبس"),
    "allowed": ("allowed", "permitted", "ok to", "مسموح", "يسمح", "يجوز", "ينفع", "مسموحه", "مسموحين"),
    "forbidden": ("forbidden", "banned", "prohibited", "ممنوع", "ممنوعه", "يمنع"),
    "bag": ("shanta", "shantah", "bag", "bags", "backpack", "handbag", "purse", "suitcase", "شنطه", "شنط", "حقيبه",
            "حقائب", "جنطه"),
    "weapon": ("كلاشن", "رصاص", "silah", "sila7", "jambiya", "weapon", "weapons", "gun", "guns", "knife", "dagger",
               "janbiya", "سلاح", "اسلحه", "جنبيه", "خنجر", "مسدس", "بندق", "بندقيه", "الجنبيه"),
    "security": ("security", "inspection", "search", "screening", "guard", "guards", "تفتيش", "فتش", "يفتشون",
                 "امن", "الامن", "حراسه", "حارس"),
    "smoke": ("معسل", "شمه", "tadkheen", "tad5een", "dukhan", "dokhan", "smoke", "smoking", "cigarette",
              "cigarettes", "shisha", "hookah", "vape", "تدخين", "دخان", "ادخن", "يدخن", "سجائر", "سيجاره",
              "سجاير", "شيشه", "مداعه", "ارجيله"),
    "qat": ("مخزن", "تخزينه", "qat", "khat", "gat", "قات", "القات", "تخزين", "اخزن", "نخزن", "مقيل"),
    # --- food, media, connectivity, power ------------------------------------------------------------
    "food": ("ناكل", "ياكل", "اكلات", "مطعم", "مطاعم", "بوفيه", "restaurant", "buffet", "كافتيريا", "cafeteria",
             "hungry", "جوعان", "akl", "akel", "wajbat", "food", "eat", "eating", "meal", "meals", "snack",
             "snacks", "lunch", "dinner", "breakfast", "اكل", "طعام", "وجبه", "وجبات", "غدا", "عشا", "عشاء",
             "فطور", "ماكولات", "سناك"),
    "drink": ("thirsty", "عطشان", "drink", "drinks", "beverage", "beverages", "juice", "water", "مشروب", "مشروبات",
              "شرب", "اشرب", "عصير", "عصائر", "موي", "مويه", "ماء"),
    "coffee": ("شاهي", "قشر", "كابتشينو", "cappuccino", "espresso", "نسكافيه", "gahwa", "qahwa", "8ahwa", "ghahwa",
               "shay", "chai", "coffee", "tea", "قهوه", "شاي", "كوفي", "قهوتي"),
    "photo": ("صورني", "سيلفي", "selfie", "sowar", "suwar", "tasweer", "taswir", "photo", "photos", "picture",
              "pictures", "pics", "camera", "photographer", "photographers", "photography", "صور", "صوره", "تصوير",
              "اصور", "نصور", "يصور", "مصور", "مصورين", "كاميرا", "كاميره"),
    "video": ("مقطع", "مقاطع", "بث مباشر", "live stream", "livestream", "streaming", "video", "videos", "film",
              "filming", "فيديو", "فديو", "اصور فيديو", "تسجيل فيديو"),
    "wifi": ("hotspot", "wifi", "wi fi", "wireless", "internet", "net", "واي فاي", "وايفاي", "واي فا", "وايرلس",
             "نت", "انترنت", "النت", "شبكه"),
    "password": ("password", "passcode", "باسورد", "باسوورد", "كلمه سر", "كلمه السر", "كلمه المرور", "رقم سري",
                 "الرقم السري"),
    "electricity": ("كهربه", "الكهربه", "kahraba", "kahrabaa", "kahraba2", "electricity", "power", "electric",
                    "كهرباء", "كهربا", "الكهرباء", "الكهربا", "طاقه", "الطاقه"),
    "outage": ("انقطعت", "تنقطع", "يطفي", "طفيت", "outages", "power failure", "outage", "blackout", "power cut",
               "cuts", "goes out", "انطفا", "انطفت", "طفت", "طافي", "طافيه", "انقطاع", "مقطوعه", "طفي", "تنطفي"),
    "generator": ("ups", "inverter", "انفرتر", "ماطورات", "دينامو", "mowalid", "muwalid", "mwalled", "matoor",
                  "generator", "generators", "backup", "مولد", "مولدات", "ماطور", "مواطير", "دينمو", "احتياطي",
                  "احتياطيه"),
    "solar": ("solar", "شمسي", "شمسيه", "الشمسيه", "طاقه شمسيه", "منظومه شمسيه"),
    "rain": ("سيول", "عاصفه", "rainy", "flood", "floods", "rain", "raining", "weather", "storm", "مطر", "امطار",
             "المطر", "جو", "الجو", "طقس"),
    "postpone": ("تاخير", "later date", "postpone", "postponed", "delay", "delayed", "reschedule", "rescheduled",
                 "تاجيل", "تاجل", "تاجلت", "اتاجلت", "مؤجل", "مؤجله", "اجلتوا", "اجلت", "تتاجل"),
    # --- activities, people, contact ----------------------------------------------------------------
    "event": ("نشاط", "انشطه", "activity", "activities", "gig", "exhibition", "معرض", "fa3aliya", "fa3alia",
              "fa3aliyah", "7afla", "hafla", "event", "events", "concert", "festival", "party", "فعاليه",
              "فعاليات", "حفله", "حفل", "حفلات", "مناسبه", "مهرجان", "ايفنت"),
    "workshop": ("warsha", "wirsha", "warshat", "workshop", "workshops", "course", "courses", "training", "class",
                 "ورشه", "ورش", "ورشه عمل", "دوره", "دورات", "تدريب", "كورس"),
    "lecture": ("محاضرين", "متحدث", "speakers", "panel", "keynote", "seminar", "lecture", "lectures", "session",
                "sessions", "speaker", "محاضره", "محاضرات", "جلسه", "ندوه", "محاضر"),
    "certificate": ("shahada", "shahadah", "certificate", "certificates", "certification", "شهاده", "شهادات",
                    "سرتفكيت"),
    "language": ("language", "languages", "لغه", "لغات", "اللغه"),
    "english": ("english", "انجليزي", "انجليزيه", "انقليزي", "انكليزي", "انجلش", "الانجليزي", "الانجليزيه"),
    "arabic": ("arabic", "عربي", "عربيه", "العربي", "العربيه"),
    "translation": ("translation", "translate", "translator", "interpreter", "interpretation", "ترجمه", "مترجم",
                    "ترجمان", "يترجم"),
    "volunteer": ("tatawu3", "tatawo3", "mutatawe3", "volunteer", "volunteers", "volunteering", "تطوع", "اتطوع",
                  "متطوع", "متطوعين", "متطوعه", "التطوع"),
    "help": ("help", "assist", "assistance", "ساعد", "اساعد", "مساعده", "نساعد", "اعاون", "معاونه"),
    "sponsor": ("داعم", "داعمين", "partner", "partners", "partnership", "شريك", "شراكه", "شركاء", "sponsor",
                "sponsors", "sponsorship", "sponsoring", "رعايه", "راعي", "رعاه", "يرعي", "ترعي", "نرعي", "ارعي",
                "الرعايه"),
    "company": ("company", "companies", "business", "firm", "brand", "شركه", "شركتي", "شركتنا", "شركات", "مؤسسه",
                "مؤسستنا"),
    "organize": ("organize", "organise", "organizing", "host", "hosting", "arrange", "نظم", "انظم", "ننظم",
                 "تنظيم", "اقيم", "نقيم", "اقامه", "استضافه", "استضيف"),
    "rent": ("rent", "rental", "hire", "lease", "ايجار", "اجار", "استاجر", "نستاجر", "تاجير", "استئجار"),
    "person": ("بشري", "موظفه", "admin", "ادمن", "operator", "manager", "مدير", "الاداره", "shakhs", "sha5s",
               "mwazaf", "mowazaf", "muwazzaf", "human", "person", "someone", "somebody", "agent", "staff",
               "employee", "representative", "real person", "شخص", "احد", "موظف", "موظفين", "مسؤول", "انسان",
               "بني ادم", "حد"),
    "organizer": ("organizer", "organizers", "organiser", "منظم", "المنظم", "منظمين", "المنظمين"),
    "contact": ("phone", "تلفون", "تلفونكم", "talk", "speak", "contact", "call", "chat", "reach", "كلم", "اكلم",
                "نكلم", "اتكلم", "تواصل", "اتواصل", "اتصل", "اكلمكم", "ارد", "اخاطب"),
    "support": ("support", "customer service", "customer care", "helpdesk", "خدمه العملاء", "الدعم", "دعم فني",
                "خدمه عملاء"),
    "lost": ("lost", "lose", "missing", "deleted", "misplaced", "ضاع", "ضاعت", "ضيعت", "ضايع", "ضايعه", "فقدت",
             "مفقود", "مسحت", "حذفت", "انحذفت", "انمسحت"),
    "code": ("code", "qr", "رمز", "كود", "باركود"),
    "buy": ("buy", "buying", "purchase", "bought", "شراء", "اشتري", "اشتريت", "نشتري", "يشتري"),
    "find": ("find", "locate", "retrieve", "get back", "الاقي", "القي", "لقيت", "نلقي"),
    "entry": ("entry", "entrance", "enter", "admission", "دخول", "الدخول", "مدخل", "ادخل", "ندخل"),
    "free": ("free", "for free", "no charge", "مجاني", "مجانا", "ببلاش", "مجانيه"),
    # Question words that name a topic (place, time) are shared across languages; "what"/"how" are not,
    # they occur in every kind of question.
    "where": ("where", "وين", "wain", "wein", "ween", "fein", "feen", "wen"),
    "when": ("when", "what time", "متي", "mata", "emta", "imta", "amta"),
}


def concept_index(normalize) -> tuple[dict[str, str], dict[tuple[str, ...], str]]:
    """(single word → concept, multi-word phrase as a tuple of words → concept), every form passed through
    ``normalize`` (the caller's, to avoid an import cycle). When a form is listed under two concepts the
    first listing wins."""
    words: dict[str, str] = {}
    phrases: dict[tuple[str, ...], str] = {}
    for concept, forms in CONCEPTS.items():
        for form in forms:
            tokens = tuple(normalize(form).split())
            if len(tokens) == 1:
                words.setdefault(tokens[0], concept)
            elif tokens:
                phrases.setdefault(tokens, concept)
    return words, phrases
