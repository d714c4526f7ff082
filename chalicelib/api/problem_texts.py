"""Problem titles and details in the caller's language (`Accept-Language`).

Codes and fields never change with the language; English is the default. A detail
without a French translation below falls back to the French sentence of its code, so a
French caller never reads an English title or detail. `errors[].message` stays as the
validator wrote it (English), next to the field it names.
"""

from __future__ import annotations

from chalicelib.api.request_scope import Language
from chalicelib.errors import RelaisError

FRENCH_TITLES: dict[str, tuple[str, str]] = {
    # code: (title, detail used when the English detail has no translation)
    "internal_error": ("Erreur interne", "Une erreur inattendue est survenue."),
    "validation_error": ("Requête invalide", "La requête n'est pas valide."),
    "malformed_json": ("JSON mal formé", "Le corps de la requête n'est pas un JSON valide."),
    "unauthenticated": ("Authentification requise", "Un jeton d'accès valide est requis."),
    "forbidden": ("Accès refusé", "Cette action ne vous est pas permise."),
    "not_found": ("Introuvable", "Cette ressource n'existe pas."),
    "method_not_allowed": (
        "Méthode non permise",
        "Cette adresse n'accepte pas cette méthode HTTP.",
    ),
    "slot_unavailable": ("Créneau indisponible", "Il n'y a plus de place sur ce créneau."),
    "relay_closed": ("Relais fermé", "Le relais est fermé ce jour-là."),
    "outside_opening_hours": (
        "Hors des heures d'ouverture",
        "Les horaires demandés sont en dehors des heures d'ouverture.",
    ),
    "insufficient_credits": ("Crédits insuffisants", "Il ne reste pas assez de crédits."),
    "membership_required": ("Abonnement requis", "Vous n'avez pas d'abonnement actif."),
    "invalid_state": ("État incompatible", "L'objet n'est pas dans un état qui le permet."),
    "idempotency_conflict": (
        "Conflit d'idempotence",
        "Cette Idempotency-Key a déjà servi pour une autre requête.",
    ),
    "idempotency_in_flight": (
        "Requête en cours",
        "Une requête avec cette Idempotency-Key est encore en cours ; réessayez.",
    ),
    "already_exists": ("Existe déjà", "Cet objet existe déjà."),
    "invalid_signature": ("Signature invalide", "La signature du webhook n'est pas valide."),
    "payment_failed": ("Paiement refusé", "Le paiement a été refusé."),
    "rate_limited": ("Trop de requêtes", "Trop de requêtes ; réessayez plus tard."),
    "precondition_required": ("Précondition requise", "L'en-tête If-Match est requis."),
    "precondition_failed": (
        "Précondition non remplie",
        "L'objet a changé depuis votre lecture ; relisez-le.",
    ),
    "capacity_conflict": (
        "Capacité insuffisante",
        "Des réservations occupent déjà plus de places.",
    ),
    "immutable_field": ("Champ non modifiable", "Ce champ ne peut plus être modifié."),
    "period_closed": ("Période clôturée", "Cette période comptable est clôturée."),
    "accounting_settings_locked": (
        "Paramètres comptables verrouillés",
        "L'exercice comptable concerné a déjà une période clôturée.",
    ),
    "payment_provider_error": (
        "Erreur du prestataire de paiement",
        "Le prestataire de paiement a refusé la demande.",
    ),
    "service_unavailable": ("Service indisponible", "Le service est indisponible ; réessayez."),
    "misconfigured": ("Service mal configuré", "Le service est mal configuré."),
    "too_large": (
        "Trop volumineux pour un téléchargement direct",
        "Demandez ce fichier par un export asynchrone (POST /v1/exports).",
    ),
}

FRENCH_DETAILS: dict[str, str] = {
    "No such resource.": "Cette ressource n'existe pas.",
    "No such route.": "Cette adresse n'existe pas.",
    "Missing Authorization header.": "L'en-tête Authorization est absent.",
    "Authorization must be 'Bearer <token>'.": "Authorization doit être « Bearer <jeton> ».",
    "The seat was taken meanwhile.": "La place a été prise entre-temps.",
    "Not enough free seats for that time.": "Pas assez de places libres sur ce créneau.",
    "The requested times are outside the opening hours.": (
        "Les horaires demandés sont en dehors des heures d'ouverture."
    ),
    "You have no active membership.": "Vous n'avez pas d'abonnement actif.",
    "The date is in the past.": "La date est passée.",
    "This time is already over.": "Cet horaire est déjà passé.",
    "The body must be a JSON object.": "Le corps doit être un objet JSON.",
    "This Idempotency-Key was already used with another request.": (
        "Cette Idempotency-Key a déjà servi pour une autre requête."
    ),
    "The booking changed meanwhile; read it again.": (
        "La réservation a changé entre-temps ; relisez-la."
    ),
    "This action is reserved to administrators.": "Action réservée aux administrateurs.",
    "This action is reserved to accountants and administrators.": (
        "Action réservée aux comptables et aux administrateurs."
    ),
    "This action is reserved to the relay's managers and administrators.": (
        "Action réservée aux gérants du relais et aux administrateurs."
    ),
    "Free bookings are for the relay's managers and administrators.": (
        "Les réservations gratuites sont réservées aux gérants du relais et aux administrateurs."
    ),
    "You are not attached to a company account.": "Vous n'êtes rattaché à aucune entreprise.",
}


def texts(error: RelaisError, language: Language) -> tuple[str, str]:
    """The (title, detail) of a problem in this language."""
    if language != "fr" or error.code not in FRENCH_TITLES:
        return error.title, error.detail
    title, generic = FRENCH_TITLES[error.code]
    detail = FRENCH_DETAILS.get(error.detail, generic)
    fields = [str(e["field"]) for e in error.errors if e.get("field")]
    if fields and error.detail not in FRENCH_DETAILS:
        detail = f"{detail} Champs en cause : {', '.join(dict.fromkeys(fields))}."
    return title, detail
