"""Sentiment of German, Spanish, French and Portuguese text, VADER-style: a small valence
lexicon of the words customers use to praise and complain (-3..+3), negation flips a word's
valence ("nicht gut", "no funciona bien"), intensifiers scale it, and the sum is normalised to
-1..1 exactly as VADER does (``s / sqrt(s^2 + 15)``). English keeps VADER's own lexicon.

    intl_sentiment("Das ist eine absolute Katastrophe", "de")   # -> -0.6...
"""
from __future__ import annotations

import math
import re

from tiergate.nlp.semantic import fold
from tiergate.plugin.core.sentences import sentences

_LEX = {
    "de": {"gut": 2, "super": 3, "toll": 3, "danke": 1.5, "prima": 2, "perfekt": 3, "zufrieden": 2,
           "hilfreich": 2, "schnell": 1, "freundlich": 2, "klasse": 2.5, "top": 2, "genial": 3,
           "schlecht": -2.5, "schlimm": -2.5, "furchtbar": -3, "schrecklich": -3, "katastrophe": -3,
           "katastrophal": -3, "inakzeptabel": -3, "unverschamt": -3, "frech": -2, "argerlich": -2,
           "verargert": -2.5, "wutend": -3, "enttauscht": -2.5, "enttauschend": -2.5,
           "unzufrieden": -2.5, "frustriert": -2.5, "frustrierend": -2.5, "nervig": -2,
           "unbrauchbar": -3, "mangelhaft": -2.5, "fehler": -1.5, "problem": -1.5, "probleme": -1.5,
           "kaputt": -2, "absturz": -2, "ausfall": -2, "warten": -1, "endlich": -1,
           "zumutung": -3, "skandal": -3, "betrug": -3, "peinlich": -2, "lacherlich": -2.5,
           "sauer": -2.5, "leider": -1, "unmoglich": -2, "niemand": -1, "ignoriert": -2},
    "es": {"bien": 2, "bueno": 2, "buena": 2, "excelente": 3, "genial": 3, "gracias": 1.5,
           "perfecto": 3, "rapido": 1, "amable": 2, "contento": 2, "contenta": 2, "feliz": 2.5,
           "encantado": 2.5, "util": 2, "mal": -2.5, "malo": -2.5, "mala": -2.5, "pesimo": -3,
           "pesima": -3, "horrible": -3, "terrible": -3, "fatal": -3, "desastre": -3,
           "inaceptable": -3, "vergonzoso": -3, "vergüenza": -2.5, "verguenza": -2.5,
           "molesto": -2, "molesta": -2, "enojado": -3, "enfadado": -3, "furioso": -3,
           "decepcionado": -2.5, "decepcionada": -2.5, "harto": -2.5, "harta": -2.5,
           "frustrado": -2.5, "frustrante": -2.5, "inutil": -3, "error": -1.5, "problema": -1.5,
           "problemas": -1.5, "falla": -2, "fallo": -2, "roto": -2, "esperando": -1, "nadie": -1,
           "ridiculo": -2.5, "estafa": -3, "abuso": -3, "lamentable": -3, "imposible": -2},
    "fr": {"bien": 2, "bon": 2, "bonne": 2, "excellent": 3, "super": 3, "genial": 3, "merci": 1.5,
           "parfait": 3, "rapide": 1, "aimable": 2, "content": 2, "contente": 2, "ravi": 2.5,
           "ravie": 2.5, "utile": 2, "mal": -2, "mauvais": -2.5, "mauvaise": -2.5, "nul": -3,
           "nulle": -3, "horrible": -3, "terrible": -2.5, "catastrophe": -3, "catastrophique": -3,
           "inacceptable": -3, "honteux": -3, "scandaleux": -3, "agace": -2, "enerve": -2.5,
           "furieux": -3, "furieuse": -3, "decu": -2.5, "decue": -2.5, "decevant": -2.5,
           "marre": -2.5, "frustre": -2.5, "frustrant": -2.5, "inutile": -2.5, "erreur": -1.5,
           "probleme": -1.5, "problemes": -1.5, "panne": -2, "bug": -1.5, "casse": -2,
           "attente": -1, "personne": -0.5, "ridicule": -2.5, "arnaque": -3, "lamentable": -3,
           "inadmissible": -3, "impossible": -2, "insupportable": -3},
    "pt": {"bem": 2, "bom": 2, "boa": 2, "otimo": 3, "otima": 3, "excelente": 3, "obrigado": 1.5,
           "obrigada": 1.5, "perfeito": 3, "rapido": 1, "gentil": 2, "satisfeito": 2,
           "satisfeita": 2, "feliz": 2.5, "util": 2, "mal": -2.5, "ruim": -2.5, "pessimo": -3,
           "pessima": -3, "horrivel": -3, "terrivel": -3, "desastre": -3, "inaceitavel": -3,
           "vergonha": -2.5, "vergonhoso": -3, "absurdo": -2.5, "irritado": -2.5, "irritada": -2.5,
           "chateado": -2, "chateada": -2, "furioso": -3, "furiosa": -3, "decepcionado": -2.5,
           "decepcionada": -2.5, "cansado": -1.5, "frustrado": -2.5, "frustrante": -2.5,
           "inutil": -3, "erro": -1.5, "problema": -1.5, "problemas": -1.5, "falha": -2,
           "quebrado": -2, "esperando": -1, "ninguem": -1, "ridiculo": -2.5, "golpe": -3,
           "descaso": -3, "lamentavel": -3, "impossivel": -2, "palhacada": -3},
}
# the money, access and failure words of VADER's lexicon, with VADER's own valence: charged -0.8,
# cancelled -1.0, lost -1.3, failed -2.3, stuck -1.0, missing -1.2, blocked -1.1, wrong -2.1,
# dispute -1.7, ignored -1.3, hacked -1.7, stolen -2.2, error -1.7
_VADER_WORDS = {
    "de": {("abgebucht", "belastet", "kassiert"): -0.8,
           ("gekundigt", "storniert", "abbestellt"): -1.0, ("verloren", "verlieren"): -1.3,
           ("fehlgeschlagen", "scheitert", "gescheitert"): -2.3, ("hangt", "hangen"): -1.0,
           ("fehlt", "fehlen", "verschwunden"): -1.2, ("blockiert", "gesperrt"): -1.1,
           ("falsch", "falsche", "falschen"): -2.1, ("reklamation", "widerspruch"): -1.7,
           ("gehackt",): -1.7, ("gestohlen", "geklaut"): -2.2, ("fehlermeldung",): -1.7},
    "es": {("cobrado", "cobraron", "cobrais", "cobran", "cargado", "cargaron"): -0.8,
           ("cancelado", "cancele", "cancelamos", "anulado"): -1.0, ("perdido", "perdimos",
           "perdiendo"): -1.3, ("fallido", "fallo", "fallan", "falla"): -2.3, ("atascado",
           "colgado", "bloqueado", "bloqueada"): -1.1, ("desaparecido", "desaparecida"): -1.2,
           ("incorrecto", "incorrecta", "equivocado", "erroneo"): -2.1, ("disputa",): -1.7,
           ("ignorado", "ignorada", "ignoran"): -1.3, ("hackeado", "hackeada"): -1.7,
           ("robado", "robada", "robaron"): -2.2},
    "fr": {("preleve", "preleves", "debite", "debites", "surfacture"): -0.8,
           ("resilie", "annule", "annulee", "resiliation"): -1.0, ("perdu", "perdue", "perdons",
           "perdre"): -1.3, ("echoue", "echec"): -2.3, ("bloque", "bloquee", "bloques",
           "coince"): -1.1, ("manque", "manquent", "disparu", "disparue"): -1.2, ("faux", "fausse",
           "errone", "erronee"): -2.1, ("litige", "contestation"): -1.7, ("ignores", "ignoree"): -1.3,
           ("pirate", "piratee"): -1.7, ("vole", "volee", "voles"): -2.2},
    "pt": {("cobrado", "cobraram", "cobrada", "debitado", "debitaram"): -0.8,
           ("cancelado", "cancelei", "cancelamos", "cancelada"): -1.0, ("perdido", "perdemos",
           "perdendo", "perdi"): -1.3, ("falhou", "falharam"): -2.3, ("travado", "travada",
           "bloqueado", "bloqueada", "preso"): -1.1, ("sumiu", "sumiram", "faltando"): -1.2,
           ("errado", "errada", "incorreto", "incorreta"): -2.1, ("contestacao", "disputa"): -1.7,
           ("ignorado", "ignorada", "ignoram"): -1.3, ("hackeado", "hackeada", "invadida",
           "invadido"): -1.7, ("roubado", "roubada", "roubaram"): -2.2},
}
for _lang, _groups in _VADER_WORDS.items():
    for _forms, _valence in _groups.items():
        for _form in _forms:
            _LEX[_lang].setdefault(_form, _valence)
_NEGATORS = {"de": {"nicht", "kein", "keine", "keinen", "nie", "niemals", "ohne"},
             "es": {"no", "nunca", "sin", "ni", "tampoco"},
             "fr": {"pas", "ne", "n", "jamais", "sans", "plus", "aucun", "aucune"},
             "pt": {"nao", "nunca", "sem", "nem"}}
_BOOST = {"sehr", "extrem", "total", "absolut", "völlig", "vollig", "muy", "totalmente",
          "super", "tres", "vraiment", "completement", "totalement", "muito", "completamente",
          "absolutamente", "demasiado", "tan", "tao", "so", "si"}
_WORD = re.compile(r"[a-z]+")
BARE_NEGATION = -0.15   # as the English scan's sentence with a negator and no sentiment word
LANGUAGES = tuple(_LEX)


def intl_sentiment(text: str, lang: str) -> float | None:
    """-1..1 for a text in one of ``LANGUAGES`` (None for any other language)."""
    lex = _LEX.get(lang)
    if lex is None:
        return None
    words = _WORD.findall(fold(text or ""))
    neg = _NEGATORS[lang]
    total = 0.0
    for i, w in enumerate(words):
        v = lex.get(w)
        if v is None:
            continue
        window = words[max(0, i - 3):i]
        if any(x in _BOOST for x in window):
            v *= 1.3
        if any(x in neg for x in window):
            v *= -0.74
        total += v
    if not total:
        # a negated statement with no sentiment word ("funktioniert nicht") reads mildly negative
        return BARE_NEGATION if any(w in neg and w != "plus" for w in words) else 0.0
    total += math.copysign(0.292 * min((text or "").count("!"), 4), total)
    return round(total / math.sqrt(total * total + 15), 4)


# the reader addressed as the company: formal and informal "you" / "your" (German "Sie" only
# capitalised, lower-case "sie" is "they")
_YOU = {"de": re.compile(r"\b(Sie|Ihnen|Ihr\w*|euch|eure?\w*|du|dich|dir|dein\w*)\b"),
        "es": re.compile(r"\b(ustedes|usted|vosotr[oa]s|vuestr[oa]s?|os|sois|estais|habeis|"
                         r"teneis|hab[eé]is|ten[eé]is|est[aá]is)\b", re.I),
        "fr": re.compile(r"\b(vous|votre|vos|tu|ton|ta|tes|toi)\b", re.I),
        "pt": re.compile(r"\b(voc[eê]s?|vcs?|voss[oa]s?)\b", re.I)}
BLAME_AT = -0.2


def intl_blame(text: str, lang: str) -> tuple[int, bool]:
    """Negative sentences addressed to the company ("Sie haben mir ... abgebucht"), and
    whether the text addresses it at all, as the English reader counts them."""
    you = _YOU.get(lang)
    if you is None:
        return 0, False
    blamed, addressed = 0, False
    for sentence in sentences(text or ""):
        if you.search(sentence):
            addressed = True
            if (intl_sentiment(sentence, lang) or 0.0) <= BLAME_AT:
                blamed += 1
    return blamed, addressed
