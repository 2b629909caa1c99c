"""Points and reasons of the attention score: how many points each risk tag and each text or
conversation signal gives, and the reasons that state them (the numbers listed in docs/nlp.md).
Pure functions of already-read signals; ``tiergate.nlp.enrich`` reads the texts and adds them up.
"""
from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Mapping, Sequence

from tiergate.nlp.textscore import TextScore
from tiergate.plugin.core.model import CUSTOMER_ROLES, Reason, RiskTag, Ticket

# Points per risk tag found anywhere in the customer's comments (unknown tags: DEFAULT_TAG_POINTS).
# Ordered by how serious the reproach is: accusation / blame ("you lied", "refused to") and
# irony count more than a plain problem report ("error", "not working").
TAG_POINTS = {"legal": 30, "security": 25, "churn": 25, "outage": 20, "safety": 20,
              "human_request": 15, "accusation": 15, "repeat_contact": 12, "sarcasm": 12,
              "urgent": 10, "billing": 10, "complaint": 8, "problem": 8, "delay": 8}
DEFAULT_TAG_POINTS = 10
# Tags that make a message a complaint by themselves.
COMPLAINT_TAGS = frozenset({"complaint", "problem", "delay", "outage", "billing", "security",
                            "legal", "churn", "repeat_contact", "accusation", "sarcasm",
                            "safety"})
WEIGHTS = {
    "sentiment": 25,        # x (-sentiment) for a negative conversation
    "tags_cap": 50,         # all risk tags together
    "trend": 10,            # first customer comment neutral/positive, last one negative
    "caps": 5, "exclaim": 5, "blame": 15, "addressed": 8,
    "complaint": 10,
    "repeat_per_followup": 5, "repeat_cap": 15, "followup_ticket": 5,
    "vip": 12, "enterprise": 8, "value_100k": 6, "value_25k": 3, "renewal_60d": 4, "value_cap": 15,
}
MODEL_POINTS = 100          # a trained model's probability x this = the text part of the score
DELAY_POINTS = ((72, 20), (24, 16), (8, 12), (4, 8), (1, 4))  # (hours waiting >=, points)
NEGATIVE_AT = -0.05


def tone_reason(probability: float) -> list[Reason]:
    """A text the rules do not read as a complaint counts the complaint points in proportion to
    how much the tone model reads it as one (whole points; none below one)."""
    points = round(WEIGHTS["complaint"] * probability)
    if points < 1:
        return []
    return [Reason("tone", float(points), f"the customer's words read like a complaint "
                   f"(tone model {probability:.2f})")]


def model_reason(text_parts: Sequence[Reason], probability: float) -> Reason:
    """A trained model leads the text part of the score: the texts count
    ``MODEL_POINTS`` x its probability (one decimal) instead of the rules' points, which stay
    listed; this reason is the difference (negative when the model rates the text lower)."""
    rules = sum(int(p.points) for p in text_parts)
    target = round(MODEL_POINTS * probability, 1)
    return Reason("model", round(target - rules, 1),
                  f"trained model: the text scores {target:.1f} (probability "
                  f"{probability:.3f}; the rules alone {rules})")


def risk_tags(indices: Sequence[int], scores: Sequence[TextScore]
               ) -> tuple[tuple[RiskTag, ...], Mapping[str, RiskTag], Sequence[Reason]]:
    """(each risk phrase once per comment, first RiskTag of each tag, the tags' reasons)."""
    if len(scores) == 1:
        return _comment_risks(scores[0].risks, indices[0])
    risk_tags: list[RiskTag] = []
    first_of: dict[str, RiskTag] = {}
    for idx, score in zip(indices, scores):
        comment_tags, comment_first, _ = _comment_risks(score.risks, idx)
        risk_tags.extend(comment_tags)
        for tag, risk in comment_first.items():
            first_of.setdefault(tag, risk)
    return tuple(risk_tags), first_of, _tag_reasons(first_of)


@lru_cache(maxsize=1 << 14)
def _comment_risks(risks: tuple[tuple[str, str], ...], idx: int
                   ) -> tuple[tuple[RiskTag, ...], Mapping[str, RiskTag], Sequence[Reason]]:
    """``risk_tags`` of one comment: a pure function of its phrases, which many comments
    share (most have none or one or two keywords), so it is computed once per distinct value
    (RiskTags and Reasons are immutable; the mapping is only read)."""
    risk_tags = tuple([RiskTag(tag, phrase, idx) for tag, phrase in risks])
    first_of: dict[str, RiskTag] = {}
    for risk in risk_tags:
        first_of.setdefault(risk.tag, risk)
    return risk_tags, first_of, tuple(_tag_reasons(first_of))


def _tag_reasons(first_of: Mapping[str, RiskTag]) -> list[Reason]:
    """One reason per tag, most points first, together at most WEIGHTS["tags_cap"]."""
    parts: list[Reason] = []
    tag_total = 0
    cap = WEIGHTS["tags_cap"]
    for tag in sorted(first_of, key=_by_points):
        pts = min(TAG_POINTS.get(tag, DEFAULT_TAG_POINTS), cap - tag_total)
        if pts <= 0:
            break
        tag_total += pts
        first = first_of[tag]
        parts.append(Reason(f"risk:{tag}", float(pts),
                            f'"{first.phrase}" in comment {first.comment_index}'))
    return parts




@lru_cache(maxsize=1 << 15)
def _sentiment_reason(sentiment: float) -> Reason | None:
    pts = round(WEIGHTS["sentiment"] * -sentiment)
    return Reason("sentiment", float(pts), f"conversation sentiment {sentiment:+.2f}") \
        if pts else None


class _NegativePoints(dict):
    def __missing__(self, tag: str) -> int:
        return -DEFAULT_TAG_POINTS


# sort key: most points first (a dict lookup, no Python call per tag)
_by_points = _NegativePoints({tag: -pts for tag, pts in TAG_POINTS.items()}).__getitem__


# reasons whose wording never changes (Reasons are immutable, so one of each serves every ticket)
_CAPS_REASON = Reason("intensity:caps", float(WEIGHTS["caps"]), "customer writes in capitals")
_PUNCTUATION_REASON = Reason("intensity:punctuation", float(WEIGHTS["exclaim"]),
                             'repeated "!" / "?"')
_ADDRESSED_REASON = Reason("blame", float(WEIGHTS["addressed"]),
                           "complaint addressed to the company (you / your)")
_COMPLAINT_REASON = Reason("complaint", float(WEIGHTS["complaint"]), "reads as a complaint")


def text_reasons(sentiment: float, sents: Sequence[float], tag_reasons: Sequence[Reason],
                  scores: Sequence[TextScore], complaint: bool,
                  tone: float | None = None) -> list[Reason]:
    """Everything the customer's texts say, in reason order; ``tone``: the tone model's
    complaint probability (None when it does not read the language)."""
    parts: list[Reason] = []
    if sentiment < 0:
        reason = _sentiment_reason(sentiment)
        if reason is not None:
            parts.append(reason)
    parts.extend(tag_reasons)
    if len(sents) >= 2 and sents[0] > NEGATIVE_AT and sents[-1] <= -0.25:
        parts.append(Reason("trend", float(WEIGHTS["trend"]),
                            f"customer went from {sents[0]:+.2f} to {sents[-1]:+.2f}"))
    shouting = punctuation = second_person = False
    blamed = 0
    for s in scores:
        if s.caps_words and s.shouting:
            shouting = True
        if s.exclaims >= 3 or s.punct_runs:
            punctuation = True
        blamed += s.blame
        second_person = second_person or s.second_person
    if shouting:
        parts.append(_CAPS_REASON)
    if punctuation:
        parts.append(_PUNCTUATION_REASON)
    if blamed:
        parts.append(Reason("blame", float(WEIGHTS["blame"]),
                            f"{blamed} negative sentence(s) addressed to the company"))
    elif complaint and second_person:
        parts.append(_ADDRESSED_REASON)
    if complaint:
        parts.append(_COMPLAINT_REASON)
    elif tone is not None:
        parts.extend(tone_reason(tone))
    return parts


def _is_customer(comment, ticket: Ticket) -> bool:
    role = (comment.author_role or "").lower()
    if role in CUSTOMER_ROLES:
        return True
    if role in ("agent", "admin", "system"):
        return False
    return ticket.requester_id is not None and comment.author_id == ticket.requester_id


def customer_texts(ticket: Ticket) -> tuple[list[int], list[str]]:
    """(comment index, text) of each customer comment, the subject joined to the first."""
    indices, texts = [], []
    for i, c in enumerate(ticket.comments or ()):
        if _is_customer(c, ticket) and (c.body or "").strip():
            indices.append(i)
            texts.append(c.body)
    if not texts:
        indices, texts = [0], [ticket.description or ""]
    subject = (ticket.subject or "").strip()
    if subject and not texts[0].startswith(subject):
        texts[0] = f"{subject}\n{texts[0]}"
    return indices, texts


def conversation_reasons(ticket: Ticket, now: datetime) -> list[Reason]:
    """Response delay, repeat contacts and customer value (no text involved)."""
    reasons: list[Reason] = []
    comments = [c for c in (ticket.comments or ()) if c.public or _is_customer(c, ticket)]
    waiting_since = None
    follow_ups = 0
    for c in comments:
        if _is_customer(c, ticket):
            if waiting_since is None:
                waiting_since = c.created_at
                follow_ups = 0
            else:
                follow_ups += 1
        elif (c.author_role or "").lower() in ("agent", "admin"):
            waiting_since = None
            follow_ups = 0
    if not comments and ticket.created_at is not None and ticket.status in ("new", "open"):
        waiting_since = ticket.created_at
    if waiting_since is not None and now is not None and ticket.status not in ("solved", "closed"):
        hours = (now - waiting_since).total_seconds() / 3600.0
        for limit, pts in DELAY_POINTS:
            if hours >= limit:
                reasons.append(Reason("response_delay", pts,
                                      f"customer waiting {hours:.1f} h for an agent reply"))
                break
    if follow_ups:
        pts = min(WEIGHTS["repeat_cap"], WEIGHTS["repeat_per_followup"] * follow_ups)
        reasons.append(Reason("repeat_contact", pts,
                              f"{follow_ups} customer follow-up(s) without an agent reply"))
    if ticket.via_followup_source_id:
        reasons.append(Reason("followup_ticket", WEIGHTS["followup_ticket"],
                              f"follow-up of ticket {ticket.via_followup_source_id}"))
    org = ticket.organization
    if org is not None:
        pts, bits = 0, []
        seg = (org.segment or "").lower()
        if seg in ("vip", "enterprise"):
            pts += WEIGHTS[seg]
            bits.append(f"segment {seg}")
        value = org.account_value or 0
        if value >= 100_000:
            pts += WEIGHTS["value_100k"]
            bits.append(f"account value {value:,.0f}")
        elif value >= 25_000:
            pts += WEIGHTS["value_25k"]
            bits.append(f"account value {value:,.0f}")
        if org.renewal_at is not None and now is not None:
            days = (org.renewal_at - now).total_seconds() / 86400
            if 0 <= days <= 60:
                pts += WEIGHTS["renewal_60d"]
                bits.append(f"renewal in {days:.0f} days")
        pts = min(pts, WEIGHTS["value_cap"])
        if pts:
            reasons.append(Reason("customer_value", pts, f"{org.name}: " + ", ".join(bits)))
    return reasons
