"""Turkish: the words the guided flow reads in Turkish answers (stems take the suffixes)."""

from __future__ import annotations

from core.content import ContentType
from core.conversation.words.lexicon import Lexicon

LEXICON = Lexicon(
    language="tr",
    numbers={},
    fractions={
        "yarım saat*": 30,
        "yarımsaat*": 30,
        "çeyrek saat*": 15,
        "bir saat*": 60,
    },
    minute_units=("dakika*", "dk"),
    hour_units=("saat*", "sa"),
    times={
        "morning": ("sabah*", "uyanınca", "uyandığımda", "kahvaltı*", "erken"),
        "midday": ("öğle*", "öğlen*", "gündüz*", "gün ortası", "iş yerinde", "işte"),
        "evening": ("akşam*", "iş çıkışı", "işten sonra", "gün batımı"),
        "bedtime": (
            "gece*",
            "yatmadan önce",
            "uyumadan önce",
            "yatarken",
            "yatağa*",
            "uyku*",
            "yatmadan",
        ),
        "anytime": (
            "her zaman",
            "herhangi bir zaman",
            "fark etmez",
            "farketmez",
            "istediğim zaman",
        ),
    },
    feelings={
        "anxious": ("endişe*", "kaygı*", "tedirgin*", "gergin*", "korku*", "panik*"),
        "stressed": ("stres*", "bunal*", "baskı altında"),
        "tired": ("yorgun*", "yoruldum", "bitkin*", "tükenmiş*", "uykulu*"),
        "restless": ("huzursuz*", "kıpır*", "yerimde duramıyorum", "sabırsız*"),
        "sad": ("üzgün*", "mutsuz*", "hüzün*", "kederli*", "yalnız*", "moralim bozuk"),
        "angry": ("sinirli*", "öfke*", "kızgın*", "sinir*"),
        "hopeful": ("umutlu*", "umut*", "mutlu*", "heyecanlı*", "iyimser*"),
        "calm": ("sakin*", "huzurlu*", "rahat", "rahatım", "iyi", "iyiyim"),
    },
    paces={
        "slow": ("yavaş*", "sakin", "ağır", "ağır ağır"),
        "moderate": ("orta*", "normal", "ılımlı"),
        "lively": ("hızlı*", "canlı*", "enerjik*", "dinamik*"),
    },
    voice={
        "on": ("evet", "sesli*", "ses", "ses ve metin", "dinle*", "ikisi de"),
        "off": ("hayır", "metin", "sadece metin", "yalnızca metin", "sessiz*", "oku*"),
    },
    confirm=("evet", "tamam", "olur", "oluştur", "oluşturalım", "yap", "başla", "onayla", "harika"),
    back=("geri", "geri dön", "önceki", "geri git"),
    cancel=("iptal", "iptal et", "vazgeç", "dur", "çık", "boşver"),
    polite=("lütfen", "teşekkürler", "sağol"),
    content_names={
        ContentType.MEDITATION: ("meditasyon*",),
        ContentType.AFFIRMATIONS: ("olumlama*", "afirmasyon*"),
        ContentType.RITUAL: ("ritüel*",),
    },
    content_hints={
        ContentType.MEDITATION: ("nefes*", "rahatla*", "farkındalık*"),
        ContentType.AFFIRMATIONS: ("olumlu cümle*",),
        ContentType.RITUAL: ("rutin*", "tören*", "alışkanlık*"),
    },
    create_verbs=("istiyorum", "isterim", "yap", "yapar", "oluştur", "hazırla", "ver"),
    question_words=("ne", "nedir", "nasıl", "neden", "niçin", "ne zaman", "nerede", "hangi", "kim"),
    field_words={
        "purpose": ("amaç*", "hedef*", "niyet*", "konu*"),
        "time_of_day": ("zaman*",),
        "feeling": ("duygu*", "ruh hali*"),
        "duration": ("süresi", "süreyi", "dakika*", "daha kısa", "daha uzun"),
        "pace": ("tempo*", "hız*"),
        "voice": ("ses", "sesli", "sesi"),
    },
    edit_verbs=("değiştir*", "düzelt*", "güncelle*"),
)
