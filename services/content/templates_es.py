"""The built-in Spanish templates, by (channel, purpose). Data, checked at import by template_parts.

Written with full accents; an SMS whose accents (á, í, ó, ú are not GSM-7) would push it
past its segment cap is folded to GSM-7 by the renderer. Agent notifications are
for the agent, so they stay in English. No number of their own (see templates_en).
"""

from __future__ import annotations

from services.content.template_parts import catalogue, opt, req, template

_MARKET_SMS = opt(
    "En {{ market_area }} las casas se venden en unos {{ market_days }} días "
    "(mediana {{ market_price }}, {{ market_as_of }})."
)
_MARKET_EMAIL = opt(
    "Un dato del mercado en {{ market_area }}: el precio mediano de venta fue {{ market_price }}, las "
    "casas se vendieron en unos {{ market_days }} días y había {{ market_inventory }} en venta "
    "({{ market_as_of }})."
)
_SIGN_OFF = req(
    "Saludos cordiales,\n{{ agent }}\n{{ brand }}", "Saludos cordiales,\nEl equipo de {{ brand }}"
)

SMS_FIRST_TOUCH = (
    template(
        "a",
        (),
        req(
            "Hola {{ greeting_name }}, soy {{ agent }} de {{ brand }}.",
            "Hola {{ greeting_name }}, le escribe {{ brand }}.",
            "Hola, le escribe {{ brand }}.",
        ),
        opt(
            "Gracias por su consulta sobre casas en {{ city }}.",
            "Gracias por su consulta por {{ source }}.",
        ),
        req("¿Cuándo le viene bien una llamada corta para hablar de lo que busca?"),
        opt("Puede llamarme al {{ agent_phone }}."),
    ),
    template(
        "b",
        (),
        req(
            "¡Hola {{ greeting_name }}! Le saluda {{ agent }} de {{ brand }}.",
            "¡Hola {{ greeting_name }}! Le saluda {{ brand }}.",
            "¡Hola! Le saluda {{ brand }}.",
        ),
        opt("Vi que busca casa en {{ city }} y quise escribirle personalmente."),
        req("¿Qué es imprescindible para usted: habitaciones, precio, trayecto?"),
        opt("Escríbame o llámeme al {{ agent_phone }}."),
    ),
)

SMS_FOLLOW_UP = (
    template(
        "a",
        (),
        req(
            "Hola {{ greeting_name }}, {{ agent }} de {{ brand }} para dar seguimiento.",
            "Hola {{ greeting_name }}, {{ brand }} para dar seguimiento.",
            "Hola, {{ brand }} para dar seguimiento.",
        ),
        req("¿Sigue buscando casa en {{ city }}?", "¿Sigue pensando en mudarse?"),
        opt("Puedo enviarle casas que encajen con lo que busca o preparar una visita."),
    ),
    template(
        "b",
        (),
        req(
            "Hola {{ greeting_name }}, soy {{ agent }} de {{ brand }}.",
            "Hola {{ greeting_name }}, le escribe {{ brand }}.",
            "Hola, le escribe {{ brand }}.",
        ),
        req("¿Ha cambiado algo en su búsqueda de casa?"),
        _MARKET_SMS,
        opt("Con gusto organizo visitas en {{ city }} cuando le convenga.", "Con gusto organizo visitas."),
    ),
)

EMAIL_FIRST_TOUCH = (
    template(
        "a",
        ("{{ name }}, su búsqueda de casa con {{ brand }}", "Su búsqueda de casa con {{ brand }}"),
        req("Hola {{ greeting_name }}:", "Hola:"),
        req(
            "Soy {{ agent }} de {{ brand }}. Gracias por su consulta sobre casas en {{ city }}.",
            "Soy {{ agent }} de {{ brand }}. Gracias por ponerse en contacto.",
            "Gracias por contactar a {{ brand }} sobre casas en {{ city }}.",
            "Gracias por contactar a {{ brand }}.",
        ),
        req(
            "Me encantaría saber qué busca: número de habitaciones, rango de precio y el trayecto o "
            "los servicios que le importan. Responda a este correo o llámeme al {{ agent_phone }}.",
            "Me encantaría saber qué busca: número de habitaciones, rango de precio y el trayecto o "
            "los servicios que le importan. Solo responda a este correo.",
        ),
        _SIGN_OFF,
        joiner="\n\n",
    ),
    template(
        "b",
        ("Gracias por escribirnos, {{ name }}", "Gracias por escribir a {{ brand }}"),
        req("Buenos días, {{ greeting_name }}:", "Buenos días:"),
        req(
            "Gracias por escribirnos sobre casas en {{ city }}. Soy {{ agent }} y seré su contacto en "
            "{{ brand }}.",
            "Gracias por escribirnos. Soy {{ agent }} y seré su contacto en {{ brand }}.",
            "Gracias por escribir a {{ brand }}.",
        ),
        req(
            "¿Podría contarme un poco sobre la casa que tiene en mente y sus plazos? Así le envío "
            "opciones que encajen."
        ),
        _SIGN_OFF,
        joiner="\n\n",
    ),
)

EMAIL_FOLLOW_UP = (
    template(
        "a",
        ("{{ name }}, ¿sigue buscando casa?", "¿Sigue buscando casa?"),
        req("Hola {{ greeting_name }}:", "Hola:"),
        req(
            "Le escribe {{ agent }} de {{ brand }} para dar seguimiento a su búsqueda en {{ city }}.",
            "Le escribe {{ agent }} de {{ brand }} para dar seguimiento a su búsqueda.",
            "{{ brand }} le escribe para dar seguimiento a su búsqueda.",
        ),
        req(
            "Si sus criterios han cambiado (habitaciones, presupuesto, plazos), respóndame y actualizo "
            "las casas que le envío. También puedo organizar visitas."
        ),
        _SIGN_OFF,
        joiner="\n\n",
    ),
    template(
        "b",
        ("{{ name }}, un saludo de {{ brand }}", "Un saludo de {{ brand }}"),
        req("Buenos días, {{ greeting_name }}:", "Buenos días:"),
        req(
            "Soy {{ agent }} de {{ brand }} y quería saber cómo van sus planes.",
            "Le escribe {{ brand }} para saber cómo van sus planes.",
        ),
        _MARKET_EMAIL,
        req(
            "¿Hay una zona, un precio o un trayecto en el que quiera que me centre? Respóndame cuando guste."
        ),
        _SIGN_OFF,
        joiner="\n\n",
    ),
)

SMS_RE_ENGAGEMENT = (
    template(
        "a",
        (),
        req(
            "Hola {{ greeting_name }}, soy {{ agent }} de {{ brand }}.",
            "Hola {{ greeting_name }}, le escribe {{ brand }}.",
            "Hola, le escribe {{ brand }}.",
        ),
        req(
            "¡Ha pasado un tiempo! ¿Sigue pensando en mudarse a {{ city }} este año?",
            "¡Ha pasado un tiempo! ¿Sigue pensando en mudarse este año?",
        ),
        opt("{{ value_proposition }}"),
        opt("Sin compromiso; respóndame cuando quiera."),
    ),
    template(
        "b",
        (),
        req("Hola {{ greeting_name }}, {{ brand }} por aquí.", "Hola, {{ brand }} por aquí."),
        req("Hace tiempo que no hablamos. ¿Sigue pensando en mudarse?"),
        _MARKET_SMS,
        opt("{{ value_proposition }}"),
    ),
)

EMAIL_RE_ENGAGEMENT = (
    template(
        "a",
        ("{{ name }}, ¿sigue pensando en mudarse?", "¿Sigue pensando en mudarse?"),
        req("Hola {{ greeting_name }}:", "Hola:"),
        req(
            "Soy {{ agent }} de {{ brand }}. Hace tiempo que no hablamos de casas en {{ city }}.",
            "Soy {{ agent }} de {{ brand }}. Hace tiempo que no hablamos.",
            "Hace tiempo que {{ brand }} no habla con usted.",
        ),
        _MARKET_EMAIL,
        opt("Le recuerdo cómo trabajamos: {{ value_proposition }}"),
        req(
            "¿Sigue pensando en mudarse este año? Si es así, cuénteme qué le importa ahora y le envío "
            "algunas casas que encajen. Si no, no hay ningún problema."
        ),
        _SIGN_OFF,
        joiner="\n\n",
    ),
    template(
        "b",
        ("{{ name }}, ¿sigue en pie la mudanza?", "¿Sigue en pie la mudanza?"),
        req("Buenos días, {{ greeting_name }}:", "Buenos días:"),
        req("Le escribe {{ brand }}. Hace tiempo que no hablamos y quería saludarle."),
        opt("{{ value_proposition }}"),
        req("Si sus planes cambiaron, no pasa nada. Si sigue buscando, respóndame y le preparo opciones."),
        _SIGN_OFF,
        joiner="\n\n",
    ),
)

SMS_TRIGGER = (
    template(
        "a",
        (),
        req(
            "Hola {{ greeting_name }}, {{ agent }} de {{ brand }}.",
            "Hola {{ greeting_name }}, le escribe {{ brand }}.",
            "Hola, le escribe {{ brand }}.",
        ),
        req(
            "Vi que ha estado mirando {{ listing }}. ¿Quiere verla en persona esta semana?",
            "Vi que ha estado mirando casas en {{ city }}. ¿Le llamó la atención alguna?",
            "Vi que ha estado mirando casas. ¿Le llamó la atención alguna?",
        ),
        opt("Llámeme o escríbame al {{ agent_phone }}."),
    ),
    template(
        "b",
        (),
        req(
            "{{ greeting_name }}, soy {{ agent }} de {{ brand }}.",
            "{{ greeting_name }}, le escribe {{ brand }}.",
            "Le escribe {{ brand }}.",
        ),
        req(
            "¿Le gustaría visitar {{ listing }}? Puedo organizarlo cuando le convenga.",
            "¿Le organizo algunas visitas a casas que le interesen?",
        ),
    ),
)

EMAIL_TRIGGER = (
    template(
        "a",
        (
            "{{ name }}, sobre {{ listing }}",
            "{{ name }}, casas que le pueden gustar",
            "Casas que le pueden gustar",
        ),
        req("Hola {{ greeting_name }}:", "Hola:"),
        req(
            "Vi que ha estado mirando {{ listing }}. Si quiere verla en persona, respóndame con el día y "
            "la hora que le convengan y organizo la visita.",
            "Vi que ha estado mirando casas en {{ city }}. Si alguna le llamó la atención, respóndame y "
            "organizo una visita o le envío casas parecidas.",
            "Vi que ha estado mirando casas. Si alguna le llamó la atención, respóndame y organizo una "
            "visita o le envío casas parecidas.",
        ),
        _SIGN_OFF,
        joiner="\n\n",
    ),
    template(
        "b",
        ("¿Quiere ver {{ listing }}?", "¿Quiere ver algunas casas en persona?"),
        req("Buenos días, {{ greeting_name }}:", "Buenos días:"),
        req(
            "Parece que {{ listing }} le llamó la atención. Con gusto se la muestro, junto con casas "
            "parecidas cerca.",
            "Parece que algunas casas le llamaron la atención. Con gusto le muestro las que más le gusten.",
        ),
        req("Respóndame con un horario que le convenga y lo organizo."),
        _SIGN_OFF,
        joiner="\n\n",
    ),
)

SMS_REPLY_TO_INBOUND = (
    template(
        "a",
        (),
        req("¡Gracias por su mensaje, {{ greeting_name }}!", "¡Gracias por su mensaje!"),
        req(
            "{{ agent }} de {{ brand }} le responderá personalmente en breve.",
            "Alguien de {{ brand }} le responderá personalmente en breve.",
        ),
        opt("Si es urgente, llame al {{ agent_phone }}."),
    ),
    template(
        "b",
        (),
        req("Recibido, {{ greeting_name }}, gracias.", "Recibido, gracias."),
        req(
            "Le escribe {{ brand }}: {{ agent }} tiene su mensaje y le responderá pronto.",
            "Le escribe {{ brand }}: tenemos su mensaje y le responderemos pronto.",
        ),
    ),
)

EMAIL_REPLY_TO_INBOUND = (
    template(
        "a",
        ("Re: su mensaje a {{ brand }}",),
        req("Hola {{ greeting_name }}:", "Hola:"),
        req(
            "Gracias por su mensaje. {{ agent }} de {{ brand }} lo tiene y le responderá personalmente.",
            "Gracias por su mensaje. El equipo de {{ brand }} lo tiene y le responderá personalmente.",
        ),
        opt("Si es urgente, puede llamar al {{ agent_phone }}."),
        _SIGN_OFF,
        joiner="\n\n",
    ),
    template(
        "b",
        ("Gracias, {{ name }}: tenemos su mensaje", "Gracias: tenemos su mensaje"),
        req("Buenos días, {{ greeting_name }}:", "Buenos días:"),
        req("Gracias por responder. Lo revisaremos y le contestaremos pronto."),
        _SIGN_OFF,
        joiner="\n\n",
    ),
)

SMS_APPOINTMENT_REMINDER = (
    template(
        "a",
        (),
        req("Hola {{ greeting_name }}, le escribe {{ brand }}.", "Hola, le escribe {{ brand }}."),
        req(
            "Le recordamos su cita con {{ agent }}: {{ appointment }}.",
            "Le recordamos su cita: {{ appointment }}.",
            "Le recordamos su próxima cita con nosotros.",
        ),
        req("¿Necesita cambiarla? Solo responda."),
    ),
    template(
        "b",
        (),
        req("{{ greeting_name }}, le escribe {{ brand }}.", "Le escribe {{ brand }}."),
        req("Le esperamos: {{ appointment }}.", "Le esperamos en su próxima cita."),
        req("Responda si necesita cambiar la hora."),
    ),
)

EMAIL_APPOINTMENT_REMINDER = (
    template(
        "a",
        ("Recordatorio: su cita con {{ brand }}",),
        req("Hola {{ greeting_name }}:", "Hola:"),
        req(
            "Le recordamos su cita con {{ agent }}: {{ appointment }}.",
            "Le recordamos su cita con {{ brand }}: {{ appointment }}.",
            "Le recordamos su próxima cita con {{ brand }}.",
        ),
        req("Si necesita cambiar la hora, responda a este correo."),
        _SIGN_OFF,
        joiner="\n\n",
    ),
    template(
        "b",
        ("Hasta pronto, {{ name }}", "Hasta pronto"),
        req("Buenos días, {{ greeting_name }}:", "Buenos días:"),
        req("Le esperamos: {{ appointment }}.", "Le esperamos en su próxima cita."),
        req("¿Le surgió algo? Respóndanos y buscamos otro horario."),
        _SIGN_OFF,
        joiner="\n\n",
    ),
)

TEMPLATES = catalogue(globals())
