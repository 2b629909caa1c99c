"""What is at stake in a customer's words, in English, German, Spanish, French and Portuguese:
people / seats / sites affected, deadlines, and money in any phrasing with its currency.

    s = find_stakes(["Our 40 agents cannot work", "we need this by Friday"], now)
    s.people        # 40 (the largest count of people, seats or sites affected; None: not said)
    s.everyone      # True when the whole company / every branch / nobody-can is said
    s.deadline      # "by Friday" (the customer's words) or None
    s.deadline_days # days from now to it when it can be told (Friday, 30 days, tomorrow)
    s.money         # largest amount mentioned (float) or None; s.currency "USD" / "EUR" / ...
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Iterable

from tiergate.plugin.core.prefilter import Prefiltered

_UNITS = (
    r"people|persons|users|employees|staff|agents|seats|licen[cs]es|colleagues|team ?members|"
    r"customers|clients|stores|shops|branches|sites|locations|offices|clinics|schools|"
    r"drivers|nurses|doctors|teachers|students|accounts|restaurants|warehouses|managers|"
    r"supervisors|cashiers|pickers|technicians|operators|engineers|developers|reps|"
    r"businesses|companies|firms|franchisees|members|tenants|guests|patients|"
    r"mitarbeiter(?:innen|inne|n)?|mitarbeitende|nutzer(?:innen)?|benutzer|kunden|filialen|"
    r"standorte|kollegen|kolleginnen|personen|leute|praxen|geschäfte|"
    r"personas|usuarios|empleados|agentes|tiendas|sucursales|clientes|oficinas|sedes|locales|"
    r"colaboradores|personnes|utilisateurs|employés|salariés|magasins|boutiques|agences|"
    r"collaborateurs|pessoas|usuários|utilizadores|funcionários|lojas|filiais|agências|unidades")
_COUNT = re.compile(r"(?<![\d.,])(\d{1,3}(?:[.,\s]\d{3})+|\d+)\s*\+?\s*(?:of\s+(?:our|my|the)\s+|"
                    r"(?:de\s+)?(?:nos|nuestros|nuestras|nossos|nossas|unserer|our|my)\s+)?"
                    r"(?:\w+\s+)?(" + _UNITS + r")\b", re.I)
RECORDS_VERB = re.compile(
    r"\b(import\w*|export\w*|upload\w*|delet\w*|creat\w*|add(ed|ing)?|sync\w*|"
    r"load(ed|ing)?|enter(ed|ing)?|email(ed|ing)?|messag\w*|send(ing)?|sent|"
    r"importier\w*|exportier\w*|hochgeladen|hochladen|import(ar|amos|é|e)|export(ar|amos)|"
    r"enviar|enviamos|envoy\w*|importer|exporter)\s+(\w+\s+){0,2}$", re.I)
# "your whole company": the vendor's, not people the customer says are affected
VENDORS_OWN = re.compile(r"\b(your|ur|you guys'?)\s+$", re.I)
_EVERYONE = Prefiltered(re.compile(
    r"\b(whole|entire) (company|team|office|staff|org\w*|business|department|call ?cent(er|re)|"
    r"shop|store|site|warehouse|clinic|school|hospital|fleet)\b|"
    r"\b(all|every one of|each of) (of )?(our |my |the )?(\d+ |two |three |four |five |six |seven |"
    r"eight |nine |ten |twelve |twenty |\w+ )?(users|staff|employees|agents|customers|"
    r"branches|stores|shops|sites|locations|offices|clinics|teams|colleagues|people|"
    r"warehouses|restaurants|schools|hospitals|practices|departments|regions|countries)\b|"
    r"\b(affect\w*|impact\w*|hitting|hits) (everyone|everybody|all (of )?(us|our \w+|the \w+))\b|"
    r"\beveryone (in|at|across) (the|our) (company|firm|office|team|org\w*|building|school|"
    r"clinic|business|shop|store|warehouse)\b|"
    r"\bevery (branch|store|shop|site|location|office|clinic|user|agent|single user|one of us)\b|"
    r"\b(no ?one|nobody|none of us|none of our \w+) (can|could|is able|are able|has been able)\b|"
    r"\b(company|organi[sz]ation|business)[- ]wide\b|\beveryone (here |in \w+ )?(is|can|has|gets)\b|"
    r"\b(ganze|gesamte|komplette)[nmrs]? (firma|team|büro|unternehmen|belegschaft|filiale|praxis|"
    r"abteilung)\b|\balle (unsere[nr]? )?(mitarbeiter\w*|kollegen|filialen|standorte|nutzer|kunden)\b|"
    r"\bniemand (kann|konnte)\b|\bkeiner (von uns )?kann\b|"
    r"\b(toda|toda la|toda a) (empresa|oficina|equipe|equipo|companhia|compañía|loja|tienda|rede|red)\b|"
    r"\btodo el (equipo|personal|mundo)\b|\btodos (los|os|nuestros|nossos) (usuarios|usuários|"
    r"empleados|funcionários|agentes|clientes|locales|lojas|tiendas|sucursales|filiais)\b|"
    r"\b(nadie|ninguém|ningu[eé]m) (puede|pode|consegue|logra)\b|"
    r"\btoute (l'|la )?(équipe|entreprise|société|boîte|agence)\b|\btout le (monde|personnel|"
    r"service|bureau)\b|\btous (nos|les) (utilisateurs|employés|salariés|agents|magasins|clients|"
    r"sites|collaborateurs)\b|\bpersonne ne (peut|parvient|arrive)\b", re.I))

_CURRENCY = {"$": "USD", "us$": "USD", "usd": "USD", "dollar": "USD", "dollars": "USD",
             "bucks": "USD", "€": "EUR", "eur": "EUR", "euro": "EUR", "euros": "EUR",
             "£": "GBP", "gbp": "GBP", "pound": "GBP", "pounds": "GBP", "r$": "BRL",
             "brl": "BRL", "reais": "BRL", "real": "BRL", "mxn": "MXN", "pesos": "MXN",
             "chf": "CHF", "fr.": "CHF", "franken": "CHF", "cad": "CAD", "c$": "CAD",
             "aud": "AUD", "a$": "AUD", "¥": "JPY", "jpy": "JPY", "sek": "SEK", "kr": "SEK"}
_NUM = r"\d{1,3}(?:[.,\s]\d{3})*(?:[.,]\d{1,2})?|\d+(?:[.,]\d{1,2})?"
_PRE = r"(us\$|r\$|c\$|a\$|\$|€|£|¥|usd|eur|gbp|brl|mxn|chf|cad|aud|jpy)"
_POST = (r"(€|£|(?:eur|euros?|usd|dollars?|bucks|gbp|pounds?|brl|reais|mxn|pesos|chf|franken|"
         r"cad|aud|sek|kr)\b)")
_MONEY = re.compile(rf"{_PRE}\s?({_NUM})(\s?[km]\b)?|({_NUM})(\s?[km]\b)?\s?{_POST}", re.I)

_DIGIT = re.compile(r"\d")
_WEEKDAYS = {"monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4,
             "saturday": 5, "sunday": 6, "montag": 0, "dienstag": 1, "mittwoch": 2,
             "donnerstag": 3, "freitag": 4, "samstag": 5, "sonntag": 6, "lunes": 0, "martes": 1,
             "miércoles": 2, "miercoles": 2, "jueves": 3, "viernes": 4, "sábado": 5,
             "domingo": 6, "lundi": 0, "mardi": 1, "mercredi": 2, "jeudi": 3, "vendredi": 4,
             "samedi": 5, "dimanche": 6, "segunda": 0, "terça": 1, "terca": 1, "quarta": 2,
             "quinta": 3, "sexta": 4}
_DAY_WORDS = "|".join(sorted(_WEEKDAYS, key=len, reverse=True))
_NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "seven": 7, "ten": 10, "fourteen": 14,
                 "fifteen": 15, "thirty": 30, "ein": 1, "einem": 1, "einen": 1, "un": 1,
                 "uno": 1, "una": 1, "um": 1, "uma": 1, "dreißig": 30, "treinta": 30,
                 "trente": 30, "trinta": 30, "quinze": 15, "quince": 15}
_UNIT_DAYS = {"day": 1, "days": 1, "tag": 1, "tage": 1, "tagen": 1, "día": 1, "días": 1,
              "dias": 1, "dia": 1, "jour": 1, "jours": 1, "week": 7, "weeks": 7, "woche": 7,
              "wochen": 7, "semana": 7, "semanas": 7, "semaine": 7, "semaines": 7,
              "month": 30, "months": 30, "monat": 30, "monaten": 30, "mes": 30, "meses": 30,
              "mois": 30, "mês": 30, "hour": 1 / 24, "hours": 1 / 24, "stunden": 1 / 24,
              "horas": 1 / 24, "heures": 1 / 24}
_UNIT_RE = "|".join(sorted((re.escape(u) for u in _UNIT_DAYS), key=len, reverse=True))
_NWORD = "|".join(sorted(_NUMBER_WORDS, key=len, reverse=True))
_DEADLINE = Prefiltered(re.compile(
    rf"\b((?:within|inside|no later than|innerhalb(?: von)?|binnen|en un plazo de|dentro de|sous|"
    rf"dans un délai de|d'ici|no prazo de|em até)\s+(\d+|{_NWORD})\s+({_UNIT_RE}))\b|"
    rf"\b((?:by|before|until|no later than|bis(?: zum| spätestens)?|spätestens|antes del?|hasta el|"
    rf"para el|d'ici|avant|au plus tard|até|antes de)\s+(?:the |this |next |coming |nächsten |"
    rf"kommenden |este |próximo |ce |cette |esta |próxima )?({_DAY_WORDS}|tomorrow|tonight|"
    rf"end of (?:the )?(?:day|week|month)|eod|eow|morgen|mañana|demain|amanhã|fin de mes|"
    rf"fin du mois|final do mês|monatsende|(?:the )?\d{{1,2}}(?:st|nd|rd|th|\.)?(?: of \w+)?|"
    rf"\d{{1,2}}[./]\d{{1,2}}(?:[./]\d{{2,4}})?))\b|"
    rf"\b(deadline|frist|fecha límite|plazo|date limite|échéance|prazo)\b[^.!?\n]{{0,40}}", re.I))


# "85 warehouse pickers", "3,000 orders", "38k concurrent": a count of anything but time, money
# or repetition is the scale of what is affected
_SCALE = re.compile(r"(?<![\d.,:/#-])(\d{1,3}(?:[.,]\d{3})+|\d+)([ \t]?k)?\+?[ \t]+"
                    r"(?:\w+[ \t]+){0,2}?([a-zà-ÿ]{3,}s)\b", re.I)
_CODE_WORDS = frozenset(("invalid error errors code codes status http bad internal unauthorized "
                         "forbidden credentials redirects retries ms milliseconds gateway").split())
_KSCALE = Prefiltered(re.compile(r"(?<![\d.,])(\d+(?:[.,]\d)?)\s?k\+?\s+[a-zà-ÿ]", re.I))
_NOT_SCALE = frozenset((
    "seconds secs minutes mins hours hrs days weeks months years times attempts tries steps "
    "euros dollars pounds reais pesos francs bucks cents percent points stars pages screenshots "
    "emails tickets messages replies calls requests versions errors digits characters bytes "
    "items words lines rows columns files attachments kilometers miles kms kilos grams "
    "this was has his its yes always perhaps less across thus plus does goes").split())


@dataclass(frozen=True)
class Stakes:
    people: int | None = None
    everyone: bool = False
    people_phrase: str | None = None
    deadline: str | None = None
    deadline_days: float | None = None
    money: float | None = None
    currency: str | None = None
    money_phrase: str | None = None
    scale: int | None = None        # the largest count of anything affected (orders, players...)
    scale_phrase: str | None = None
    amounts: tuple[tuple[float, str], ...] = field(default_factory=tuple)
    contacts: int | None = None     # which contact the customer says this is ("3rd ticket")
    contacts_phrase: str | None = None

    def to_dict(self) -> dict:
        return {"people": self.people, "everyone": self.everyone,
                "people_phrase": self.people_phrase, "deadline": self.deadline,
                "deadline_days": self.deadline_days, "money": self.money,
                "currency": self.currency, "money_phrase": self.money_phrase,
                "scale": self.scale, "scale_phrase": self.scale_phrase,
                "contacts_stated": self.contacts, "contacts_phrase": self.contacts_phrase}


def parse_number(text: str) -> float | None:
    """"1,250.00", "1.250,00", "3 400", "890,50", "12k" -> float."""
    t = text.strip().lower().replace(" ", "").replace("\u00a0", "")
    mult = 1.0
    if t.endswith("k"):
        mult, t = 1000.0, t[:-1]
    elif t.endswith("m"):
        mult, t = 1_000_000.0, t[:-1]
    if not t:
        return None
    if "," in t and "." in t:
        t = t.replace(",", "") if t.rfind(".") > t.rfind(",") else \
            t.replace(".", "").replace(",", ".")
    elif "," in t:
        head, _, tail = t.rpartition(",")
        t = f"{head.replace(',', '')}.{tail}" if len(tail) in (1, 2) else t.replace(",", "")
    elif t.count(".") >= 1:
        head, _, tail = t.rpartition(".")
        if len(tail) == 3:
            t = t.replace(".", "")
    try:
        return float(t) * mult
    except ValueError:
        return None


def find_money(text: str) -> list[tuple[float, str, str]]:
    """(amount, currency code, phrase) of every currency amount in ``text``."""
    out = []
    for m in _MONEY.finditer(text or ""):
        if m.group(1):
            cur, num, suffix = m.group(1), m.group(2), m.group(3) or ""
        else:
            num, suffix, cur = m.group(4), m.group(5) or "", m.group(6)
        value = parse_number(num + suffix.strip())
        if value is None or value <= 0:
            continue
        out.append((value, _CURRENCY.get(cur.lower(), cur.upper()), m.group(0).strip()))
    return out


def _deadline_days(m: re.Match, now: datetime | None) -> float | None:
    if m.group(1):
        n = m.group(2).lower()
        count = float(n) if n.isdigit() else float(_NUMBER_WORDS.get(n, 1))
        return count * _UNIT_DAYS.get(m.group(3).lower(), 1)
    if m.group(4):
        what = m.group(5).lower()
        if what in ("tomorrow", "morgen", "mañana", "demain", "amanhã"):
            return 1.0
        if what in ("tonight", "end of day", "end of the day", "eod"):
            return 0.5
        if what in _WEEKDAYS and now is not None:
            ahead = (_WEEKDAYS[what] - now.weekday()) % 7
            return float(ahead or 7)
    return None


_ORDINALS = {"second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4, "fifth": 5,
             "5th": 5, "sixth": 6, "6th": 6, "zweite": 2, "dritte": 3, "vierte": 4, "funfte": 5,
             "fünfte": 5, "segunda": 2, "segundo": 2, "tercera": 3, "tercer": 3, "terceira": 3,
             "terceiro": 3, "cuarta": 4, "cuarto": 4, "quarta": 4, "quarto": 4, "quinta": 5,
             "quinto": 5, "deuxieme": 2, "deuxième": 2, "troisieme": 3, "troisième": 3,
             "quatrieme": 4, "quatrième": 4, "cinquieme": 5, "cinquième": 5}
_ORDINALS.update({f"{n}{suffix}": n for n in range(2, 7)
                  for suffix in ("e", "eme", "ème", "ª", "º", "a", "o")})
_COUNTS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "several": 3, "multiple": 3,
           "many": 3, "countless": 5, "zwei": 2, "drei": 3, "vier": 4, "mehrere": 3, "dos": 2,
           "tres": 3, "três": 3, "cuatro": 4, "quatro": 4, "varias": 3, "vários": 3,
           "várias": 3, "deux": 2, "trois": 3, "quatre": 4, "plusieurs": 3}
_CONTACT_NOUN = (r"(ticket|time( (that )?(i|we)('ve| have|'m| am|'re| are)?)? (written|writing|contacted|"
                 r"contacting|asked|asking|emailed|emailing|called|calling|raised|reported|"
                 r"submitting|sending|chased|chasing|reaching out|following up|"
                 r"on (the )?(chat|phone|line)|"
                 r"chatting|in touch|writing in|calling in)|"
                 r"email|e-mail|message|request|chaser|follow-?up|chat|form|submission|"
                 r"contact|call|mal|anfrage|nachricht|kontakt|anruf|vez|correo|mensaje|reclamo|contacto|fois|relance|"
                 r"demande|chamado|mensagem|contato)")
_CONTACT_ORDINAL = Prefiltered(re.compile(r"\b(" + "|".join(_ORDINALS) + r")[nrs]?\s+(\w+\s+)?"
                              + _CONTACT_NOUN + r"\b", re.I))
# "following up for the 4th time", "chasing this for the third time"
_FOR_THE_NTH = Prefiltered(re.compile(
    r"\b(following up|chasing|writing( in)?|emailing|e-mailing|calling|ringing|asking|"
    r"reaching out|contacting (you|support|your \w+))\b( (on|about) (this|it))?( again)? "
    r"for the (?P<nth>" + "|".join(_ORDINALS) + r")[nrs]?\s+time\b", re.I))
# "not created for new hires - again (3rd time)", "5th time asking"; "the third time this
# year" counts what happened, not the customer's contacts
_NTH_TIME = Prefiltered(re.compile(
    r"\b(again|yet again|once more)\W{1,4}(the |for the )?(?P<nth>" + "|".join(_ORDINALS)
    + r")\s+time\b|\b(?P<nth2>" + "|".join(_ORDINALS) + r")\s+time\s+(asking|"
    r"(i('ve| have)? )?(asked|written|writing|reported|reporting|chasing))\b", re.I))
# "add a second user" is no contact count; Portuguese "é a terceira vez" is
_NOT_ORDINAL = re.compile(r"(?<![eé] )\b(a|an|another|one more|add|create)\s+$", re.I)
_HOW_MANY = r"\d+|" + "|".join(_COUNTS)
_CONTACT_TIMES = Prefiltered(re.compile(
    r"\b(contacted|emailed|called|written to|written|chased|asked|messaged|reported (this|it)( to)?)"
    r" (you|your (team|support)|support|this)?\s*(?P<times>" + _HOW_MANY + r") times\b|"
    r"\b(?P<before>" + _HOW_MANY + r") (previous|earlier|other|prior|separate) "
    r"(tickets|emails|requests|messages|chamados|tickets)\b|"
    # "9 days and 5 different agents", "spoke to 4 different people": each one contact
    r"\b(talked to|spoken to|spoke (to|with)|been through|gone through|dealt with|passed between|"
    r"(days|weeks) and) (?P<agents>" + _HOW_MANY + r") different (agents|people|reps|advisors|"
    r"support (people|agents|staff))\b|"
    # "sent 4 emails", "ya van cuatro correos", "já mandei 3 e-mails", "schon drei Mails"
    r"\b(sent|opened|raised|filed|submitted|logged|written|van|mand[eé]|envi[eé]|mandei|enviei|"
    r"abri|abrimos|enviamos|mandamos|envoy[ée]|[ée]crit|ouvert|schon|bereits)\s+(you\s+|vous\s+)?"
    r"(?P<sent>" + _HOW_MANY + r")\s+(emails?|e-mails?|mails?|tickets?|messages?|requests?|"
    r"correos|mensajes|chamados|mensagens|nachrichten|anfragen|demandes|relances)\b"
    r"(?!\s+(to|with|from|for|a|an|aos?|as|à|aux)\s+(our|my|all|the|their|nuestr\w*|noss\w*|"
    r"nos|mes|unsere\w*|clientes|customers|clients)\b)", re.I))


_TIMES_WORD = {"zweimal": 2, "dreimal": 3, "viermal": 4, "funfmal": 5, "fünfmal": 5, "mehrmals": 3,
               "x-mal": 5, "zigmal": 5}
# "zum dritten Mal" is an ordinal; "viermal geschrieben", "cuatro veces", "três vezes"
_TIMES_OTHER = Prefiltered(re.compile(
    r"\b(?P<word>" + "|".join(_TIMES_WORD) + r")\s+(\w+\s+)?(geschrieben|angerufen|nachgefragt|"
    r"gemeldet|kontaktiert|gemailt|reklamiert)\b|\b(escrito|llamado|pedido|reclamado|preguntado|"
    r"contactado|insistido|écrit|ecrit|appelé|appele|relancé|relance|demandé|demande|contacté|"
    r"contacte|escrevi|liguei|pedi|reclamei|cobrei|insisti|contactei)\s+(\w+\s+){0,2}?"
    r"(?P<n>" + _HOW_MANY + r"|cinco|duas|cinq)\s+(veces|vezes|fois)\b", re.I))
_TIMES_NUMBER = {**_COUNTS, **_TIMES_WORD, "cinco": 5, "cinq": 5, "duas": 2}
# writing or chasing for weeks is more than one contact: "I've been chasing this for three
# weeks", "ça fait un mois que je relance", "llevo dos semanas escribiendo", "seit Wochen
# frage ich nach", "há semanas que ligo"
_CHASING = Prefiltered(re.compile(
    r"\b(been )?(chasing|following up|(emailing|calling|writing to|asking|ringing|contacting) "
    r"(you|your \w+|support))\b[^.!?]{0,30}"
    r"\b(for|since) (weeks|months|(a|one|two|three|four|\d+) (weeks?|months?))\b|"
    r"\b(ça|ca|cela) fait (un mois|des semaines|des mois|(deux|trois|quatre|\d+) (semaines|mois))"
    r" (que )?(je|nous|j'|on) ?(relance|vous (é|e)cri[st]|vous appel|appel|écri|ecri)\w*|"
    r"\b(je|nous) (vous )?(relance|relançons|écris|ecris|appelle)\w* depuis (des semaines|un mois|"
    r"des mois|(deux|trois|quatre|\d+) (semaines|mois))|"
    r"\bseit (wochen|monaten|(zwei|drei|vier|\d+) (wochen|monaten))\b[^.!?]{0,40}\b(schreibe|"
    r"frage|rufe|melde|hake)\w*|"
    r"\bllev(o|amos) (semanas|meses|(dos|tres|cuatro|\d+) (semanas|meses))\s+(escribiendo|"
    r"llamando|reclamando|insistiendo|preguntando)\b|"
    r"\b(h[aá]|faz) (semanas|meses|(um|duas|tr[eê]s|\d+) (semanas?|m[eê]s(es)?)) (que )?"
    r"(escrevo|escrevemos|ligo|ligamos|cobro|cobramos|insisto|reclamo)\b|"
    r"\b(reported|raised|logged|opened|flagged)\b[^.!?]{0,40}\b(weeks|months|(two|three|four|\d+) "
    r"(weeks|months)) ago\b[^.!?]{0,60}\b(keep|still|again|same (answer|reply|response))|"
    r"\bevery (week|day|time) (i'?m|we'?re|i am|we are) (told|promised)\b|"
    r"\bevery (week|day|time) (i|we) get the same (answer|reply|response|excuse|message|e-?mail)\b", re.I))


def find_contacts(texts: Iterable[str]) -> tuple[int | None, str | None]:
    """Which contact the customer says this is ("my third ticket", "emailed you 4 times",
    "two previous tickets" = the third): the largest stated count, with its phrase."""
    best: tuple[int | None, str | None] = (None, None)
    for text in texts:
        text = text or ""
        for m in _CONTACT_ORDINAL.finditer(text):
            if _NOT_ORDINAL.search(text, max(0, m.start() - 9), m.start()):
                continue                    # "add a second email address": not a contact count
            n = _ORDINALS[m.group(1).lower()]
            if best[0] is None or n > best[0]:
                best = (n, m.group(0))
        for m in _NTH_TIME.finditer(text):
            n = _ORDINALS[(m.group("nth") or m.group("nth2")).lower()]
            if best[0] is None or n > best[0]:
                best = (n, m.group(0))
        for m in _FOR_THE_NTH.finditer(text):
            n = _ORDINALS[m.group("nth").lower()]
            if best[0] is None or n > best[0]:
                best = (n, m.group(0))
        for m in _CONTACT_TIMES.finditer(text):
            word = (m.group("times") or m.group("before") or m.group("sent") or m.group("agents")
                    or "").lower()
            n = int(word) if word.isdigit() else _COUNTS.get(word)
            if n is None or n > 50:
                continue
            if m.group("before"):
                n += 1                      # "two previous tickets": this is the third
            if best[0] is None or n > best[0]:
                best = (n, m.group(0))
        for m in _TIMES_OTHER.finditer(text):
            word = (m.group("word") or m.group("n") or "").lower()
            n = int(word) if word.isdigit() else _TIMES_NUMBER.get(word)
            if n and n <= 50 and (best[0] is None or n > best[0]):
                best = (n, m.group(0))
        m = _CHASING.search(text)
        if m and (best[0] is None or best[0] < 3):
            best = (3, m.group(0))
    return best


def find_stakes(texts: Iterable[str], now: datetime | None = None) -> Stakes:
    """Stakes in ``texts`` (the customer's own words, any order; the latest deadline said
    wins, the largest count and amount win)."""
    texts = list(texts)
    people = None
    people_phrase = None
    scale = scale_phrase = None
    everyone = False
    deadline = deadline_days = None
    amounts: list[tuple[float, str, str]] = []
    for text in texts:
        if not text:
            continue
        has_digit = _DIGIT.search(text) is not None
        for m in (_COUNT.finditer(text) if has_digit else ()):
            n = parse_number(m.group(1))
            if n is None or n < 2 or n > 10_000_000 or (1900 <= n <= 2100 and "." not in m.group(1)):
                continue
            if RECORDS_VERB.search(text, max(0, m.start() - 30), m.start()):
                continue                     # "import 2,300 customers": records, not people hit
            if people is None or n > people:
                people, people_phrase = int(n), m.group(0).strip()
        for m in (_SCALE.finditer(text) if has_digit else ()):
            words = m.group(0).lower().split()
            if m.group(3).lower() in _NOT_SCALE or _CODE_WORDS.intersection(words) or \
                    RECORDS_VERB.search(text, max(0, m.start() - 30), m.start()):
                continue
            n = parse_number(m.group(1) + (m.group(2) or "").strip())
            if n is None or n < 10 or (1900 <= n <= 2100 and not m.group(2)):
                continue
            if scale is None or n > scale:
                scale, scale_phrase = int(n), m.group(0).strip()
        for m in (_KSCALE.finditer(text) if has_digit else ()):
            n = parse_number(m.group(1)) or 0.0
            if n * 1000 > (scale or 0):
                scale, scale_phrase = int(n * 1000), m.group(0).strip()
        ev = next((m for m in _EVERYONE.finditer(text) if not VENDORS_OWN.search(
            text, max(0, m.start() - 12), m.start())), None)
        if ev:
            everyone = True
            people_phrase = people_phrase or ev.group(0).strip()
        for m in _DEADLINE.finditer(text):
            deadline = m.group(0).strip()
            deadline_days = _deadline_days(m, now)
        if has_digit:
            amounts.extend(find_money(text))
    money = currency = money_phrase = None
    if amounts:
        money, currency, money_phrase = max(amounts, key=lambda a: a[0])
    contacts, contacts_phrase = find_contacts(texts)
    return Stakes(people, everyone, people_phrase, deadline, deadline_days, money, currency,
                  money_phrase, scale, scale_phrase, tuple((a, c) for a, c, _ in amounts),
                  contacts, contacts_phrase)
