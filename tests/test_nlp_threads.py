"""Reading whole threads as a person would: who asked to close, automatic replies, mail sent
along for context, words cited in quotation marks, and which reading owns a sentence (all real:
the shipped detector, tag reader and manifest)."""
from __future__ import annotations

from datetime import timedelta

import pytest

from test_nlp_reading import ENRICHER, NOW, tags_of, ticket
from tiergate.plugin.core.decide import decide
from tiergate.plugin.core.manifest import default_manifest_path, load_manifest
from tiergate.plugin.core.model import Comment, Ticket

MANIFEST = load_manifest(default_manifest_path())


def decision(t: Ticket):
    return decide(t, ENRICHER.enrich(t, NOW), MANIFEST, NOW)


def escalated_to(t: Ticket) -> str | None:
    d = decision(t)
    return d.escalation.to_tier if d.escalation else None


def test_an_asked_close_holds_through_a_grumble_but_not_through_still_broken():
    grumble = ticket(("end-user", "The scheduler shows a grey page for all 40 of our nurses."),
                     ("agent", "A fix is deployed, could you reload?"),
                     ("end-user", "Yes, it's back for everyone. Fine to close. Shame the status "
                                  "page said nothing though, we did not know it was you."))
    e = ENRICHER.enrich(grumble, NOW)
    assert e.closing and "outage" not in e.tags
    broken = ticket(("end-user", "The scheduler shows a grey page for all 40 of our nurses."),
                    ("agent", "A fix is deployed, could you reload?"),
                    ("end-user", "You can close it once it works, but it is still not loading "
                                 "for the night shift."))
    assert not ENRICHER.enrich(broken, NOW).closing


@pytest.mark.parametrize("text", [
    "Please do not close this ticket until someone confirms the sync works. It failed again "
    "today for all 6 of our shops.",
    "Don't close the case again, the payroll export still breaks for our 80 staff.",
])
def test_a_close_the_customer_forbids_is_no_close(text):
    t = ticket(("end-user", "Orders stopped syncing."), ("agent", "Should be fixed now."),
               ("end-user", text))
    assert not ENRICHER.enrich(t, NOW).closing


def test_words_in_quotation_marks_are_cited_not_said():
    cited = ticket(("end-user", 'Can our booking page show a banner like "please call us on '
                                '555 0100" when something breaks?'))
    assert "human_request" not in tags_of(cited)
    said = ticket(("end-user", "Please call us on 555 0100, I want to speak to a manager."))
    assert "human_request" in tags_of(said)


def test_an_auto_reply_is_no_contact_and_an_auto_reply_alone_is_nothing_to_act_on():
    ooo = ("Thank you for your message. I am out of the office until Monday with limited access "
           "to email. For URGENT matters please call reception.")
    base = ticket(("end-user", "Invoices print with the wrong logo since the update."),
                  ("agent", "Could you send a screenshot?"), ("end-user", ooo))
    e = ENRICHER.enrich(base, NOW)
    assert e.auto_replies == (2,)
    fired = {f.name for f in decision(base).fired}
    assert "angry_repeat_contact" not in fired
    alone = Ticket(**{**base.__dict__, "subject": "Automatic reply: your request",
                      "description": ooo, "comments": (
                          Comment(id=1, author_id=1, author_role="end-user", body=ooo,
                                  public=True, created_at=NOW - timedelta(hours=1)),)})
    e = ENRICHER.enrich(alone, NOW)
    assert "auto_reply" in e.tags and "no_text" not in e.tags
    assert any(r.signal == "risk:auto_reply" for r in e.reasons)
    assert escalated_to(alone) is None


def test_mail_forwarded_for_context_is_history_and_a_forwarded_case_is_the_case():
    thread = ("\n\n---------- Forwarded message ---------\nFrom: Tom <tom@shop.example>\n"
              "Your checkout has been down for hours and we are losing every sale. If this is "
              "not fixed today we will end the contract and move to another provider.")
    context = ticket(("end-user", "Forwarding Tom's mail for context, that one got fixed in "
                                  "May. My question: can we add a second warehouse?" + thread),
                     subject="Fwd: checkout")
    assert not {"churn", "outage"} & tags_of(context)
    case = ticket(("end-user", "See below, please help." + thread), subject="Fwd: checkout")
    assert "churn" in tags_of(case)


@pytest.mark.parametrize("text", [
    "Our payroll run emailed Jana's payslip to another employee, with her salary and IBAN.",
    "Die Lohnabrechnung von Frau Kühn ist bei einem anderen Mitarbeiter gelandet.",
    "El informe del laboratorio de un paciente se envió a otra persona por error.",
    "Le bulletin de paie de Mme Roux a été envoyé à un autre salarié.",
    "O holerite da Ana foi enviado para outra pessoa da equipe.",
])
def test_personal_documents_sent_to_the_wrong_person_are_privacy_owned_by_privacy(text):
    t = ticket(("end-user", text))
    assert "privacy" in tags_of(t)
    assert escalated_to(t) == "privacy"


@pytest.mark.parametrize("text,tag", [
    ("How do we rotate our webhook secret every quarter? Nothing is compromised, it is policy.",
     "security"),
    ("Our in-house counsel has questions on your data processing agreement before we sign: "
     "where is data hosted?", "legal"),
    ("Could someone come down to our office and show the team the new rota screen?", "outage"),
])
def test_near_misses_in_ordinary_words(text, tag):
    assert tag not in tags_of(ticket(("end-user", text)))


def test_impact_told_by_sites_and_calls_makes_a_blank_page_an_outage():
    t = ticket(("end-user", "The booking page is blank."), ("agent", "Which location?"),
               ("end-user", "All of them, we have 5 clinics and we've had 40 calls from people "
                            "who can't book."))
    assert "outage" in tags_of(t)


def test_a_veiled_threat_against_a_named_agent_is_abuse():
    t = ticket(("end-user", "I know your name is Sam and I know where your office is. Maybe "
                            "I'll come round and have a word in person, you'd better hope the "
                            "money is back by Friday."))
    assert "abuse" in tags_of(t)


@pytest.mark.parametrize("text,tag", [
    ("Chega de resposta automática! Quero falar com um atendente humano, me liguem até as 18h.",
     "human_request"),
    ("Automatic replies again and again. I am out of patience: I want a manager to call me.",
     "human_request"),
])
def test_a_customer_fed_up_with_automatic_replies_is_no_automatic_reply(text, tag):
    t = ticket(("end-user", text))
    e = ENRICHER.enrich(t, NOW)
    assert "auto_reply" not in e.tags and tag in e.tags


@pytest.mark.parametrize("text", [
    "What's the last day we can cancel before the subscription auto-renews? Budget is tight.",
    "Bis wann müssen wir kündigen, damit sich der Vertrag nicht automatisch verlängert?",
    "¿Hasta cuándo podemos cancelar para que no se renueve la suscripción?",
])
def test_asking_how_late_to_cancel_before_renewal_is_churn(text):
    assert "churn" in tags_of(ticket(("end-user", text)))


@pytest.mark.parametrize("text,tag", [
    ("Unser Datenschutzbeauftragter braucht für das Verzeichnis von Verarbeitungstätigkeiten "
     "nach DSGVO den AVV. Es gab keinen Vorfall und keine Datenpanne.", "privacy"),
    ("Es gab keinen Vorfall und keine Datenpanne, wir brauchen nur die TOMs.", "security"),
    ("Our DPO needs your data processing agreement and sub-processor list for our GDPR records.",
     "privacy"),
])
def test_compliance_paperwork_is_no_privacy_request_or_incident(text, tag):
    assert tag not in tags_of(ticket(("end-user", text)))


def test_records_being_imported_are_no_people_affected():
    from tiergate.plugin.core.stakes import find_stakes
    assert find_stakes(["Importing 2,300 customers from CSV fails at row 1,118."]).people is None
    assert find_stakes(["Importing 2,300 customers from CSV fails at row 1,118."]).scale is None
    assert find_stakes(["Since 9am 2,300 customers cannot pay at checkout."]).scale == 2300


@pytest.mark.parametrize("tag,text", [
    ("human_request", "Could I talk to someone about upgrading to the bigger plan? No hurry."),
    ("security", "How can our admins see the login history of each user?"),
    ("privacy", "Wie kann ich die Daten eines ehemaligen Mitarbeiters löschen?"),
    ("privacy", "¿Cómo puedo borrar los datos de un antiguo alumno?"),
    ("legal", "Os voy a denunciar por hacerme adicto a la app 😂 En serio, gracias."),
    ("security", "Section 4 of our vendor questionnaire asks whether you have had a data breach."),
    ("outage", "The way you handled the outage last month was great. Can alerts go out by SMS?"),
    ("repeat_contact", "Can the PO number print on invoices? Our finance team keeps asking."),
    ("security", "How quickly would you notify us in the event of a data breach?"),
    ("chargeback", "Was passiert eigentlich, wenn ein Kunde bei PayPal eine Rückbuchung aufmacht?"),
])
def test_how_to_questions_jokes_and_the_past_stay_calm(tag, text):
    assert tag not in tags_of(ticket(("end-user", text)))


def test_own_words_cut_where_mail_parser_reply_cuts():
    from mailparser_reply import EmailReplyParser

    from tiergate.nlp.reading import LANGUAGES, _latest_reply
    library = EmailReplyParser(languages=LANGUAGES)
    for text in ["Thanks!\n\nOn Tue, 3 Mar 2026 at 10:02, Ana <a@x.example> wrote:\n> old",
                 "Danke.\nAm 12.03.2026 um 09:14 schrieb Support:\n> alt",
                 "Merci\n\nLe mar. 3 mars 2026 à 10:02, Paul a écrit :\n> ancien",
                 "plain text only\nBest regards,\nAnna", "\n\n", "\n  no header here  \n\n",
                 "ein Satz ohne Kopfzeile\r\n\r\nund noch einer ",
                 "reply\n\n________________________________\nFrom: A\nSent: today\nold"]:
        assert _latest_reply(text) == library.parse_reply(text=text)


@pytest.mark.parametrize("settled,new", [
    ("Das mit dem Bon hat geklappt, danke.",
     'Aber jetzt: seit 7:40 gehen in allen sechs Filialen keine Kartenzahlungen, die Kasse '
     'zeigt "Zahlungsdienst nicht erreichbar (Fehler 503)".'),
    ("Merci, l'import est réglé.",
     "Mais plus grave : depuis 9h aucune commande ne passe sur nos trois sites, page blanche "
     "au paiement."),
    ("A promoção funcionou, obrigado.",
     "Mas agora é urgente: desde as 17h nenhuma das nossas 5 lojas consegue emitir nota, o "
     "sistema trava."),
])
def test_thanks_for_one_matter_then_a_new_outage_is_no_close(settled, new):
    t = ticket(("end-user", "Small question about a setting."), ("agent", "Here is how."),
               ("end-user", f"{settled} {new}"))
    e = ENRICHER.enrich(t, NOW)
    assert not e.closing and "outage" in e.tags
    assert escalated_to(t) == "tier_3"


def test_an_outage_chased_for_days_is_stuck_not_a_page():
    rows = [("end-user", "Since Monday the booking site times out for all 12 of our staff.")]
    rows += [("agent", "Please clear your cache."),
             ("end-user", "That's the step from Monday, please read my first message. Still "
                          "timing out for all 12 of us.")]
    fresh = ticket(*rows)
    old = Ticket(**{**fresh.__dict__, "created_at": NOW - timedelta(days=9)})
    assert "repeat_contact" in tags_of(old)
    assert escalated_to(fresh) == "tier_3"
    assert escalated_to(old) == "tier_2"


def thread(start, *timed: tuple[float, str, str]) -> Ticket:
    """A ticket from (hours after ``start``, role, body) comments, the first the description."""
    comments = tuple(Comment(id=int(hours), author_id=1 if role == "end-user" else 2,
                             author_role=role, body=body, public=True,
                             created_at=start + timedelta(hours=hours))
                     for hours, role, body in timed)
    return Ticket(**{**ticket(("end-user", "x")).__dict__, "comments": comments,
                     "created_at": start, "description": comments[0].body})


def test_contacts_before_the_customer_said_it_was_solved_are_no_chasing():
    t = thread(NOW - timedelta(days=4),
               (0, "end-user", "Reminder texts stopped since Monday, can you check?"),
               (2, "agent", "Fixed the sender id, they go out tonight."),
               (30, "end-user", "Yes, they all went out this morning. Thanks!"),
               (31, "agent", "Great!"),
               (94, "end-user", "Unrelated: can a new physio have her own invoice signature? "
                                "No rush."))
    e = ENRICHER.enrich(t, NOW)
    assert e.settled_at == 2
    assert not {"stale_tier1", "stuck_with_frontline"} & {f.name for f in decision(t).fired}


def test_a_spanish_yes_is_no_if():
    t = ticket(("end-user", "Las clases no aparecen en la app."), ("agent", "Ya están publicadas."),
               ("end-user", "Sí, ya salen todas. ¡Gracias!"))
    assert ENRICHER.enrich(t, NOW).closing


def test_our_own_wifi_closes_the_question_whether_the_site_is_down():
    t = ticket(("end-user", "is the site down?"), ("agent", "All green here, any error?"),
               ("end-user", "nvm!! it was our office wifi, router died. back in now, sorry"))
    assert ENRICHER.enrich(t, NOW).closing


def test_close_away_after_a_long_chase_closes_the_matter():
    chased = ticket(("end-user", "Invoice PDFs open blank on every iPhone of ours."),
                    ("agent", "Which iOS version?"),
                    ("end-user", "18.1. Still blank, any news? Customers keep ringing me."),
                    ("end-user", "Chasing again, still blank for my customers too."),
                    ("agent", "The fix went out last night, could you try a new invoice?"),
                    ("end-user", "Finally!! Opened four invoices on two phones, every page "
                                 "shows.\n\nCheers Ana for staying on it. Close away.\n\n"
                                 "On Thu, 4 Dec 2025 at 08:12, Support wrote:\n"
                                 "> The fix went out last night"))
    e = ENRICHER.enrich(chased, NOW)
    assert e.closing and escalated_to(chased) is None, e.reasons


def _thread(latest: str) -> Ticket:
    return thread(NOW - timedelta(hours=75),
                  (0, "end-user", "Can we block tee times for the club competition?"),
                  (1, "agent", "Yes: Tee Sheet > Blocks > New block."),
                  (30, "end-user", "Done. Can the entry list be shown on the clubhouse TV?"),
                  (35, "agent", "Yes, open the Display link in the TV's browser."),
                  (72, "end-user", latest))


def test_the_stale_timer_leaves_a_happy_customer_with_a_new_question_alone():
    happy = _thread("Great stuff, the members love it! Will online entry fees come next year?")
    assert "stale_tier1" not in {f.name for f in decision(happy).fired}
    waiting = _thread("Still no answer on the entry fees question from last week?")
    assert "stale_tier1" in {f.name for f in decision(waiting).fired}


# phrasings of outside-written tickets: threats, look-alike sites, card disputes, lapses and
# renewals, health data shown to many, whole streets without service, spam
@pytest.mark.parametrize("tag,text", [
    ("abuse", "Keep closing my tickets and you'll find out how I deal with people like you."),
    ("abuse", "Someone should drive down there and slap some sense into your support team."),
    ("security", "The link in that mail goes to acme-pay-billing.net, which isn't your domain, and "
                 "two of our clients already paid through it."),
    ("chargeback", "If the fee is not refunded by Friday I will dispute it with my card provider."),
    ("cancel_request", "Please don't auto-renew our plan in March, we are moving everything to "
                       "another tool."),
    ("privacy", "The physio notes with each patient's diagnosis now show on the rota that all 40 "
                "staff can see."),
    ("outage", "The whole street has been without broadband since 6am, every house we asked."),
    ("outage", "Half of the town has had no power since last night and nobody answers."),
    ("spam", "Boost your followers fast! Contact our manager on Telegram for the price list."),
    ("spam", "Your clinic has been shortlisted for the Best Care Awards; pay the nomination fee "
             "to confirm."),
    ("churn", "If there's no cheaper tier I'll let the subscription lapse in March."),
    ("billing", "Please stop the pending direct debit until the invoice is corrected."),
    ("security", "The page looked exactly like your website and she typed her card number in."),
    ("legal", "Notre avocat vous adressera un courrier recommandé cette semaine."),
    ("privacy", "Staff sick notes and occupational health reports sit in a folder that is visible "
                "to 200 users."),
    ("privacy", "Today's export had someone else's patient list attached, with phone numbers."),
    ("churn", "After two outages the board has decided not to renew the contract in March."),
    ("churn", "Forget it, I'm going to use Quickcart from now on."),
    ("churn", "Unless the delivery times get better I'm not keeping the subscription."),
    ("churn", "Está difícil justificar ficar com essas taxas."),
    ("human_request", "I would like a supervisor to telephone me this afternoon."),
    ("cancel_request", "Please don't auto-renew us next month."),
    ("spam", "We deliver 100 genuine reviews per week on every app. Reply YES for the price list."),
    ("billing", "Auf der Novemberrechnung stehen 30 statt 20 Lizenzen berechnet."),
    ("billing", "Die 80 € zu viel wurden schon vom Firmenkonto eingezogen."),
    ("outage", "Seit dem Update geht im Shop keine einzige Bestellung mehr durch."),
    ("human_request", "Passez-moi un superviseur, je ne discute plus avec le chat."),
    ("repeat_contact", "Ça fait dix jours qu'on tourne en rond avec votre support."),
    ("repeat_contact", "We have been going round in circles with your team since November."),
    ("churn", "A diretoria abriu uma revisão de orçamento e pediu para cotar mais duas "
              "plataformas."),
    ("churn", "Já fechamos com outro fornecedor, a migração termina em fevereiro."),
    ("privacy", "O relatório trouxe nome e CPF de pessoas que não são nossos clientes."),
    ("outage", "Since this morning nothing syncs, and dozens of other sellers on the forum are "
               "saying the exact same."),
    ("legal", "Si no me devuelven la plata les mando carta documento el lunes."),
    ("legal", "Ya lo consulté con un abogado y tengo todas las de ganar."),
    ("churn", "El gerente me pidió cotizar con otros dos proveedores antes de renovar."),
    ("churn", "Our sales team is moving to Pipewell next quarter, so we only need 6 seats from "
              "April."),
])
def test_outside_round_phrasings_tag(tag, text):
    assert tag in tags_of(ticket(("end-user", text)))


# their near misses: slang, the past, thanks, third-person managers, plan names, quantities,
# card descriptors, relocations
@pytest.mark.parametrize("tag,text", [
    ("security", "I hacked together a little script that polls your API every hour. Is there a "
                 "webhook instead?"),
    ("outage", "Two incidents last quarter each took us offline for an hour, so procurement wants "
               "a review before the renewal."),
    ("outage", "Nothing is broken on our side, we are writing our incident runbook: do you have a "
               "status feed for outages?"),
    ("human_request", "Thanks for the call back yesterday, the credit arrived. When does the new "
                      "tariff start?"),
    ("human_request", "New hires never get the checklist, and the manager doesn't get the "
                      "first-week task either."),
    ("billing", "Every search shows the hotels as full. That can't be right, their own sites have "
                "rooms."),
    ("privacy", "I never agreed to it, the box was pre-ticked. Please refund the fee."),
    ("outage", "We're on your Business Fibre 500 plan with 9 people; can we get status alerts by "
               "SMS?"),
    ("outage", "Reply YES for a free sample of 500 records from our verified lists."),
    ("outage", "There's a $4.99 charge from 'STREAMCO P1' on my card, what is it?"),
    ("security", "I hacked my way into the hidden settings menu and now the units are wrong, how "
                 "do I reset it?"),
    ("churn", "We're moving to a bigger shop in January: can the contract move with us to the "
              "new premises?"),
    ("security", "lol did i just hack your app? two promo codes went through on one order 😅"),
    ("outage", "Our panel of 50-500 testers can start next week."),
    ("cancel_request", "Antes de assinar: qual é a política de cancelamento do plano anual?"),
    ("security", "Vocês têm algum material sobre phishing para treinamento da equipe?"),
    ("outage", "Quando teve aquela queda em março ficamos sem aviso. Vocês têm página de status?"),
    ("outage", "Many other customers have the same question, so maybe add it to the FAQ?"),
    ("repeat_contact", "Two guests have already emailed asking whether breakfast is included; "
                       "where do I set that?"),
    ("human_request", "El gerente me pidió revisar las facturas de noviembre, ¿dónde las "
                      "descargo?"),
    ("chargeback", "¿Hay algún reporte donde ver los contracargos de mis clientes de este mes?"),
    ("churn", "Our office is moving to Leeds in January, can you update the billing address?"),
    ("churn", "From 1 January we split into two entities and need to move 20 users from one to "
              "the other."),
])
def test_outside_round_near_misses_stay_calm(tag, text):
    assert tag not in tags_of(ticket(("end-user", text)))


@pytest.mark.parametrize("down,fixed,closed", [
    ("Seit 20 Uhr kann sich niemand mehr anmelden, alle 25 Leute der Spätschicht schreiben auf "
     "Zettel.", "Die Störung ist seit 22:40 behoben.",
     "Bei uns läuft seit gestern Abend alles, die Daten sind vollständig da. Danke für die "
     "Updates! Von unserer Seite erledigt."),
    ("NO ANDA NADA. Ninguno de los chicos del depósito puede entrar desde las 8.",
     "Ya aplicamos la corrección, ¿pueden entrar?",
     "Confirmo que desde ayer anda todo bien. Gracias por la rapidez, cierren nomás."),
])
def test_done_on_our_side_closes_the_matter(down, fixed, closed):
    t = ticket(("end-user", down), ("agent", fixed), ("end-user", closed))
    e = ENRICHER.enrich(t, NOW)
    assert e.closing and "outage" not in e.tags
    assert escalated_to(t) is None


@pytest.mark.parametrize("lead", [
    "Pour notre audit qualité, pouvez-vous m'envoyer le rapport d'incident de la panne "
    "ci-dessous ? Aucun souci depuis de notre côté.",
    "Für unseren Jahresabschluss brauche ich eine kurze Bestätigung zu der Meldung unten, das "
    "Thema ist abgeschlossen.",
])
def test_a_forward_sent_for_an_audit_is_no_new_incident(lead):
    body = (f"{lead}\n\n---------- Message transféré ---------\nDe : Claire\n"
            "Objet : URGENT\nPlus aucun technicien ne peut se connecter, 25 dépannages en "
            "attente !!! Rappelez-moi immédiatement.")
    t = ticket(("end-user", body), subject="TR: Incident du 12 octobre")
    assert not {"outage", "human_request"} & tags_of(t)
    urgent = ticket(("end-user", "Voir ci-dessous, c'est urgent.\n\n" + body.split("\n\n", 1)[1]),
                    subject="TR: Incident du 12 octobre")
    assert "outage" in tags_of(urgent)
