"""Reading a conversation as a person would, before anything is tagged.

Each comment is cut down to its author's own words: quoted replies and forwarded mail
(``> ...``, "On ... wrote:", "Am ... schrieb", "-----Original Message-----", in the languages
``LANGUAGES``, by ``mail-parser-reply``), signatures, legal disclaimers and phone tails are
removed; auto-replies ("out of office") are recognised and carry no words. Who wrote each part
is known (customer, agent, internal note), the latest customer message is singled out (it
weighs most).

    conv = read_conversation(ticket)
    conv.customer            # the customer's messages, oldest first (own words only)
    conv.latest              # the latest customer message or None
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from mailparser_reply.constants import MAIL_LANGUAGES
from mailparser_reply.parser import EmailMessage

from tiergate.plugin.core.model import AGENT_ROLES, CUSTOMER_ROLES, Ticket
from tiergate.plugin.core.prefilter import Prefiltered

LANGUAGES = ["en", "de", "fr", "es", "pt", "it", "nl", "pl", "sv"]


class _Reply(EmailMessage):
    """mail-parser-reply's message, read only for the text above the first reply header (its
    ``latest_reply``): the header pattern is built once for our languages instead of per
    message, and signatures and disclaimers, which ``latest_reply`` never uses, are not
    searched."""

    def _process_signatures_disclaimers(self, text):
        return [], ""


_READ = [lang for lang in LANGUAGES if lang in MAIL_LANGUAGES]
_HEADER_REGEX = _Reply(text="", languages=list(_READ)).HEADER_REGEX


def _latest_reply(text: str) -> str | None:
    msg = _Reply(text=text, languages=list(_READ))
    if ":" not in text and "-----" not in text:
        return msg.text.strip()  # every header the parser knows holds one of these: one reply
    msg._header_regex = _HEADER_REGEX
    return msg.read().latest_reply


# typographic apostrophes ("don’t", "l’adresse", "isn´t") read as the plain one the rules use
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "\u201b": "'",
                              "\u00b4": "'", "\u2032": "'"})


def plain_apostrophes(text: str) -> str:
    return text if text.isascii() else text.translate(_APOSTROPHES)


_QUOTE_LINE = re.compile(r"^\s*>")
_FORWARD = re.compile(
    r"^\s*(-{2,}\s*(original message|forwarded message|ursprüngliche nachricht|"
    r"weitergeleitete nachricht|mensaje original|mensaje reenviado|message d'origine|"
    r"message transféré|mensagem original|mensagem encaminhada)\s*-{2,}|"
    r"(begin forwarded message|anfang der weitergeleiteten nachricht)\s*:)", re.I | re.M)
# a help desk's own delimiter above the conversation it quotes ("##- Please type your reply above
# this line -##", "----- Reply above this line -----") in the languages read
_REPLY_ABOVE = re.compile(
    r"^[ \t]*[-#=_]*[ \t]*(please )?((type|write|enter) )?(your )?(reply|response) above this line|"
    r"^[ \t]*[-#=_]*[ \t]*(bitte )?(geben sie |schreiben sie )?(ihre )?antwort "
    r"(uber|über|oberhalb) dieser zeile|"
    r"^[ \t]*[-#=_]*[ \t]*(escriba |escribe )?(su |tu )?respuesta (por )?encima de esta l[ií]nea|"
    r"^[ \t]*[-#=_]*[ \t]*(veuillez )?(saisir |écrire |ecrire )?(votre )?réponse au-dessus de "
    r"cette ligne|"
    r"^[ \t]*[-#=_]*[ \t]*(digite |escreva )?(sua )?resposta acima desta linha", re.I | re.M)
# "On <date>, <name> wrote:" in every language read (mail-parser-reply has no Portuguese and
# wants two spaces before "escribió"); the header holds a date, a long one wraps onto a
# second line
_WROTE = re.compile(r"^(> ?)*(-{2,} ?)?(on|am|le|el|em|il|op|den|w dniu)\s(?=[^\n]*\d)[^\n]{4,200}"
                    r"(\n[^\n]{0,120})?\b(wrote|schrieb|a écrit|escribió|escreveu|ha scritto|"
                    r"schreef|skrev|napisał\(a\)|napisał)\s*(:|-{2,})[ \t]*$", re.I | re.M)
# the other quote introductions mail clients write: the verb before the name (Dutch "Op <date>
# schreef <name>:"), the name first ("<name> <mail> schrieb am <date>:", "<date> <name> <mail>:"),
# "--- <name> wrote ---", "Quoting <name>:", GroupWise ">>> <name> <date> >>>", Gmail's
# "[Quoted text hidden]"
_QUOTE_INTRO = re.compile(
    r"^(> ?)*(op|am|on|le|el|em)\s[^\n]*\d[^\n]{0,120}\b(schreef|schrieb|wrote|skrev)\b[^\n]{0,120}:\s*$|"
    r"^[^\n]{0,120}<[^\s@>]+@[^\s>]+>\)?\s*(schrieb|wrote|a écrit|escribió|escreveu|ha scritto|"
    r"schreef|skrev)\b[^\n]{0,80}:\s*$|"
    r"^\d{4}-\d{2}-\d{2}\s+\d{1,2}:\d{2}[^\n]{0,40}<[^\s@>]+@[^\s>]+>\s*:\s*$|"
    r"^(> ?)*-{2,}\s*[^\n]{1,80}\b(wrote|schrieb|a écrit|escribió|escreveu|ha scritto)\s*-{2,}\s*$|"
    r"^(quoting|zitat von|citando|cita de|citation de)\s[^\n]{1,120}:\s*$|"
    r"^\s*>>>\s[^\n]{1,120}>>>\s*$|"
    r"^\s*\[(quoted text hidden|texto citado oculto|zitierten text ausblenden|"
    r"texte des messages précédents masqué)\]", re.I | re.M)
_HEADER_BLOCK = re.compile(r"^\s*(from|von|de|da|van)\s*:\s.+\n(.*\n){0,3}?\s*"
                           r"(sent|gesendet|enviad[oa](\s+(em|el))?|envoyé|date|datum|fecha|data)\s*:",
                           re.I | re.M)
_DISCLAIMER = re.compile(
    r"^\s*(this (e-?mail|message)( and any attachments?)? (is|are|may be|contains?) "
    r"(confidential|intended)|confidentiality notice|disclaimer:|"
    r"diese (e-?mail|nachricht) (enthält|ist) vertraulich|"
    r"este (mensaje|correo)( y sus anexos)? (es|son|contiene) confidencial|"
    r"ce (message|courriel)( et toutes les pièces jointes)? (est|sont) (confidentiel|strictement)|"
    r"esta mensagem( e seus anexos)? (é|pode conter) (confidencial|informação))", re.I | re.M)
_PARA = r"(?:(?!\n[ \t]*\n)[\s\S])"      # a character of the same paragraph
_BOILERPLATE = re.compile(
    r"^[ \t]*(the (information|contents?) (contained )?in this|privileged (and|&) confidential|"
    r"les informations contenues dans|la informaci[oó]n contenida en|"
    r"(as )?informa[cç][oõ]es contidas nest|die in dieser (e-?mail|nachricht) enthaltenen|"
    r"sollten sie diese (e-?mail|nachricht)|(le informazioni|il contenuto)|questo messaggio|"
    r"questa (e-?mail|comunicazione)|il presente messaggio|dit (e-?mail)?bericht|de informatie|"
    r"deze e-?mail|(ta|niniejsza) wiadomo[sś][cć]|informacje zawarte|"
    r"(detta|det h[aä]r) (e-?post)?meddelande)"
    rf"(?={_PARA}{{0,500}}?(confiden|riservat|vertraul|vertrouwel|poufn|privileg|konfidentiell|"
    r"sigilos|reservad|uitsluitend|ausschlie|exclusiv|esclusiv|solely|wy[lł][aą]cznie|enbart))"
    rf"(?={_PARA}{{0,700}}?(intended recipient|addressee|intended (solely|only|exclusively)|"
    r"notify the sender|destinat|empf[aä]nger|adressat|geadresseerde|odbiorc|adresat|mittente|"
    r"afzender|absender|remitente|exp[eé]diteur|remetente|nadawc|mottagare|avs[aä]ndare))",
    re.I | re.M)
BOILERPLATE_CHARS = 100     # a shorter paragraph is the customer's own sentence, not boilerplate


def boilerplate_at(text: str) -> int | None:
    """Where a legal disclaimer in any common language starts: a paragraph of at least
    ``BOILERPLATE_CHARS`` after the author's own words that speaks of confidentiality and of the
    intended recipient or sender ("Le informazioni contenute in questo messaggio sono riservate
    ... destinatario")."""
    for m in _BOILERPLATE.finditer(text):
        end = re.search(r"\n[ \t]*\n|\Z", text[m.start():])
        if text[:m.start()].strip() and end.start() >= BOILERPLATE_CHARS:
            return m.start()
    return None


_PHONE_TAIL = re.compile(r"^\s*(sent from my \w+|sent from (outlook|mail|gmail|yahoo mail)|"
                         r"von meinem \w+ gesendet|enviado desde mi \w+|"
                         r"envoyé de mon \w+|enviado do meu \w+|get outlook for \w+)\b.*$",
                         re.I | re.M)
_AUTO_WORDS = (r"automatic reply|auto-?reply|autoreply|automatische antwort|respuesta automática|"
               r"réponse automatique|resposta automática")
_OFFICE_WORDS = (r"out of (the )?office|abwesenheitsnotiz|fuera de la oficina|absent(e)? du bureau|"
                 r"absence du bureau|fora do escritório")
_AWAY = Prefiltered(re.compile(
    rf"({_OFFICE_WORDS}|i am (currently )?(away|on (annual |parental |sick )?leave|"
    r"out until)|bin (bis|ab) .{0,40} nicht im büro)", re.I))
_AUTO_LABEL = re.compile(rf"^\s*({_AUTO_WORDS})\b", re.I)
_AUTO_SUBJECT = re.compile(rf"^\s*({_AUTO_WORDS}|{_OFFICE_WORDS})\b[^:]{{0,20}}:", re.I)



@dataclass(frozen=True)
class Message:
    """One comment as read: its index in ``ticket.comments`` (0 for a description that is no
    comment), who wrote it, its own words, and whether it is an auto-reply."""

    index: int
    author: str              # "customer" | "agent" | "internal"
    text: str
    auto_reply: bool = False
    minutes_before_now: float | None = None
    lead: str = ""           # for a forward, the customer's own words above it


@dataclass(frozen=True)
class Conversation:
    messages: tuple[Message, ...]

    @property
    def customer(self) -> tuple[Message, ...]:
        return tuple(m for m in self.messages if m.author == "customer" and not m.auto_reply
                     and m.text)

    @property
    def latest(self) -> Message | None:
        cust = self.customer
        return cust[-1] if cust else None

    def agent_replied_after(self, index: int) -> bool:
        return any(m.author == "agent" and m.index > index for m in self.messages)

    def agent_replied_before(self, index: int) -> bool:
        return any(m.author == "agent" and m.index < index for m in self.messages)


_FORWARD_SUBJECT = re.compile(r"^\s*(fwd?|fw|wg|tr|rv|enc|i)\s*:", re.I)
_REPLY_SUBJECT = re.compile(r"^\s*(re|aw|sv|r|res|rif|antw|odp|vs)\s*:", re.I)
_HEADER_LINE = re.compile(r"^\s*(from|von|de|da|van|sent|gesendet|enviad[oa](\s+(em|el))?|envoyé|date|datum|fecha|"
                          r"data|to|an|para|à|cc|subject|betreff|asunto|objet|assunto)\s*:.*$",
                          re.I | re.M)


_CONTEXT_LEAD = Prefiltered(re.compile(
    r"\b(for (context|reference|background|your (info|information|records))|as background|fyi|"
    r"(already|got|was|been|were) (all |fully )?(fixed|resolved|sorted|handled|answered|closed)|"
    r"(only|just) forwarding|(notice|mail|e-?mail|message|alert|warning|thread) below (is |was )?"
    r"(from|dated|of|sent|went)|"
    r"so (that )?you have (it|this|the|a|our) (\w+ )?(history|record|file|context)|"
    r"no action (is )?needed|nothing else (is )?needed|incident report|"
    r"(it'?s|it is|everything'?s|everything is) (all |fully |now )?(fixed|resolved|sorted|settled)|"
    r"zur (info|information|kenntnis)|als hintergrund|zum kontext|"
    r"(bereits|schon) (gelöst|erledigt|behoben|beantwortet)|"
    r"para (contexto|referencia|referência|tu información|su información|informação)|"
    r"como (contexto|referencia)|(ya|fue) (resuelto|solucionado|arreglado)|"
    r"pour (contexte|info|information|référence|l'historique)|(déjà|a été) (résolu|réglé|corrigé)|"
    r"pour que vous ayez l'historique|(ancien|vieil) (échange|message|mail)|"
    r"para (que tengan|tener) el historial|para el historial|damit sie den verlauf haben|"
    r"für den verlauf|zur vollständigkeit|para (terem|ter) o histórico|para o histórico|"
    r"(damit|dass) sie den (kontext|verlauf|hintergrund) haben|(längst|lange) (erledigt|gelöst|"
    r"behoben)|so (that )?you have (the )?(context|background)|as an example of|"
    r"is (this|it) still current|"
    r"para que (tengáis|tengan|tenga|tengas) (el|la|los|las) (número|referencia|historial|"
    r"contexto|datos)|"
    r"(já|foi) (resolvido|solucionado|corrigido)|"
    r"post-?mortem|root cause (analysis|report)|rapport d'incident|informe de(l)? incidente|"
    r"relatório de incidente|(vorfalls|störungs|incident)-?bericht|"
    r"(for|pour|para|für) (our|notre|nuestra|nossa|unser\w*) (\w+ )?(audit|jahresabschluss|"
    r"records|archives)|dans le cadre de (notre|l') ?audit|im rahmen (unseres|des) audits?|"
    r"no (issues|problems) since|aucun (souci|problème|probleme) depuis|"
    r"seitdem (keine|kein|nie mehr)|"
    r"sin problemas desde|sem problemas desde|"
    r"(das )?thema ist (abgeschlossen|erledigt)|le sujet est (clos|réglé)|tema cerrado|"
    r"assunto encerrado|(matter|issue) (is|was) closed|"
    r"my predecessor|(mon|ma) pr[ée]d[ée]cesseu?r|mein\w* vorgänger\w*|mi predecesor\w*|"
    r"meu antecessor)\b", re.I))


# the customer's words end by announcing a mail they paste below ("Three of us got this
# today:"): the pasted mail is the case, as a forward is
_PASTED_LEAD = re.compile(
    r"\b(got|get|received|receive|getting|receiving|sent (us|me)|this is what|it says|reads|"
    r"erhalten|bekommen|recib\w*|nos llego|me llego|recu|reçu|receb\w*|chegou)\b[^.!?\n]{0,80}:\s*$",
    re.I)


def pasted_is_case(words: str) -> bool:
    """The author's words end by announcing the mail pasted below them."""
    return bool(_PASTED_LEAD.search(words))


def forwarded(subject: str | None) -> bool:
    """A subject that says the customer forwards someone's mail to us ("Fwd:", "WG:", "TR:")."""
    return bool(_FORWARD_SUBJECT.match(subject or ""))


def forward_is_case(subject: str | None, body: str) -> bool:
    """A forward that brings the case itself, not old mail sent along "for context" or as a
    matter "already fixed" (then only the words above it are the customer's)."""
    return forwarded(subject) and not _CONTEXT_LEAD.search(f"{subject}\n{own_words(body)}")


def own_words(text: str, keep_forward: bool = False) -> str:
    """The author's own words of one message: no quoted or forwarded mail, no signature,
    disclaimer or phone tail. ``keep_forward``: the customer forwards a colleague's mail as
    the case itself ("Fwd: payroll export"): its text stays, without the header lines.
    Messages up to ``CACHED_CHARS`` are remembered (a ticket is read again on every update);
    longer ones are read afresh, so the cache stays small whatever is pasted."""
    if len(text or "") > CACHED_CHARS:
        return _own_words(text, keep_forward)
    return _own_words_cached(text, keep_forward)


CACHED_CHARS = 20_000


def _own_words(text: str, keep_forward: bool = False) -> str:
    text = plain_apostrophes((text or "").replace("\r\n", "\n").replace("\r", "\n"))
    if not text.strip():
        return ""
    if keep_forward:
        text = _HEADER_LINE.sub("", _FORWARD.sub("", text))
        lines = [ln for ln in text.split("\n") if not _QUOTE_LINE.match(ln)]
        disclaimer = _DISCLAIMER.search("\n".join(lines))
        out = "\n".join(lines)
        if disclaimer:
            out = out[:disclaimer.start()]
        return re.sub(r"\n{3,}", "\n\n", _PHONE_TAIL.sub("", out)).strip()
    cut = len(text)
    for pattern in (_FORWARD, _REPLY_ABOVE, _WROTE, _QUOTE_INTRO, _HEADER_BLOCK, _DISCLAIMER):
        m = pattern.search(text)
        if m and m.start() < cut:
            cut = m.start()
    tail = boilerplate_at(text[:cut])
    cut = cut if tail is None else tail
    text = text[:cut]
    try:
        reply = _latest_reply(text)
    except Exception:          # the parser is best effort; the plain text is still readable
        reply = text
    if not reply.strip() and text.strip():
        reply = text           # a message made only of a quote header keeps its words
    lines = [ln for ln in reply.split("\n") if not _QUOTE_LINE.match(ln)]
    out = _PHONE_TAIL.sub("", "\n".join(lines))
    return re.sub(r"\n{3,}", "\n\n", out).strip()


_own_words_cached = lru_cache(maxsize=8192)(_own_words)


def is_auto_reply(text: str, subject: str | None = None) -> bool:
    """An out-of-office or automatic reply (its text, or a subject such as "Automatic reply:")."""
    head = (text or "")[:400]
    return bool(_AWAY.search(head) or _AUTO_LABEL.match(head)
                or _AUTO_SUBJECT.match(subject or ""))


def role_of(comment, ticket: Ticket) -> str:
    role = (comment.author_role or "").lower()
    if role in CUSTOMER_ROLES:
        return "customer"
    if role in AGENT_ROLES:
        return "agent" if comment.public else "internal"
    if ticket.requester_id is not None and comment.author_id == ticket.requester_id:
        return "customer"
    return "agent" if comment.public else "internal"


def _case_words(body: str, keep: bool) -> tuple[str, str]:
    """(the words read, the customer's own lead) of a customer message: a forward that is the
    case (``keep``) or a mail pasted below words that announce it is read whole, its lead
    apart."""
    words = own_words(body, keep)
    if keep:
        return words, own_words(body)
    if pasted_is_case(words):
        return own_words(body, True), words
    return words, ""


def read_conversation(ticket: Ticket, now=None) -> Conversation:
    """Every comment of ``ticket`` read; the subject joins the first customer message; a
    ticket without comments reads its description as the customer's message."""
    msgs: list[Message] = []
    subject = plain_apostrophes((ticket.subject or "").strip())
    if _REPLY_SUBJECT.match(subject) or forwarded(subject) and not forward_is_case(
            subject, ticket.description or ""):
        subject = ""        # a reply's subject names the old thread, a forward's the old mail
    first_customer = True
    for i, c in enumerate(ticket.comments or ()):
        author = role_of(c, ticket)
        body = c.body or ""
        auto = author == "customer" and is_auto_reply(
            body, ticket.subject if i == 0 else None)
        keep = author == "customer" and first_customer and forward_is_case(ticket.subject, body)
        words, lead = _case_words(body, keep) if author == "customer" else (own_words(body), "")
        if author == "customer" and first_customer and not auto:
            if subject and not words.startswith(subject):
                words = f"{subject}\n{words}"
            first_customer = False
        age = None
        if now is not None and c.created_at is not None:
            age = (now - c.created_at).total_seconds() / 60.0
        msgs.append(Message(i, author, words, auto, age, lead))
    if not any(m.author == "customer" and m.text and not m.auto_reply for m in msgs):
        words, lead = _case_words(ticket.description or "", forward_is_case(
            ticket.subject, ticket.description or ""))
        if subject and not words.startswith(subject):
            words = f"{subject}\n{words}"
        auto = is_auto_reply(ticket.description or "", ticket.subject)
        msgs.insert(0, Message(0, "customer", words.strip(), auto, lead=lead))
    return Conversation(tuple(msgs))
