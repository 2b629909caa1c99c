"""Reading a conversation as a person would: own words, stakes, language, risk reading rules,
and the semantic layer's encoder (all real: py3langid, mail-parser-reply, the shipped table)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from tiergate.nlp.enrich import Enricher
from tiergate.nlp.language import detect_language
from tiergate.nlp.reading import own_words, read_conversation
from tiergate.nlp.risk import RiskDetector
from tiergate.nlp.semantic import ExampleMatcher, StaticEncoder, fold
from tiergate.nlp.sentiment_intl import intl_sentiment
from tiergate.plugin.core.sentences import sentences
from tiergate.plugin.core.stakes import find_money, find_stakes, parse_number
from tiergate.plugin.core.decide import decide
from tiergate.plugin.core.manifest import default_manifest_path, load_manifest
from tiergate.plugin.core.model import Comment, Organization, Ticket

NOW = datetime(2026, 12, 3, 15, 0, tzinfo=timezone.utc)     # a Thursday
ENRICHER = Enricher(None)


def ticket(*bodies: tuple[str, str], subject: str = "Help", org=None) -> Ticket:
    comments = tuple(
        Comment(id=i, author_id=1 if role == "end-user" else 2, author_role=role, body=body,
                public=role != "internal", created_at=NOW - timedelta(hours=len(bodies) - i))
        for i, (role, body) in enumerate(bodies))
    return Ticket(id=1, subject=subject, description=bodies[0][1], status="open", priority=None,
                  type=None, group_id=None, assignee_id=None, requester_id=1,
                  organization_id=None, tags=(), channel="email", created_at=NOW - timedelta(days=1),
                  updated_at=NOW, comments=comments, organization=org)


def tags_of(t: Ticket) -> set[str]:
    return set(ENRICHER.enrich(t, NOW).tags)


# -- own words --------------------------------------------------------------------------------
def test_quoted_reply_signature_and_forward_are_not_the_authors_words():
    text = ("Thanks, that worked.\n\nBest regards,\nAnna\n\n"
            "On Mon, 3 Nov 2026 at 10:12, Support <s@x.example> wrote:\n> We will sue you\n")
    assert own_words(text).startswith("Thanks, that worked.")
    assert "sue" not in own_words(text)
    fwd = "see below\n\n-----Original Message-----\nFrom: Bob\nour lawyer will call"
    assert own_words(fwd) == "see below"
    de = "Danke, geht wieder.\n\nAm 03.11.2026 um 10:12 schrieb Support <s@x.de>:\n> Klage"
    assert own_words(de) == "Danke, geht wieder."


@pytest.mark.parametrize("footer", [
    "Le informazioni contenute in questo messaggio di posta elettronica sono riservate e "
    "confidenziali. Qualora Lei non fosse il destinatario, La invitiamo ad eliminarlo.",
    "Dit e-mailbericht is uitsluitend bestemd voor de geadresseerde en kan vertrouwelijke "
    "informatie bevatten. Bent u niet de geadresseerde, verwijder het bericht dan.",
    "Niniejsza wiadomość jest poufna i przeznaczona wyłącznie dla adresata. Jeśli nie jesteś "
    "odbiorcą, poinformuj nadawcę i usuń wiadomość.",
    "Dit bericht is uitsluitend bestemd voor de geadresseerde. Heeft u dit bericht ten "
    "onrechte ontvangen, dan wordt u verzocht de afzender te informeren."])
def test_a_legal_footer_in_any_language_is_not_the_authors_words(footer):
    text = f"Hi,\n\nhow do I make one field mandatory in one form only?\n\nThanks\nLuca\n\n{footer}"
    assert own_words(text) == "Hi,\n\nhow do I make one field mandatory in one form only?\n\nThanks\nLuca"
    assert detect_language(own_words(text)).code == "en"


@pytest.mark.parametrize("report", [
    "This email was sent to the wrong recipient and holds confidential pay data.",
    "Confidential salary data of 40 employees went to the wrong recipient yesterday through "
    "your payroll mail, with bank details; the addressee is a supplier of ours.",
    "Este correo es para avisarles de que datos confidenciales de 40 empleados se enviaron "
    "ayer a un destinatario equivocado desde su sistema de nóminas."])
def test_a_customer_reporting_confidential_data_keeps_their_words(report):
    text = f"Hello,\n\n{report}\n\nPlease help."
    assert report in own_words(text)


@pytest.mark.parametrize("header", [
    "El mar, 3 sept 2024 a las 17:42, Luis Gómez (<luis@empresa.es>) escribió:",
    "El 03/09/2024 a las 17:42, Luis Gómez escribió:",
    "Em ter., 3 de set. de 2024 às 17:42, Rui Costa <rui@empresa.pt> escreveu:",
    "Em 03/09/2024 17:42, Rui Costa escreveu:",
    "On Tue, Sep 3, 2024 at 5:42 PM Jane Doe <\njane@acme.com> wrote:",
    "---- On Tue, 03 Sep 2024 17:42:00 +0200 Jane <j@x.com> wrote ----",
    "Op di 3 sep 2024 om 17:42 schreef Jan de Vries <jan@bedrijf.nl>:",
    "Jan Weber <jan@firma.de> schrieb am Di., 3. Sept. 2024, 17:42:",
    "2024-09-03 17:42 GMT+02:00 Jane Doe <jane@acme.com>:",
    "--- Jane Doe wrote ---",
    "Quoting Jane Doe <jane@acme.com>:",
    ">>> Jane Doe 03/09/2024 17:42 >>>",
    "[Quoted text hidden]",
])
def test_an_unquoted_mail_below_a_reply_header_is_not_the_authors_words(header):
    text = f"Gracias, ya funciona.\n\n{header}\nSi no lo arreglan hoy, cancelamos el contrato."
    assert own_words(text) == "Gracias, ya funciona."


@pytest.mark.parametrize("delimiter", [
    "##- Please type your reply above this line -##",
    "----- Reply above this line -----",
    "##- Bitte geben Sie Ihre Antwort über dieser Zeile ein. -##",
    "##- Escriba su respuesta por encima de esta línea. -##",
    "##- Veuillez saisir votre réponse au-dessus de cette ligne. -##",
    "##- Digite sua resposta acima desta linha. -##"])
def test_a_help_desk_reply_delimiter_ends_the_authors_words(delimiter):
    text = f"Could you send the PDF too?\n\n{delimiter}\n\nYou charged me twice, I will sue."
    assert own_words(text) == "Could you send the PDF too?"
    assert own_words("I'll reply above this line: the export fails for everyone.").endswith(
        "everyone.")


def test_a_sentence_that_names_a_writer_is_not_a_reply_header():
    text = "Hola,\nEl lunes mi jefe escribió: que cancelemos.\nGracias"
    assert "cancelemos" in own_words(text)
    log = "On Monday at 9 the error log wrote: 500 everywhere. Still broken!"
    assert own_words(log) == log


def test_who_wrote_what_and_the_latest_customer_message():
    t = ticket(("end-user", "Our site is down"), ("agent", "Looking into it"),
               ("internal", "engineering paged"), ("end-user", "Thanks, all good now"))
    conv = read_conversation(t, NOW)
    assert [m.author for m in conv.messages] == ["customer", "agent", "internal", "customer"]
    assert conv.latest.text == "Thanks, all good now"
    assert conv.agent_replied_after(0)


def test_a_date_or_a_title_with_a_stop_is_no_sentence_end():
    assert sentences("Trotzdem wurden am 1. Oktober 189 € eingezogen. Bitte prüfen.") == [
        "Trotzdem wurden am 1. Oktober 189 € eingezogen.", "Bitte prüfen."]
    assert len(sentences("Un virement vers M. Roy, pas moi. Merci.")) == 2
    assert sentences("We had 3. Then 4.") == ["We had 3.", "Then 4."]


def test_sentences_split_at_stops_and_line_breaks():
    assert sentences("Hi. Nothing works!\nPlease help?") == ["Hi.", "Nothing works!",
                                                              "Please help?"]


# -- stakes -----------------------------------------------------------------------------------
@pytest.mark.parametrize("text,value", [("1,250.00", 1250.0), ("1.250,00", 1250.0),
                                        ("890,50", 890.5), ("3 400", 3400.0), ("12k", 12000.0)])
def test_numbers_in_either_convention(text, value):
    assert parse_number(text) == value


def test_money_in_any_phrasing_with_currency():
    found = {(v, c) for v, c, _ in find_money("R$ 1.250,00 and 89,90 € and $3,400 and 40 pounds")}
    assert found == {(1250.0, "BRL"), (89.9, "EUR"), (3400.0, "USD"), (40.0, "GBP")}


def test_people_deadline_and_whole_company():
    s = find_stakes(["None of our 40 agents can work, we need it by Friday"], NOW)
    assert s.people == 40 and s.deadline == "by Friday" and s.deadline_days == 1.0
    assert find_stakes(["The whole company is blocked"]).everyone
    assert find_stakes(["innerhalb von 30 Tagen bitte"]).deadline_days == 30.0
    assert find_stakes(["In 2024 we moved offices"]).people is None


# -- language ---------------------------------------------------------------------------------
@pytest.mark.parametrize("text,code", [
    ("Guten Tag, unser Team kann seit heute Morgen nicht arbeiten", "de"),
    ("Hola, no puedo entrar a mi cuenta desde ayer por la tarde", "es"),
    ("Bonjour, la plateforme ne répond plus depuis ce matin", "fr"),
    ("Olá, fui cobrado duas vezes na fatura deste mês", "pt"),
    ("Ciao, il sito non funziona da stamattina per tutti noi", "it"),
    ("ok", "und")])
def test_language_detection(text, code):
    assert detect_language(text).code == code


def test_unknown_language_is_tagged_never_calm():
    en = ENRICHER.enrich(ticket(("end-user", "Buongiorno, il sistema non funziona da "
                                             "stamattina e nessuno può lavorare.")), NOW)
    assert en.language == "it" and not en.language_supported
    assert "unknown_language" in en.tags and en.attention_score >= 20


def test_spam_in_a_language_not_read_is_spam_and_no_review():
    manifest = load_manifest(default_manifest_path())
    seo = ticket(("end-user", "Buongiorno, offriamo servizi SEO e link building per portare il "
                              "vostro sito in prima pagina su Google."))
    en = ENRICHER.enrich(seo, NOW)
    assert "spam" in en.tags and not en.language_supported
    assert decide(seo, en, manifest, NOW).escalation is None
    real = ticket(("end-user", "Buongiorno, da ieri la sincronizzazione delle camere non "
                               "funziona e abbiamo venduto due volte la stessa stanza."))
    en = ENRICHER.enrich(real, NOW)
    assert "spam" not in en.tags
    assert decide(real, en, manifest, NOW).escalation.to_tier == "review"


def test_german_sentiment_reads_its_own_words():
    assert intl_sentiment("Das ist eine absolute Katastrophe", "de") < -0.5
    assert intl_sentiment("Das ist nicht gut", "de") < 0 < intl_sentiment("Das ist gut", "de")


# -- reading rules ----------------------------------------------------------------------------
def test_quoted_old_angry_mail_below_a_calm_reply_is_not_read():
    t = ticket(("end-user", "Sounds good, see you Tuesday.\n\nOn Mon, 2 Nov 2026, Jo wrote:\n"
                            "> This is a scam, I will take you to small claims court"))
    assert not {"legal", "billing"} & tags_of(t)


def test_negated_and_past_events_do_not_tag():
    assert "outage" not in tags_of(ticket(("end-user", "This is not an outage, just a question "
                                                       "about exports for our 40 users.")))
    past = ticket(("end-user", "Last week the dashboard was down for our whole team, it is "
                               "fine now. Can I get the incident report?"))
    assert "outage" not in tags_of(past)
    credit = ticket(("end-user", "Our store was offline yesterday for 4 hours during the sale, "
                                 "all 3 shops. Will we get a service credit?"))
    assert "outage" not in tags_of(credit)
    assert "outage" in tags_of(ticket(("end-user", "Our site has been down for 3 hours, none "
                                                   "of our 200 customers can order.")))
    assert "legal" not in tags_of(ticket(("end-user", "I'm not going to sue you, relax.")))


@pytest.mark.parametrize("text", [
    "I will not hesitate to contact my lawyer about this.",
    "Je n'hésiterai pas à saisir un avocat.",
    "No descarto emprender acciones legales.",
    "Não hesitarei em procurar um advogado.",
])
def test_a_negated_doubt_affirms_the_threat(text):
    assert "legal" in tags_of(ticket(("end-user", text)))


@pytest.mark.parametrize("text", [
    "Don't hesitate to call me if you need anything.",
    "N'hésitez pas à m'appeler au 06 12 34 56 78.",
    "No dude en llamarme si necesita algo.",
    "Não hesite em me ligar.",
    "Bei Rückfragen erreichen Sie mich unter 0171 5550101.",
])
def test_a_courtesy_offer_to_call_is_no_request_for_a_person(text):
    assert "human_request" not in tags_of(ticket(("end-user", text)))


def test_typographic_apostrophes_negate_like_plain_ones():
    assert "outage" not in tags_of(ticket(("end-user", "This isn\u2019t an outage, just a "
                                                       "question about exports for our 40 users.")))
    assert "legal" not in tags_of(ticket(("end-user", "I\u2019m not going to sue you, relax.")))
    assert not ENRICHER.score_text("You won\u2019t regret it!").complaint


def test_negation_words_belong_to_the_texts_language():
    # Portuguese "no" is "in the": the threat stands; Spanish "no" negates it
    pt = ticket(("end-user", "Paguei o plano anual e o aplicativo não abre desde setembro. Se "
                             "precisar entro no Juizado Especial, tenho tudo guardado."))
    assert "legal" in tags_of(pt)
    es = ticket(("end-user", "Tranquilos, no iremos al juzgado por esto, solo quiero saber "
                             "cómo exportar las facturas."))
    assert "legal" not in tags_of(es)


def test_nobody_in_the_team_is_impact_in_every_language():
    pt = ticket(("end-user", "A loja virtual está fora do ar desde as 11h. Ninguém da equipe "
                             "consegue acessar o painel."))
    assert "outage" in tags_of(pt)
    de = ticket(("end-user", "Seit heute früh lädt nichts mehr. Niemand im Büro kann arbeiten."))
    assert "outage" in tags_of(de)
    one = ticket(("end-user", "O painel não carrega no meu computador, no celular funciona."))
    assert "outage" not in tags_of(one)


def test_patterns_fold_like_the_text_but_keep_their_escapes():
    from tiergate.nlp.risk_rules import fold_pattern

    assert fold_pattern(r"\bStürzt\S+\W*(Oh)\.") == r"\bsturzt\S+\W*(oh)\."
    assert fold("Straße GRÜSSE weiß") == fold_pattern("strasse grüße weiss") == \
        "strasse grusse weiss"


@pytest.mark.parametrize("tag,text", [
    ("outage", "Die App stürzt seit dem Update bei allen Außendienstlern beim Start ab."),
    ("outage", "Our three branches can't open the booking screen, it just sits on a grey "
               "loading wheel."),
    ("outage", "Nuestras cinco tiendas llevan toda la mañana sin poder cobrar con tarjeta."),
    ("privacy", "Your appointment reminder went to my ex-husband's phone with my therapy "
                "session details."),
    ("billing", "I closed the account in March and you've taken money every month since."),
    ("legal", "Next step is a claim in the county court unless the £640 is repaid."),
    ("legal", "Wir haben die Angelegenheit an unseren Anwalt übergeben."),
    ("churn", "Wir überlegen ernsthaft, zum Jahresende zu kündigen."),
    ("security", "Your export link opens a spreadsheet with every customer's address in it."),
    ("churn", "Another agency offered to migrate our data for free. Give me a reason not to "
              "take them up on it."),
    ("churn", "Le contrat arrive à échéance en mars et la direction hésite à le reconduire."),
    ("churn", "Please confirm the notice period for ending our agreement."),
    ("security", "Our MFA got switched off for three users and nobody here touched it."),
    ("security", "Two-factor codes keep arriving on my phone but I'm not trying to log in."),
    ("security", "Got a 'new device signed in' email from Chrome on Windows, I only use a Mac."),
    ("privacy", "I'd like you to remove me completely from your systems - name, email, phone."),
    ("privacy", "Your newsletter went out with all recipients in the CC field, so our members "
                "now have each other's emails."),
    ("churn", "Nos planteamos cambiar de proveedor, la verdad es que no nos compensa el precio."),
    ("churn", "Our contract is up next month and I wouldn't recommend renewing as things stand."),
    ("human_request", "Who is your supervisor? I want to speak with them directly."),
    ("abuse", "I know which office you work out of, so tell your agent to watch himself."),
    ("privacy", "Eine Kundin bittet nach Art. 17 DSGVO um Löschung, die Export-Datei enthält aber "
                "Kontakte, die wir überhaupt nicht kennen."),
    ("billing", "Nadie nos ha avisado de ninguna subida y este mes nos cobrasteis 149 € en vez de "
                "79 €."),
    ("billing", "Please put the difference back on my card, we were billed for 20 seats and use "
                "9."),
    ("security", "Alguien consiguió la contraseña de la centralita y hay 300 llamadas que nadie "
                 "hizo."),
    ("legal", "I have filed a complaint with the employment tribunal about your screening tool."),
    ("churn", "¿Qué tenemos que hacer para que no se renueve el contrato en marzo?"),
    ("outage", "Seit 7 Uhr steht die Produktion in beiden Hallen, alle bekommen nur Fehler 503."),
    ("spam", "Preventa exclusiva de criptomonedas: bonus del 40% para los primeros inversores."),
    ("privacy", "The client portal shows a matter that isn't ours, it belongs to another firm."),
    ("security", "Someone made a copy of your login page on a look-alike domain."),
    ("privacy", "Apareceu no app a ficha de saúde de outra criança, não da minha filha."),
    ("outage", "Since 9:00 the form has been giving every customer an error and we've taken "
               "exactly $0 today."),
    ("human_request", "Kann mich nicht ein Mensch anrufen und das mit mir durchgehen?"),
    ("churn", "Le conseil a reçu une offre d'un autre fournisseur à 30 % de moins."),
    ("billing", "Bitte stornieren Sie die Belastung von CHF 1'188, wir haben nichts umgestellt."),
    ("security", "Unser Passwort wurde geändert, aber niemand von uns war das."),
    ("security", "Alguien cambió la cuenta bancaria de un empleado y el sueldo se fue a otro "
                 "lado."),
    ("security", "Nobody on our side set up this admin account, and it exported the contact "
                 "list last night."),
    ("privacy", "Ma fiche de paie a été envoyée à quelqu'un d'autre dans l'entreprise."),
    ("privacy", "I got a statement that wasn't mine, with a stranger's balance on it."),
    ("billing", "Me aparecen dos cargos por la misma suscripción este mes."),
    ("billing", "Somebody moved us to yearly billing without asking and $2,300 left our "
                "account."),
    ("churn", "On va passer chez un concurrent dès janvier, merci de préparer l'export."),
    ("churn", "A partir do mês que vem vamos deixar de usar a plataforma."),
    ("legal", "Sollte die Frist verstreichen, behalten wir uns alle weiteren Rechte vor."),
    ("human_request", "Could someone phone me and talk me through the setup? Email confuses "
                      "me."),
    ("abuse", "Your whole team are liars and thieves and you should all be fired."),
    ("security", "A text claiming to be from your support asked my colleague for her login code."),
    ("repeat_contact", "Eso es exactamente lo que hice el lunes (ver arriba). Nadie me contactó."),
    ("repeat_contact", "Isso é exatamente o que eu já fiz ontem, ninguém me retornou."),
    ("abuse", "Me cuesta creer que alguien con dos dedos de frente no lo entienda. Sé muy bien "
              "quién es usted."),
    ("privacy", "The results letter I got is for a woman called Joan, with her date of birth and "
                "medications."),
    ("outage", "Kitchen screens show no orders in all 4 of our restaurants since 7pm."),
    ("churn", "Le contrat ne sera pas reconduit tacitement : un appel d'offres sera lancé."),
    ("churn", "Der Gemeinderat hat eine Ausschreibung beschlossen, der Vertrag wird nicht "
              "automatisch verlängert."),
    ("churn", "The council will put the contract out to tender next year."),
    ("outage", "Since 7 the card terminals not connect in all our 3 filiale, customers go away "
               "without buying."),
    ("privacy", "Quiero saber qué datos personales tenéis sobre mí y con quién los habéis cedido."),
    ("privacy", "Dites-moi quelles informations vous détenez sur moi, et à qui vous les avez "
                "communiquées."),
    ("security", "The account page says last login 02:40 from Minsk; none of us was awake then."),
    ("security", "Someone added a button to our booking page that we never created."),
    ("security", "Nos clients reçoivent des courriels qui ressemblent trait pour trait à vos "
                 "relances, l'expéditeur n'est pas votre domaine."),
    ("security", "Seit heute sehen wir statt unserer Kunden die Kunden einer fremden Praxis."),
    ("security", "The report lists employees of a firm we have nothing to do with."),
    ("abuse", "I know which street she lives on and I will post her home address online."),
    ("churn", "The new editor doubled our bookkeeping time and we have had enough."),
    ("churn", "Renewal is next month and we have a trial with RotaPro lined up, just so you know."),
    ("outage", "Depuis ce matin aucune de nos caisses n'accepte les paiements par carte, on perd "
               "des ventes."),
    ("outage", "Seit heute Morgen nimmt keine unserer Kassen Kartenzahlungen an, wir verlieren "
               "Umsatz."),
    ("billing", "La factura de noviembre es el triple de lo acordado."),
    ("billing", "Vocês debitaram a anuidade duas vezes da nossa conta no dia 3."),
    ("security", "Des inconnus ont modifié le RIB dans notre espace fournisseur."),
    ("security", "Ich sehe in meinem Konto Bestellungen, die ich nie aufgegeben habe."),
    ("churn", "Our board asked us to cut software spend by 30% and your licence is the biggest "
              "line item."),
    ("privacy", "Your reminder SMS told my employer about my HIV clinic appointment."),
    ("security", "Roubaram os dados dos nossos clientes."),
    ("security", "On nous a volé les données clients."),
    ("security", "Kundendaten wurden gestohlen."),
    ("billing", "Me cobraron de más este mes."),
    ("abuse", "Você é um incompetente."),
    ("abuse", "Vous êtes une incompétente."),
    ("abuse", "Es usted un sinvergüenza."),
    ("abuse", "Ihr seid Betrüger."),
    ("abuse", "Eres un inútil y como mañana vuelva a tener tickets duplicados."),
    ("abuse", "No sé si sois incompetentes o directamente idiotas."),
    ("abuse", "Ganz ehrlich, Herr Kessler, Sie sind der unfähigste Mensch, mit dem ich dieses Jahr "
              "zu tun hatte."),
    ("abuse", "Wenn die Paketscheine am Montag wieder falsch sind, komme ich vorbei und dann "
              "reden wir mal anders miteinander."),
    ("human_request", "Could a supervisor review my case? The agent keeps giving me the same link."),
    ("human_request", "Bekomme ich auch mal eine Antwort von einem Menschen und nicht immer "
                      "Textbausteine?"),
    ("security", 'Customers are telling us they got a text from "us" with a link to update their '
                 'card details.'),
    ("security", "Our support inbox is auto-forwarding every mail to an external gmail address."),
    ("billing", "Quero cancelar e receber o valor de volta, estou dentro dos 7 dias."),
    ("billing", "Je veux être remboursé intégralement."),
    ("outage", "El TPV de nuestros tres restaurantes no imprime las comandas en cocina desde "
               "ayer."),
    ("outage", "Die Kasse in unseren drei Filialen druckt seit gestern keine Bons mehr."),
    ("legal", "Le comunico que iniciaremos acciones judiciales si no recibimos respuesta."),
    ("legal", "Vamos tomar as medidas judiciais cabíveis."),
    ("legal", "Nous allons engager une procédure judiciaire."),
    ("churn", "Ehrlich gesagt fragen wir uns, ob Ihre Lösung noch zu uns passt."),
    ("churn", "Franchement, on se demande si votre outil est encore adapté à nos besoins."),
    ("churn", "Si le prix augmente encore en avril, nous devrons regarder ailleurs."),
    ("churn", "Nos estamos planteando si vuestra herramienta sigue siendo la adecuada."),
    ("churn", "Sinceramente, estamos pensando se a plataforma ainda faz sentido para nós."),
    ("outage", "Our call centre agents (about 120) are all seeing a blank screen after login "
               "since the update at 7."),
    ("outage", "Seit dem Update heute früh zeigt das Portal bei allen 80 Mitarbeitern nur noch "
               "Ladekringel."),
    ("outage", "Le site tourne dans le vide depuis 9h, aucune commande n'est passée depuis, on "
               "a 3 000 visiteurs."),
    ("abuse", "Your agent Kevin is a lying little weasel and I hope he gets fired."),
    ("abuse", "Sie sind wohl zu dumm, um eine einfache Frage zu beantworten."),
    ("abuse", "Son ustedes unos ineptos, ¿contratan a cualquiera?"),
    ("abuse", "Je sais où se trouvent vos bureaux, continuez à m'ignorer et vous verrez."),
    ("abuse", "Eu sei onde fica o escritório de vocês. Continuem me ignorando e vão ver."),
    ("billing", "Seit Freitag kommen keine Kundenzahlungen mehr auf unserem Konto an. Es fehlen "
                "inzwischen 18.000 EUR."),
    ("privacy", "Our school accidentally uploaded pupils' medical notes to the shared parent "
                "folder in your app."),
    ("privacy", "La CNIL nous a contactés au sujet d'une plainte d'un client concernant vos "
                "cookies."),
    ("outage", "Wages didn't go out this morning, 95 carers are unpaid."),
    ("churn", "Hiermit kündigen wir den Vertrag fristgerecht zum Jahresende."),
    ("churn", "Nous souhaitons résilier notre abonnement à la fin du mois."),
    ("outage", "None of our phones are ringing, inbound calls go straight to 'not in service'. "
               "All three offices, about 120 staff."),
    ("security", "En el portal me aparecen unos 300 envíos que no son nuestros, con direcciones."),
    ("privacy", "Mandaron el informe médico de mi hijo al correo de otra familia."),
    ("billing", "Die Rechnung weicht um 800 € vom Angebot ab, den Mehrbetrag zahlen wir nicht."),
    ("churn", "Your contract is not in next year's budget as things stand."),
    ("churn", "Si esto sigue así, el año que viene nos vamos con la competencia."),
    ("security", "Des paiements ont été envoyés vers un IBAN que nous ne connaissons pas."),
])
def test_risk_told_without_the_rule_word(tag, text):
    assert tag in tags_of(ticket(("end-user", text)))


@pytest.mark.parametrize("text", [
    "Quick question: if our internet goes down, does the app work offline?",
    "My lawyer client wants to know whether your e-signatures are legally binding in Germany.",
    "We got double charged by a supplier and I want to record the refund in your app, how?",
    "Please delete the test user we created yesterday.",
    "Can we get the report weekly instead of every 2 days?",
    "I signed in from a new laptop today, how do I mark it as trusted?",
    "I changed the bank account for payouts, when does it take effect?",
    # a status code inside a number is no error
    "The attendee export for our conference (~4,500 registrants) has been processing for an "
    "hour, can you check?",
    "We're migrating our data from our old CRM into your platform, any tips?",
    "We'd like to migrate to your new plan next quarter, what's the process?",
])
def test_near_misses_stay_calm(text):
    risky = {"outage", "security", "privacy", "billing", "legal", "churn"}
    assert not tags_of(ticket(("end-user", text))) & risky


def test_outage_by_symptoms_and_impact_without_the_word():
    t = ticket(("end-user", "Since 9am every page just spins. None of our 40 agents can work."))
    assert "outage" in tags_of(t)
    single = ticket(("end-user", "The export page keeps spinning on my laptop."))
    assert "outage" not in tags_of(single)


def test_latest_message_closing_the_matter_drops_every_tag_and_caps_the_score():
    t = ticket(("end-user", "Nothing loads for our whole office, this is costing us money!"),
               ("agent", "Fixed on our side, can you check?"),
               ("end-user", "Thanks, that fixed it, you can close this."))
    en = ENRICHER.enrich(t, NOW)
    assert en.closing and "outage" not in en.tags and en.attention_score <= 10


@pytest.mark.parametrize("text,closing", [
    ("Gracias, ya podéis cerrar el ticket.", True),
    ("Perfecto, puedes cerrarlo.", True),
    ("Todo bien, ya lo podéis cerrar.", True),
    ("Pueden cerrar la incidencia cuando quieran.", True),
    ("Ningún repartidor puede cerrar entregas desde las 8.", False),
    ("¿Pueden cerrar la cuenta de mi ex empleado?", False)])
def test_asked_to_close_the_ticket_not_to_close_something_else(text, closing):
    t = ticket(("end-user", "El portal no carga."), ("agent", "Lo hemos corregido."),
               ("end-user", text))
    assert ENRICHER.enrich(t, NOW).closing is closing


@pytest.mark.parametrize("text,tag", [
    ("One of our devs pushed the API token to a public GitHub repo this morning.", "security"),
    ("There are two admin users in our account that nobody here created.", "security"),
    ("Please erase all personal data you hold about me within one month.", "privacy"),
    ("My bank is disputing the charge and I have filed a chargeback.", "chargeback"),
    ("We were charged twice for November.", "billing"),
    ("Consider this formal notice; our counsel is instructed.", "legal"),
    ("We are evaluating alternatives before our renewal.", "churn"),
    ("Can someone call me back today please", "human_request"),
    ("You are a bunch of useless idiots.", "abuse"),
    ("Unser API-Schlüssel wurde versehentlich auf GitHub veröffentlicht.", "security"),
    ("Me cobraron dos veces el mismo mes.", "billing"),
    ("Je demande la suppression de toutes mes données.", "privacy"),
    ("Vou entrar na justiça contra a empresa.", "legal"),
    ("I will go to a lawyer if this is not refunded by Friday.", "legal"),
    ("Fine, I'll take this to my solicitor then.", "legal"),
    ("The last price increase is making us rethink everything.", "churn"),
    ("Our parent company has standardised on a different tool, so this will probably be our "
     "last year.", "churn"),
    ("If this isn't fixed before our renewal, we're done.", "churn"),
    ("Finance asked to cut costs and yours is on the list.", "churn"),
    ("La direction a décidé de changer de prestataire à la fin du contrat.", "churn"),
    ("Se não resolverem até sexta, vamos procurar outro fornecedor.", "churn"),
    ("Wenn das nicht bis Freitag behoben ist, wechseln wir zu einem anderen Anbieter.",
     "churn"),
    ("All our files were renamed with .locked and there is a note asking for bitcoin.",
     "security"),
    ("We got password reset emails for 5 of our staff at 2am and nobody asked for them.",
     "security"),
    ("Our webhook gets calls signed with our old secret that we revoked last week.", "security"),
    ("My gift card balance went to zero overnight and I didn't buy anything.", "security"),
    ("Jemand hat sich mit meinen Zugangsdaten angemeldet und die Auszahlungsadresse geändert.",
     "security"),
    ("Wir haben eine Rechnung mit einer neuen Bankverbindung bekommen, angeblich von Ihnen.",
     "security"),
    ("Recibimos un correo idéntico al vuestro pidiendo que pagáramos a otra cuenta.",
     "security"),
    ("I closed my account in August. Why am I still paying you every month??", "billing"),
    ("We agreed 620 per month but the invoice says 1,840.", "billing"),
    ("The renewal went through at the new price even though nobody told us about an increase.",
     "billing"),
    ("We downgraded to Basic in March but have been billed for Pro ever since.", "billing"),
    ("The trial was supposed to be free. $299 came out of my card this morning.", "billing"),
    ("Can you please stop charging my card? I've asked twice already.", "billing"),
    ("The payout for October never reached our account and we need it for salaries.",
     "billing"),
    ("Ich habe gekündigt und trotzdem wurde wieder abgebucht.", "billing"),
    ("Vous continuez à me facturer alors que j'ai résilié en juin.", "billing"),
    ("Vocês continuam cobrando mesmo depois do cancelamento.", "billing"),
    ("You're pathetic. All of you.", "abuse"),
    ("You useless pieces of garbage can't even send an invoice right.", "abuse"),
    ("Shove your knowledge base articles where the sun doesn't shine.", "abuse"),
    ("I hope your office burns down.", "abuse"),
    ("I'll find her on LinkedIn and tell everyone how incompetent she is.", "abuse"),
    ("Keep stalling and I'll be outside your office on Monday. We'll see how brave you are.",
     "abuse"),
    ("Our solicitors have been copied on this email.", "legal"),
    ("Expect to hear from our legal department.", "legal"),
    ("I've reported you to the Federal Trade Commission and my state's attorney general.",
     "legal"),
    ("Checkout is throwing errors, we have lost 30 orders since nine.", "outage"),
    ("Half the office gets kicked out every few minutes, the other half can't get in at all.",
     "outage"),
    ("Desde las 8 ningún repartidor puede cerrar entregas, la app se queda colgada.",
     "outage"),
    ("Can I get a callback before 5? I'm driving all afternoon.", "human_request"),
    ("I'm done talking to your chatbot. Get me someone with a pulse.", "human_request"),
    ("I'd like this escalated to whoever is in charge of support.", "human_request"),
    ("Who is your head of customer service? I want their email.", "human_request"),
    ("Every answer is copy-paste from the help centre. Please read what I wrote.",
     "human_request"),
    ("You sent my payslip to my manager's email instead of mine.", "privacy"),
    ("Fantastic, the app logged out all our nurses mid-shift again. Five stars.", "outage"),
    ("Heute Nacht wurden 14 Exporte gezogen, niemand von uns war um 3 Uhr wach.", "security"),
    ("In unserem Konto gibt es einen Admin namens it-support2, den keiner kennt.", "security"),
    ("Mon comptable a reçu un e-mail à votre nom avec un lien pour mettre à jour le RIB.",
     "security"),
    ("Mi contable recibió un correo a vuestro nombre con un enlace para actualizar los datos "
     "bancarios.", "security"),
    ("Vous m'avez débité 3 fois le même abonnement, c'est du vol.", "billing"),
    ("Estamos considerando outras empresas porque o suporte piorou muito.", "churn"),
    ("Já estou com um advogado cuidando disso.", "legal"),
    ("Vocês mandaram meus exames para outro paciente.", "privacy"),
    ("Where is my refund?", "billing"),
    ("Chase says the payout has not landed, nothing at all.", "billing"),
    ("I've been told to get demos from two other rostering tools this week.", "churn"),
    ("Our new CFO wants to see at least two alternative quotes before any renewal.", "churn"),
    ("Zwei Wochen, drei Nachfragen, null Lösung.", "repeat_contact"),
    ("Three follow-ups and not a single answer.", "repeat_contact"),
    ("We paid the March invoice to the new account your finance team sent us; the sender's "
     "domain has an extra hyphen.", "security"),
    ("Two of our clients paid on that page thinking it was us.", "security"),
    ("Plusieurs clients ont payé via ce lien en pensant que c'était nous.", "security"),
    ("Nunca hemos enviado esos SMS y dos clientes ya han pagado.", "security"),
    ("Wir haben nie solche SMS verschickt, trotzdem haben Kunden bezahlt.", "security"),
    ("I'd like this month's subscription fee credited back, the tool was down all day.",
     "billing"),
    ("Ein Mann rief an, er sei von Ihrer Sicherheitsabteilung, und ich habe ihm den SMS-Code "
     "vorgelesen.", "security"),
    ("A man called saying he was from your fraud team and I read the one-time code to him.",
     "security"),
    ("Bei der Konkurrenz zahle ich drei Euro weniger für dasselbe.", "churn"),
    ("Já testei a outra plataforma e vou migrar a minha loja para lá em março.", "churn"),
    ("J'ai reçu une ordonnance qui n'est pas pour moi, avec le nom et l'adresse d'une inconnue.",
     "privacy"),
    ("I received a lab report that isn't mine, with another patient's name and date of birth.",
     "privacy"),
    ("I'm not renewing Rotaly in March unless they fix the approvals.", "churn"),
    ("Unsere Rechtsanwälte (Kanzlei Weber) sind informiert und prüfen weitere Schritte.", "legal"),
    ("Our solicitors have been informed of the missed deadline.", "legal"),
    ("Os dados bancários de quatro funcionários foram alterados pelo portal e nenhum deles "
     "mexeu em nada.", "security"),
    ("Bank details of five employees were changed last week without their knowledge.",
     "security"),
    ("Gemäß Ziffer 4 unseres Auftragsverarbeitungsvertrags fordern wir Sie auf, sämtliche für uns "
     "verarbeiteten personenbezogenen Daten samt Sicherungen vollständig zu löschen.", "privacy"),
    ("Please confirm erasure under Article 17 of the UK GDPR by the end of the month.", "privacy"),
    ("Nous étudions sérieusement une migration vers un hébergeur français avant l'échéance.",
     "churn"),
    ("Nos dimos de baja en marzo y desde entonces nos habéis pasado otros dos recibos.",
     "billing"),
    ("Ya he dado orden al banco de devolver los recibos.", "chargeback"),
    ("SIND SIE ZU BLÖD ZUM LESEN? SEIEN SIE FROH, DASS ICH NICHT WEISS WO SIE WOHNEN.", "abuse"),
    ("Lucky for you I don't know where you live.", "abuse"),
    ("I looked her up on LinkedIn, nice photo, shame about the brain.", "abuse"),
    ("Mi nieto dice que en la cuenta ahora hay otro correo que no es el mío.", "security"),
    ("La facture est non conforme au devis signé, merci d'émettre un avoir.", "billing"),
    ("Andernfalls übergeben wir die Sache unserer Kanzlei, die Sie kostenpflichtig abmahnen "
     "wird.", "legal"),
    ("A supplier of ours has received the payslips of 9 of our employees with bank details.",
     "privacy"),
    ("Delete my account and everything you have on me, and confirm it in writing.", "privacy"),
    ("Since the update staff - not just managers - can see the salaries of all colleagues.",
     "privacy"),
    ("The report in my portal is for a different patient, it isn't mine.", "privacy"),
    ("Quelqu'un à l'extérieur a reçu les fiches de paie de nos salariés.", "privacy"),
    ("I typed my password and card number into that page and my bank says it was a scam.",
     "security"),
    ("Is this email really from you? It wants me to verify my card.", "security"),
    ("Ich weiß, wo Ihr Büro ist. Beim nächsten Mal stehe ich persönlich vor der Tür.", "abuse"),
    ("Son una manada de ineptos, todos.", "abuse"),
    ("I know when her shift ends, tell her to call me.", "abuse"),
    ("WARUM WURDE 2X ABGEBUCHT? SOFORT ZURÜCKBUCHEN", "billing"),
    ("I want these roaming charges taken off my bill.", "billing"),
    ("Wir haben die Angelegenheit an unseren Anwalt, Herrn Dr. Meier, übergeben.", "legal"),
    ("we r moving to hubspot next month, need all our contacts out", "churn"),
    ("I'm porting my number to the new network, please send me the PAC code.", "churn"),
    ("Nous basculons vers un autre outil au 1er janvier.", "churn"),
    ("Unser Vorstand stellt alle Lizenzen für 2027 auf den Prüfstand.", "churn"),
    ("No broadband since 6am for every house on the road, the whole street is out.", "outage"),
    ("Desde las nueve el lector rechaza todas las entradas y pasa en todos los dispositivos; "
     "hay cientos de personas esperando.", "outage"),
    ("Anderer Browser, anderer Rechner, Handy-App: überall dasselbe, bei allen 40 Fahrzeugen.",
     "outage"),
    ("One of our clerks got an email with everyone's payslips attached, names and salaries.",
     "privacy"),
    ("Deux chauffeurs ont tapé leur identifiant, ils pensaient que ça venait de chez vous.",
     "security"),
    ("Our admin says he did none of this: a new API key and a full contact export at 3am.",
     "security"),
    ("Un membre Owner a été ajouté cette nuit et personne chez nous ne l'a invité.", "security"),
    ("Since the card got charged twice I have opened a dispute with my bank on that line.",
     "chargeback"),
    ("If nobody calls her back today she will go to the card company.", "billing"),
    ("Procurement wants to consolidate onto a single vendor next year; you are still in the "
     "running.", "churn"),
    ("How do we end the annual contract before it renews in March?", "churn"),
    ("Every call to the orders API returns 503 since ten, none of our three shops syncs.",
     "outage"),
    ("Sämtliche Aufrufe liefern nur noch HTTP 503, seit einer Stunde laufen keine Bestellungen "
     "mehr durch.", "outage"),
    ("Send me one more smiley reply and I'll find out where he sits and explain it in person.",
     "abuse"),
    ("Incompetente é pouco, e olhe que eu sei onde fica o vosso escritório.", "abuse"),
    ("Na aba Documentos qualquer professor consegue abrir e ver os atestados médicos de outros "
     "funcionários.", "privacy"),
    ("Our checkout has been down for all 40 stores since 9am and nothing is back up yet.",
     "outage"),
    ("I raised a dispute with Amex yesterday because nobody picked up the phone.", "chargeback"),
    ("She wants it credited back this week, otherwise she'll raise it with Amex.", "chargeback"),
    ("A former client asks us to delete everything we hold on her under Article 17, backups "
     "included.", "privacy"),
    ("Ihre Frau Keller ist entweder zu blöd zum Lesen oder macht das mit Absicht.", "abuse"),
    ("Der Vorstand hat beschlossen, etwaige Ansprüche durch unsere Rechtsberatung prüfen zu "
     "lassen.", "legal"),
    ("Mesmo depois do cancelamento continuam caindo R$ 189,90 todo mês no cartão dele.",
     "billing"),
    ("La directora prefiere que la llame hoy alguien con capacidad de decisión.",
     "human_request"),
    ("I've looked her up. Maybe I'll pop into your office and explain it to her in person.",
     "abuse"),
    ("Our contractor pushed a .env file with the live API key to a public repo on Monday.",
     "security"),
    ("Nous n'avons jamais envoyé ça, et le lien qui n'est pas le nôtre marche toujours.",
     "security"),
    ("Sos un inútil, todos ustedes son una manga de chantas.", "abuse"),
    ("Wir stellen per Ende Jahr auf eine andere Lösung um, der neue Anbieter migriert die "
     "Daten.", "churn"),
    ("Seit gestern funktioniert der Upload bei niemandem mehr, immer Fehler 502.", "outage"),
    ("Quiero que un humano, uno de verdad, me llame.", "human_request"),
    ("We were invoiced for the whole year after cancelling in March.", "billing"),
    ("We act for Lindqvist Bakeries and require your proposals for a refund within 14 days.",
     "legal"),
    ("Our general counsel is drafting a notice of material breach under clause 9.", "legal"),
    ("The link in that mail points to a payments site rather than your own, and two parents "
     "entered their card details before they noticed.", "security"),
    ("Since the update every team lead can see the salary field for everyone in the company.",
     "privacy"),
    ("Jo got the payslip of our CFO instead of her own, bank details and all.", "privacy"),
    ("Os colaboradores estão conseguindo ver os holerites de outras pessoas no portal.",
     "privacy"),
    ("I know where your Bristol office is. Maybe I'll pop round and explain it to you in "
     "person.", "abuse"),
    ("Lines 3 to 9 appear twice on the October invoice; please issue a credit note for the "
     "duplicated amount.", "billing"),
    ("Ihre Kollegin ist die dümmste Person, mit der ich je telefoniert habe.", "abuse"),
    ("Im Umschlag war nicht meine Rechnung, sondern die einer fremden Frau mit IBAN.",
     "privacy"),
    ("J'ai reçu dans mon colis la facture d'une autre cliente, avec son adresse.", "privacy"),
    ("In the parent app a mum can see a note our staff logged about her son, and it was "
     "marked as staff only.", "privacy"),
    ("Neues Gerät gekoppelt heute Nacht, das war ich nicht, und zwei Überweisungen, die ich "
     "nicht kenne.", "security"),
    ("Mein Mann hat schon das Probeabo bei der Konkurrenz abgeschlossen.", "churn"),
    ("Our new COO wants to consolidate the rostering stack and asked me for a comparison.",
     "churn"),
    ("Since 9:20 nobody at our company is able to log in, all 6 offices, about 200 people.",
     "outage"),
    ("Don't tell me how to do my job you patronising little prat, thick as mince the lot of "
     "you.", "abuse"),
    ("Nos chefs d'équipe voient les bulletins de salaire de tous les chauffeurs, pas seulement "
     "les leurs.", "privacy"),
    ("I opened my daughter's report in the app and it wasn't hers.", "privacy"),
    ("Die CSV, die Sie mir geschickt haben, ist aber nicht meine: Kundendaten eines anderen "
     "Händlers.", "privacy"),
    ("Depuis 9h plus aucun paiement ne passe sur nos 4 boutiques, quelle que soit la carte.",
     "outage"),
    ("The report showing in the portal is for a boy called Leo, with his grades.", "privacy"),
    ("The PDF that opened is not mine.", "privacy"),
    ("Our front desk login can open the therapy notes of any patient.", "privacy"),
    ("The newsletter went out with every subscriber's name and phone number in the footer.",
     "privacy"),
    ("Im Anhang sind nicht unsere Unterlagen, sondern die Ausweiskopien einer anderen Familie.",
     "privacy"),
    ("Hoy me llegó la boleta, pero viene a nombre de otro niño, con sus notas.", "privacy"),
    ("Hay tres compras en mi cuenta que no reconozco.", "security"),
    ("Il y a un virement de 900 $ en attente vers le compte d'un inconnu, c'est pas moi pantoute!",
     "security"),
    ("Your share email printed our live API secret key in plain text.", "security"),
    ("Every invoice since August bills us for 12 seats, that's $595 a month more than it "
     "should be.", "billing"),
    ("The monthly price went from $29 to $39 and nobody told us.", "billing"),
    ("Deux prélèvements de 59 € le même jour avec le même numéro de facture.", "billing"),
    ("My bank has opened a case on the £240 you took last week.", "chargeback"),
    ("Our renewal is on the 20th and I am NOT signing it, I have a cheaper quote.", "churn"),
    ("Uns liegt ein schriftliches Angebot einer anderen Bank vor.", "churn"),
    ("Esta semana recebi proposta de outro sistema, com migração grátis.", "churn"),
    ("I need a senior person on a call this week who can commit to a date, your VP or above.",
     "human_request"),
    ("I know which car park your staff use and I've found his surname.", "abuse"),
    ("The playback spins and then errors, and loads of people on reddit are saying the same.",
     "outage"),
    ("Já liguei quatro vezes e cada atendente me diz uma coisa diferente.", "repeat_contact")])
def test_risk_tags_from_customer_words(text, tag):
    en = ENRICHER.enrich(ticket(("end-user", text)), NOW)
    assert tag in en.tags, en.reasons
    reason = next(r for r in en.reasons if r.signal == f"risk:{tag}")
    assert "comment 0" in reason.detail


@pytest.mark.parametrize("text,tag", [
    ("I am a lawyer at a small firm, how do I add a second user?", "legal"),
    ("What is your refund policy for annual plans?", "billing"),
    ("How do I enable two-factor authentication for my team?", "security"),
    ("How do I delete a user from my team?", "privacy"),
    ("Please cancel my order #1234, I ordered the wrong size.", "churn"),
    ("Hemos tenido que cancelar varios pedidos de clientes por el retraso del proveedor.",
     "cancel_request"),
    ("Your trainer never made me feel dumb, even with my many questions.", "abuse"),
    ("Maybe a stupid question, but where is the export button?", "abuse"),
    ("¿Qué datos necesitáis de nosotros para dar de alta la integración?", "privacy"),
    ("Le nouveau modèle ressemble à votre ancien site, très joli.", "security"),
    ("These two invoices belong to our sister company, could you move them to their account?",
     "security"),
    ("Wir wollen die Kundendaten der übernommenen Firma importieren.", "security"),
    ("Could each person on the team get their own login instead of sharing one?",
     "human_request"),
    ("Harbour Lettings Ltd is a member of the Property Redress Scheme and The Property "
     "Ombudsman.", "legal"),
    ("A patient asked us to remove her details from our list, how do I do that in the app?",
     "privacy"),
    ("We have had enough time to try the new layout, all fine.", "churn"),
    ("We booked a demo with your team next week to look at the reporting add-on.", "churn"),
    ("Finance is moving us onto a 2-year prepaid contract, please send the paperwork.", "churn"),
    ("Not disputing anything, just want to avoid the chargeback mess we had with our old "
     "provider.", "chargeback"),
    ("Aucune de nos factures n'a de numéro de TVA, comment l'ajouter ?", "outage"),
    ("We were billed for 10 seats and we have 10 users, all fine, just need the PDF.",
     "billing"),
    ("Jemand aus unserem Team hat die Bankverbindung geändert, wie machen wir das rückgängig?",
     "security"),
    ("Je n'ai jamais passé de commande chez vous, comment commencer ?", "security"),
    ("Rufen Sie uns nicht zurück, wir schreiben lieber.", "human_request"),
    ("I told my boss about the new medical leave feature, he loves it.", "privacy"),
    ("Wo kann ich die Aufbewahrungsfrist für Patientendaten einstellen?", "privacy"),
    ("¿Podrían enviarme la factura de octubre otra vez? No la encuentro.", "billing"),
    ("I know where your office is, can I drop off the signed contract in person?", "abuse"),
    ("Continuez à suivre le guide et vous verrez le résultat.", "abuse"),
    ("Our call centre agents would like a training session next month.", "human_request"),
    ("Je me demande si la solution de contournement est encore nécessaire après la mise à "
     "jour.", "churn"),
    ("Estamos pensando se a plataforma ainda aceita boleto, alguém sabe?", "churn"),
    ("Vamos buscar otra opción de envío para los pedidos grandes, ¿cómo se configura?",
     "churn"),
    ("¿Qué medidas legales de protección de datos tienen?", "legal"),
    ("Le remboursement intégral est-il possible si on résilie dans les 14 jours ?", "billing"),
    ("Mi impresora no imprime en color, ¿cómo lo configuro?", "outage"),
    ("How do I set up auto-forwarding to an external address?", "security"),
    ("Your manager can review our case study draft when convenient.", "human_request"),
    ("Can you even read the logs from the old version?", "abuse"),
    ("Sie sind der beste Support, den wir je hatten!", "abuse"),
    ("Vous êtes un client fidèle depuis 10 ans, merci.", "abuse"),
    ("Comment éviter que les données soient volées ?", "security"),
    ("Wie schützen Sie Daten davor, gestohlen zu werden?", "security"),
    ("I used to go to a lawyer in your building, is your office there too?", "legal"),
    ("Going to the lawyer's office on Monday, can we move our call?", "legal"),
    ("We're looking at options for the export, which format is best?", "churn"),
    ("Your product is on the list of approved vendors for next year.", "churn"),
    ("Is there an early termination fee on the monthly plan? Just for our FAQ page.", "churn"),
    ("Nous avons décidé de changer de prestataire de paiement, où sont les réglages ?",
     "churn"),
    ("O sistema não se conecta, não é uma queda geral.", "outage"),
    ("We rotated our old API key, how do we update it in the Zapier integration?", "security"),
    ("My points balance is now zero after the annual reset, is that expected?", "security"),
    ("Sent the reset link to all of my colleagues as you suggested, thanks.", "security"),
    ("Our invoice says 620 as in the signed quote, can you add the PO number?", "billing"),
    ("The refund arrived, thank you so much!", "billing"),
    ("We downgraded to Basic last month, where can I see the new invoice?", "billing"),
    ("I'll be at your office on Monday for the training, see you there.", "abuse"),
    ("Our little hack for this is a shared spreadsheet, is there a better way?", "security"),
    ("Have you had any security incidents in the past two years? It's for our insurer's "
     "form.", "security"),
    ("Nine days and not a single reply from a human.", "human_request"),
    ("If a customer of ours opens a chargeback, can we upload the evidence in the dashboard?",
     "chargeback"),
    ("Une cliente nous demande si on rembourse l'acompte quand elle annule, c'est "
     "configurable ?", "billing"),
    ("Gestern hätten wir fast eine Doppelbuchung im Kalender gehabt.", "billing"),
    ("We sent the invoices to our clients with the wrong logo on them.", "privacy"),
    ("Patients get a text saying call us if the bleeding won't stop; can we change the "
     "wording?", "human_request"),
    ("We want zero-downtime key rotation, is there an overlap window?", "outage"),
    ("Spin classes at 6am are full every day, can we add a waitlist?", "outage"),
    ("Wir planen auf unserer Seite ein Outage-Fenster am Samstag, werden Webhooks gepuffert?",
     "outage"),
    ("How does a chargeback work in your payments module?", "chargeback"),
    ("¿Hay algún 'hack' para importar los contactos desde Excel?", "security"),
    ("Nothing to dispute right now, we're writing our expenses policy around the dispute "
     "button.", "chargeback"),
    ("Un usager a payé deux fois sa redevance, comment la rembourser depuis le back-office ?",
     "billing"),
    ("Je ne vous cache pas que nous avons reçu deux autres offres.", "outage"),
    ("Kleiner Hack für Erinnerungen gesucht: kennt ihr einen Trick?", "security"),
    ("Our customers will think we're idiots if every mail creates two tickets.", "abuse"),
    ("We are planning a maintenance outage of our ERP server on Saturday night.", "outage"),
    ("¿Cómo aparece un contracargo en vuestro módulo de pagos?", "chargeback"),
    ("This app is a piece of junk, the export fails every time.", "abuse"),
    ("We found her on LinkedIn and want to hire her, she was great!", "abuse"),
    ("I hope your office gets the new routers soon.", "abuse"),
    ("Our lawyer is copied for the contract review, no rush.", "legal"),
    ("I can't get in to the settings page, where is it?", "outage"),
    ("Half of our team uses Macs, is the app available there?", "outage"),
    ("We lost 3 orders to a typo last month, can we add address validation?", "outage"),
    ("I copied the text from the help centre into our wiki, is that allowed?", "human_request"),
    ("Who is the head of customer service at your Lisbon office? We want to send flowers.",
     "human_request"),
    ("I've been waiting for someone to fix the export.", "security"),
    ("We shared the contract with legal instead of procurement, just FYI.", "privacy"),
    ("I logged out all the test users, how do I delete them?", "outage"),
    ("The app logged out all our nurses last week during the maintenance, fine now.",
     "outage"),
    ("J'ai facturé 3 fois le client par erreur dans votre outil, comment annuler ?", "billing"),
    ("Je l'ai payé deux fois plus cher ailleurs, votre prix est top.", "billing"),
    ("Estamos avaliando outras ferramentas de BI para integrar com vocês.", "churn"),
    ("Quando o paciente cancela, o estorno do Pix é automático ou precisamos fazer algo?",
     "chargeback"),
    ("Bonjour, pouvez-vous m'appeler demain pour la démo ? Merci.", "human_request"),
    ("Can you call me tomorrow for the demo?", "human_request"),
    ("Temos um advogado no time, ele pode usar o sistema?", "legal"),
    ("Mandaram os documentos para outro endereço de entrega, podem corrigir?", "privacy"),
    ("Our DPA says you will notify us of a personal data breach without undue delay, can you "
     "commit to 48 hours?", "security"),
    ("Our new CFO has frozen every software renewal over £10k until she has seen two quotes.",
     "outage"),
    ("Where can I see my refund status?", "billing"),
    ("Can you give us two alternative quotes, one monthly one annual?", "churn"),
    ("Tarifa no reembolsable con un 12% de descuento.", "billing"),
    ("We are thinking of switching to annual billing to get the discount.", "churn"),
    ("If we end up reducing seats mid-year, do we get credit for the unused ones?", "churn"),
    ("Wenn einer unserer Kunden eine Lastschrift zurückgibt, bekommen wir dann eine Nachricht?",
     "chargeback"),
    ("Got our first chargeback notice today, where do I send the proof of delivery?",
     "chargeback"),
    ("A customer's bank is disputing one of our orders and the respond button is greyed out.",
     "chargeback"),
    ("Our holding company is running a tender for a new group ERP (nothing to do with you, we "
     "are very happy with your product). They want a short statement from every vendor we "
     "integrate with about connectors.", "churn"),
    ("Moving 900 cases to new tags for our litigation team: is there a bulk edit?", "legal"),
    ("My client paid for two lessons but we only did one, I want to refund him half myself.",
     "billing"),
    ("If we move to the annual plan in January, do we get a refund for the months already paid, "
     "or is it credited against the annual invoice?", "billing"),
    ("We have 400 old projects and it makes the project list really slow to scroll for all of "
     "us.", "outage"),
    ("If someone loses their phone what happens, can they get locked out for good? Asking for "
     "all 30 of our staff.", "outage"),
    ("Will API writes for our 40 services be unavailable during the maintenance window, or only "
     "degraded?", "outage"),
    ("Können Sie uns bitte Ihren AVV schicken? Wir brauchen ihn für die Auftragsverarbeitung.",
     "privacy"),
    ("Was brauche ich für die Kündigung und den Export unserer Patientendaten?", "privacy"),
    ("A nota fiscal vai por e-mail para o responsável da conta?", "human_request"),
    ("Et est-ce que c'est possible de faire un avoir à la place ?", "billing"),
    ("Importing 80k contacts for our 30 reps next week; don't want to hammer your servers and "
     "take anything down.", "outage"),
    ("I haven't received my payslips for March, can you resend?", "privacy"),
    ("When will our data be deleted after the contract ends?", "privacy"),
    ("Will checkout be down during Sunday's maintenance window?", "outage"),
    ("The whole street lost power last night, will the offline sales sync?", "outage"),
    ("My contact there doesn't answer, can you give me another address?", "outage"),
    ("Could you switch us to the family plan from next month?", "churn"),
    ("Is anyone actually looking at this? It has been a week.", "human_request"),
    ("Can you send the offboarding checklist for employees who leave?", "churn"),
    ("How do we rotate our API keys without downtime for our 30 services?", "outage"),
    ("Mit wie viel Ausfallzeit müssen wir am Samstag in allen drei Filialen rechnen?", "outage"),
    ("Next time the line drops, should staff keep using the tablets or go back to paper?",
     "churn"),
    ("If we move from the Pro plan to the Basic plan in spring, is the difference credited?",
     "churn"),
    ("Could someone ring me to arrange a date for the onboarding session?", "human_request"),
    ("Our clinic's phishing awareness training is next week, can we enforce 2FA first?",
     "security"),
    ("I cancelled yesterday, will I still be charged on the 20th?", "billing"),
    ("The invoice shows our old VAT number, the amount itself is fine.", "billing"),
    ("How long does a customer have to dispute a card payment with their bank?", "chargeback"),
    ("Does the checkout keep working in offline mode during the maintenance?", "outage"),
    ("La factura tiene el CIF antiguo, el importe está bien.", "billing"),
    ("Our courier lost three parcels, I'm close to taking them to small claims.", "legal"),
    ("As a litigation lawyer I read bad documents all day, and your help page is one.", "legal"),
    ("Sorry for the language, this f***ing laptop is going out the window today.", "abuse"),
    ("A customer of ours disputed the payment with her bank; where do I upload evidence?",
     "chargeback"),
    ("The font on our quotes looks like a ransom note, how do I change it?", "security"),
    ("J'ai magasiné un peu mais je préfère rester avec vous si c'est pas trop cher.", "churn"),
    ("I still get your newsletter after I clicked unsubscribe three times, please delete my "
     "address.", "spam"),
    ("E se cancelarmos o contrato antes do fim, existe reembolso proporcional?", "churn"),
    ("Can I use the old phishing email below as an example of a past phishing campaign in our "
     "training pack?", "security"),
    ("We've been with you four years with a 0.1% chargeback rate, why is our payout held?",
     "chargeback"),
    ("Moving the migration to February? That doesn't work for us, we run 11 clinics on it.",
     "outage"),
    ("The booking is for a family of four, can we add a cot?", "privacy"),
    ("The order is not mine to cancel, my manager placed it.", "privacy"),
    ("Could I speak to someone about opening a joint account? No rush, a call next week is "
     "fine.", "human_request"),
    ("Can someone from sales call me about adding 10 more seats?", "human_request"),
    ("Un quatrième client vient de nous appeler pour la même chose.", "human_request"),
    ("The softphone won't connect for anyone since 7.", "human_request"),
    ("How much do you charge per chargeback? It's for our pricing sheet.", "chargeback"),
    ("Combien vous facturez par rétrofacturation ? C'est pour notre grille tarifaire.",
     "chargeback"),
    ("Todavía no somos clientes suyos, pero preparamos una licitación y nos gustaría que "
     "presenten oferta.", "churn"),
    ("If we upgrade from Starter to Growth mid-month, is the difference prorated?", "churn"),
    ("Wir überlegen, im Januar auf den Jahresplan zu wechseln.", "churn"),
    ("We were charged twice last year and you sorted it quickly, this is about the new card.",
     "billing"),
    ("A member paid twice for a class pass by mistake, how do we refund her through your "
     "payment link?", "billing"),
    ("Our building lost power in the storm on Tuesday (our outage, not yours!), did clock-ins "
     "sync afterwards?", "outage"),
    ("One of our 30 drivers can't log in, the other 29 are OK. Probably his password.",
     "outage"),
    ("Our website was slow for all customers this morning because of our own hosting company.",
     "outage"),
    ("Our IT runs phishing simulations every quarter; could you send your sending domains?",
     "security"),
    ("I already paid the invoice, how do I avoid a late fee next time?", "billing")])
def test_near_misses_do_not_tag(text, tag):
    assert tag not in tags_of(ticket(("end-user", text)))


def test_a_false_alarm_settles_the_alert():
    t = ticket(("end-user", "We got an alert about an admin login from Frankfurt and none of us "
                "is there."),
               ("agent", "We locked the admin account as a precaution. Does anyone use a VPN?"),
               ("end-user", "Mystery solved: our IT contractor's VPN exits in Frankfurt. Sorry "
                "for the panic!"))
    assert "security" not in tags_of(t)


# -- semantic layer ---------------------------------------------------------------------------
def test_static_encoder_ships_and_ranks_paraphrases():
    enc = StaticEncoder.load()
    v = enc.encode(["we were billed two times", "I got charged twice", "how do I add a user"])
    assert v.shape == (3, enc.dim) and np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    m = ExampleMatcher(enc, {"billing": (["I was charged twice this month"], ["add a user"])})
    (a,), (b,) = m.scores(["we got billed two times in May"]), m.scores(["how do I add a user?"])
    assert a["billing"][0] > a["billing"][1] and a["billing"][2].startswith("I was charged")
    assert "billing" not in b          # nearer its near miss than its example
    assert fold("Données") == "donnees"


def test_manifest_risk_tags_override_and_add():
    det = RiskDetector.from_config({"spam": {"enabled": False},
                                    "warranty": {"keywords": ["warranty claim"], "points": 12}})
    assert "spam" not in det.by_name and det.by_name["warranty"].points == 12
    t = ticket(("end-user", "I want to open a warranty claim for my laptop"))
    found = det.detect(read_conversation(t, NOW), "en")
    assert "warranty" in found.tags()


def test_a_manifest_message_near_miss_cancels_its_tag_in_that_message_only():
    det = RiskDetector.from_config({"warranty": {
        "keywords": ["warranty claim"], "message_unless": {"en": [r"\bfor our training\b"]}}})
    near = ticket(("end-user", "How would a warranty claim work? Asking for our training "
                   "material."), ("end-user", "I want to open a warranty claim for my laptop."))
    found = det.detect(read_conversation(near, NOW), "en")
    assert [h.comment_index for h in found.hits if h.tag == "warranty"] == [1]
    alone = ticket(("end-user", "How would a warranty claim work? Asking for our training "
                    "material."))
    assert "warranty" not in det.detect(read_conversation(alone, NOW), "en").tags()


def test_org_field_stakes_reach_the_enrichment():
    t = ticket(("end-user", "We lose $12,000 a day while all our stores cannot take payments"),
               org=Organization(id=3, name="Shops", segment="enterprise", account_value=90000))
    en = ENRICHER.enrich(t, NOW)
    assert en.stakes["money"] == 12000.0 and en.stakes["everyone"]
    assert "outage" in en.tags


@pytest.mark.parametrize("text,n", [
    ("This is my third ticket about this, first was #51203.", 3),
    ("I have emailed you 4 times and nobody answers.", 4),
    ("Two previous tickets were closed without a fix.", 3),
    ("Es ist das dritte Mal, dass ich schreibe.", 3),
    ("Esta es la tercera vez que escribo por lo mismo.", 3),
    ("Third time writing about the same sync error.", 3),
    ("Je relance pour la 3e fois.", 3),
    ("É a 3ª vez que abro chamado.", 3),
    ("Already sent 4 emails about this.", 4),
    ("Ya van cuatro correos sin respuesta.", 4),
    ("Ich habe schon drei Mails geschrieben.", 3),
    ("We sent 3 emails to our customers today.", None),
    ("This is the fourth time that I am asking for the invoice copy.", 4),
    ("I tried 3 times to reset the password.", None),
    ("Please add a second user.", None),
    ("Following up for the 4th time on this, two tickets were closed unsolved.", 4)])
def test_contacts_the_customer_states(text, n):
    assert find_stakes([text]).contacts == n


def test_a_new_ticket_that_says_it_is_the_third_goes_to_the_specialists():
    from tiergate.plugin.core.decide import decide
    from tiergate.plugin.core.manifest import default_manifest_path, load_manifest

    manifest = load_manifest(default_manifest_path())
    text = ("This is my third ticket about this. The label printer still fails after your "
            "update, I've reinstalled the helper 3 times as told. Please send it to someone "
            "who can actually look into it.")
    t = ticket(("end-user", text))
    d = decide(t, ENRICHER.enrich(t, NOW), manifest, NOW)
    assert "stuck_told" in {f.name for f in d.fired}


def test_a_new_question_after_the_agent_settled_the_old_matter_drops_its_tags():
    settled = ticket(("end-user", "We were charged twice in May, $120 each."),
                     ("agent", "Sorry! The duplicate $120 was refunded today."),
                     ("end-user", "Great, I see it pending. Separate question: can I change the "
                                  "invoice email address?"))
    assert "billing" not in tags_of(settled)
    unanswered = ticket(("end-user", "We were charged twice in May, $120 each."),
                        ("end-user", "Separate question: can I change the invoice email "
                                     "address?"))
    assert "billing" in tags_of(unanswered)
    still = ticket(("end-user", "We were charged twice in May, $120 each."),
                   ("agent", "Sorry! The duplicate $120 was refunded today."),
                   ("end-user", "But the duplicate is still not back on my card. Another "
                                "question: where is the invoice?"))
    assert "billing" in tags_of(still)


def test_it_works_again_closes_the_matter_and_thanks_after_a_fix_settles_it():
    back = ticket(("end-user", "Since 9 nobody in our office can open the app, white screen "
                               "for all 30 of us."),
                  ("agent", "Engineers are on it."),
                  ("end-user", "Whatever you did worked, the team is working again."))
    e = ENRICHER.enrich(back, NOW)
    assert e.closing and "outage" not in e.tags
    thanked = ticket(("end-user", "Since this morning the portal is down for our 200 staff."),
                     ("agent", "Fixed at 11:05, please retry."),
                     ("end-user", "Thanks. Is there a status page we can subscribe to?"))
    assert "outage" not in tags_of(thanked)
    unfixed = ticket(("end-user", "Since this morning the portal is down for our 200 staff."),
                     ("agent", "Engineers are looking into it."),
                     ("end-user", "Thanks. When will it be back?"))
    assert "outage" in tags_of(unfixed)


@pytest.mark.parametrize("text,closing", [
    ("Yes it's syncing again, thank you!!", True),
    ("Confirmed, orders are flowing again. Close it.", True),
    ("Yes, it's back. Thanks", True),
    ("The error is back.", False),
    ("It's failing again, third time this week.", False),
    ("Orders are flowing again but only for half the stores, the rest are still stuck.", False),
    ("Don't close it, it is still broken.", False)])
def test_a_working_verb_again_or_close_it_closes_the_matter(text, closing):
    t = ticket(("end-user", "The warehouse sync stopped, 20 people cannot ship anything."),
               ("agent", "We deployed a fix for the sync, can you check?"),
               ("end-user", text))
    assert ENRICHER.enrich(t, NOW).closing is closing


@pytest.mark.parametrize("text", [
    "Auch mit Firefox dasselbe. Das geht jetzt seit über einer Woche so, immer noch leer.",
    "Otra vez lo mismo. Llevo diez días con esto y nadie lo soluciona.",
    "Toujours rien. Ça fait deux semaines que ça dure.",
    "Continua igual. Já são 9 dias sem conseguir emitir e ninguém resolve.",
    "Tres llamadas después, seguimos igual.",
    "Fünf Nachrichten später ist es immer noch genau gleich.",
    "Quatre relances plus tard, toujours au même point.",
    "Seven emails later and still nothing works.",
])
def test_chasing_in_other_languages_reads_as_repeat_contact(text):
    assert "repeat_contact" in tags_of(ticket(("end-user", text)))


def test_our_own_customers_chargeback_is_a_how_to_question():
    t = ticket(("end-user", "One of our own customers has filed a chargeback with their bank "
                            "for an order. How do I upload evidence in your tool?"))
    assert not {"billing", "chargeback"} & tags_of(t)


@pytest.mark.parametrize("tag,text", [
    ("security", "A parent logged into the portal and sees the reports and photos of children "
                 "from another school, not our school at all."),
    ("privacy", "Roughly 40 patients were sent the letter meant for the person above them on "
                "the list, with their referral reason and date of birth."),
])
def test_other_peoples_records_in_customers_words(tag, text):
    assert tag in tags_of(ticket(("end-user", text)))


@pytest.mark.parametrize("text", [
    "Checklist item 4: 'the booking page is unreachable and none of our 30 clinics can see the "
    "schedule'. How would the app behave then? No problems at the moment, it's just for the plan.",
    "Punkt 3 der Liste: 'Kassensystem nicht erreichbar, keiner unserer 50 Mitarbeiter kann "
    "kassieren'. Wie lange halten die Kassen durch? Aktuell gibt es keine Probleme.",
])
def test_a_message_that_says_nothing_is_wrong_now_describes_a_scenario(text):
    assert "outage" not in tags_of(ticket(("end-user", text)))


def test_a_breach_in_the_news_asked_about_hypothetically_is_no_incident():
    t = ticket(("end-user", 'Our MD sent me this: "An unauthorised third party accessed customer '
                            'records including bank details at another software vendor." We '
                            "don't think it affects us. Hypothetically, what would you do if "
                            "our data leaked?"))
    assert not {"security", "privacy"} & set(tags_of(t))
    real = ticket(("end-user", "An unauthorised third party accessed our customer records "
                               "last night, bank details included."))
    assert "security" in tags_of(real)


def test_a_scenario_in_one_message_does_not_calm_a_later_outage():
    t = ticket(("end-user", "No issues at the moment, it's just for our continuity plan: what if "
                            "the platform went down?"),
               ("agent", "The app keeps a local copy for 24 h."),
               ("end-user", "Well now it is down for real: none of our 40 agents can log in since 9am."))
    assert "outage" in tags_of(t)


@pytest.mark.parametrize("text, n", [
    ("This is now the fifth time I'm writing about the broken export.", 5),
    ("Third time we are chasing this invoice.", 3),
    ("hi, this is the 4th time I'm on chat about the same sync error", 4),
    ("How do I add a second email address?", None),
    ("Ich habe schon viermal geschrieben.", 4),
    ("Lo he pedido tres veces y nada.", 3),
    ("Je vous ai écrit 4 fois.", 4),
    ("Já liguei três vezes.", 3),
    ("I have been chasing this for three weeks.", 3),
    ("Ça fait un mois que je relance pour le même problème.", 3),
    ("Llevamos dos semanas escribiendo y nada.", 3),
    ("Seit Wochen frage ich nach.", 3),
    ("Há semanas que ligo e ninguém resolve.", 3),
    ("El sistema se cayó tres veces esta semana.", None),
    ("J'ai cliqué 3 fois sur le bouton.", None),
    ("I was writing for weeks on the report.", None),
    ("We reported the calendar bug 3 weeks ago and keep getting the same answer.", 3),
    ("Every week I'm told it's being looked at.", 3),
    ("We reported this 2 weeks ago, it was fixed, thanks.", None),
    ("Every day I get the same report, great feature.", None),
    ("Export still broken - again (3rd time).", 3),
    ("Refund for the cancelled order, 4th time asking", 4),
    ("The export button moved for the third time this year.", None),
    ("my 5th chat about the missing invoices", 5),
    ("Third time submitting this form and still no answer.", 3),
    ("Two weeks and 4 different agents, still locked out.", 4),
    ("We have five different agents on the account, can they share a view?", None),
    ("Can I add a second form to the booking page?", None),
])
def test_which_contact_the_customer_says_this_is(text, n):
    from tiergate.plugin.core.stakes import find_contacts
    assert find_contacts([text])[0] == n


@pytest.mark.parametrize("text", [
    "You charged me 89 EUR for March although I cancelled in February. I want my money back.",
    "Sie haben mir für März 89 € abgebucht, obwohl ich im Februar gekündigt habe. Ich will das "
    "Geld zurück.",
    "Vous m'avez prélevé 89 € pour mars alors que j'ai résilié en février. Je veux être "
    "remboursé.",
    "Me cobraron 89 € en marzo aunque cancelé en febrero. Quiero mi dinero de vuelta.",
    "Vocês cobraram 89 € em março mesmo eu tendo cancelado em fevereiro. Quero meu dinheiro de "
    "volta.",
])
def test_a_charge_after_cancelling_reads_as_upset_in_every_language(text):
    # the shipped billing trigger takes a dispute within the frontline's limit to Billing
    # from an upset customer (attention 30 or more): the same words weigh the same everywhere
    en = ENRICHER.enrich(ticket(("end-user", text)), NOW)
    assert "billing" in en.tags and en.sentiment < -0.3 and en.attention_score >= 30


def test_blame_is_read_in_each_language():
    from tiergate.nlp.sentiment_intl import intl_blame
    assert intl_blame("Sie haben mir 89 € abgebucht, obwohl ich gekündigt habe.", "de") == (1, True)
    assert intl_blame("Die Kollegen haben sie gekündigt.", "de") == (0, False)
    assert intl_blame("Vous m'avez prélevé deux fois, c'est inacceptable.", "fr") == (1, True)
    assert intl_blame("Merci pour votre aide, tout va bien.", "fr") == (0, True)


@pytest.mark.parametrize("text,lang", [
    ("I still can't log in.", "en"), ("Nobody has answered my emails.", "en"),
    ("Der Export funktioniert nicht.", "de"), ("No llega ningún correo.", "es"),
    ("Le paiement ne passe pas.", "fr"), ("O relatório não abre.", "pt")])
def test_a_negated_report_without_sentiment_words_reads_negative(text, lang):
    assert ENRICHER.enrich(ticket(("end-user", text)), NOW).sentiment_label == "negative"
    if lang != "en":
        assert intl_sentiment(text, lang) < 0


@pytest.mark.parametrize("text", ["Thanks, no rush at all.", "The new export looks great!",
                                  "Where do I find the invoice settings?"])
def test_text_without_a_negation_keeps_its_lexicon_reading(text):
    assert ENRICHER.enrich(ticket(("end-user", text)), NOW).sentiment_label != "negative"


def test_a_count_that_is_imported_data_is_no_impact():
    text = "Import of our 40 employees gives error, which date format does the CSV need?"
    assert "outage" not in tags_of(ticket(("end-user", text)))
    blocked = "Since 9:00 our 40 employees get an error on every page, nobody can work."
    assert "outage" in tags_of(ticket(("end-user", blocked)))


def test_a_forward_sent_for_the_record_is_not_read_with_its_subject():
    body = ("Please add secops@example.org to the security contacts; the notice below from "
            "August went only to a colleague who has left.\n\n"
            "---------- Forwarded message ---------\nFrom: Security <s@vendor.example>\n"
            "Subject: Suspicious sign-in activity detected\n\n"
            "We detected a successful sign-in from an unfamiliar location.")
    t = ticket(("end-user", body), subject="Fwd: Suspicious sign-in activity detected")
    assert "security" not in tags_of(t)


def test_a_forward_of_a_settled_matter_is_not_read_as_the_case():
    body = ("Forwarding this as my colleague asked - it's all resolved, please just update the "
            "billing contact to ap@example.org.\n\n-----Original Message-----\n"
            "From: Dan <dan@example.org>\nSent: Friday, October 30, 2026 7:12 PM\n"
            "Subject: Charged twice\n\nYou have charged us twice this month, reverse it now.")
    assert "billing" not in tags_of(ticket(("end-user", body), subject="FW: Charged twice"))


def test_the_vendors_whole_company_is_no_impact():
    rant = ("You closed my ticket without fixing anything, you are brain dead and your whole "
            "company is a scam. The discount codes still don't apply.")
    assert "outage" not in tags_of(ticket(("end-user", rant)))
    ours = "Since 9:00 our whole company gets a blank page, nobody can work."
    assert "outage" in tags_of(ticket(("end-user", ours)))


def test_a_mail_pasted_below_the_customers_words_is_the_case():
    mail = ("From: Billing Team <billing@examp1e-support.net>\nSubject: Verify your account\n\n"
            "Your account will be suspended. Sign in here to keep it.\n\n")
    pasted = ("Two of our staff got this today:\n\n" + mail +
              "The link opens a copy of your login page and one of them typed her password.")
    assert "security" in tags_of(ticket(("end-user", pasted), subject="Is this from you?"))
    reply = ("Thanks, all clear now.\n\n" + mail + "The link opens a copy of your login page.")
    assert "security" not in tags_of(ticket(("end-user", reply), subject="Re: Help"))


def test_thanks_with_a_request_still_open_does_not_close_the_matter():
    t = ticket(("end-user", "Notre conseil revoit tous les abonnements pour le budget 2027 et a "
                "reçu une offre d'un autre fournisseur à 30 % de moins."),
               ("agent", "Merci, je vous prépare les statistiques d'usage."),
               ("end-user", "Merci. Pour la partie tarifaire, j'ai besoin d'une réponse avant le "
                "11 décembre."))
    en = ENRICHER.enrich(t, NOW)
    assert not en.closing and "churn" in en.tags


def test_a_domain_listing_renewal_notice_is_spam():
    text = "FINAL NOTICE: the search engine listing for your domain expires today, renew now."
    assert "spam" in tags_of(ticket(("end-user", text)))


def test_a_call_asked_for_to_book_training_is_no_request_for_a_person():
    body = ("We have two new receptionists in January. Could someone give me a call to book "
            "a training session? Mornings are best.")
    t = ticket(("end-user", body), subject="Could someone call me?")
    assert "human_request" not in tags_of(t)
    angry = ticket(("end-user", "Nobody has fixed the export in a week. Could someone senior "
                    "call me today?"), subject="Could someone call me?")
    assert "human_request" in tags_of(angry)


def test_venting_about_something_else_is_not_an_incident_of_ours():
    vent = ("Honestly this week has been a disaster, the walk-in freezer died on Monday, we lost "
            "about £2k of stock and the engineer STILL hasn't turned up.")
    ask = "Quick question: when we sell a gift voucher on the till is VAT charged then?"
    assert "outage" in tags_of(ticket(("end-user", f"{vent} {ask}")))
    assert "outage" not in tags_of(ticket(("end-user", f"{vent} Anyway none of that is your "
                                           f"problem! {ask}")))


def test_a_settled_money_matter_named_in_the_thanks_is_closed_and_not_escalated():
    text = ("Just confirming credit note CN-1142 for £1,140 arrived and our finance team matched "
            "it against the duplicate payment. All square now, thank you for sorting it so "
            "quickly.")
    t = ticket(("end-user", text), subject="Re: charged twice")
    en = ENRICHER.enrich(t, NOW)
    assert en.closing and "billing" not in en.tags
    assert decide(t, en, load_manifest(default_manifest_path()), NOW).escalation is None
    new = ENRICHER.enrich(ticket(("end-user", "The credit arrived, thank you. But now we were "
                                  "charged twice for December.")), NOW)
    assert not new.closing and "billing" in new.tags
