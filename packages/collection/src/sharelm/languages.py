"""Language names as the public datasets write them ("English"), from ISO 639-1 codes sources use."""

ISO_639_1 = {
    "ar": "Arabic", "bn": "Bengali", "ca": "Catalan", "cs": "Czech", "da": "Danish", "de": "German",
    "el": "Greek", "en": "English", "es": "Spanish", "eu": "Basque", "fa": "Persian", "fi": "Finnish",
    "fr": "French", "he": "Hebrew", "hi": "Hindi", "hu": "Hungarian", "id": "Indonesian", "it": "Italian",
    "ja": "Japanese", "ko": "Korean", "mr": "Marathi", "nl": "Dutch", "no": "Norwegian", "pl": "Polish",
    "pt": "Portuguese", "ro": "Romanian", "ru": "Russian", "sv": "Swedish", "ta": "Tamil", "te": "Telugu",
    "th": "Thai", "tr": "Turkish", "uk": "Ukrainian", "ur": "Urdu", "vi": "Vietnamese", "yo": "Yoruba",
    "zh": "Chinese",
}  # fmt: skip


def language_from_code(code: str | None) -> str | None:
    """ "pt-BR" -> "Portuguese"; unknown codes are kept as given."""
    if not code:
        return None
    return ISO_639_1.get(code.split("-")[0].split("_")[0].lower(), code)
