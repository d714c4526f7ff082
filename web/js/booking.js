// Booking and paying: POST /v1/bookings (payment "card") → Stripe.js confirmCardPayment
// with the client_secret → the webhook confirms the booking (polled) → invoice PDF, ICS,
// cancellation. A declined card cancels the held booking at once.

import { config, download, euros, getJson, newIdempotencyKey, postJson } from './api.js';
import { $, announce, clock, fail, show, time } from './ui.js';

const POLL_EVERY_MS = 1000;
const POLL_FOR_MS = 90000;
const UNITS = {
  day: 'journée', half_day_am: 'matinée', half_day_pm: 'après-midi', hour: 'à l’heure',
};
const STATUSES = {
  held: 'En attente de paiement', confirmed: 'Confirmée', checked_in: 'Présence enregistrée',
  cancelled: 'Annulée', expired: 'Expirée (paiement non reçu à temps)', no_show: 'Absence',
  completed: 'Terminée',
};
const DECLINES = {
  card_declined: 'Votre carte a été refusée par votre banque.',
  expired_card: 'Votre carte a expiré.',
  incorrect_cvc: 'Le cryptogramme (CVC) est incorrect.',
  processing_error: 'Une erreur est survenue lors du traitement de la carte.',
  insufficient_funds: 'Le paiement a été refusé : provision insuffisante.',
  authentication_required: 'Votre banque demande une authentification qui n’a pas abouti.',
  payment_intent_authentication_failure: 'L’authentification 3-D Secure a échoué.',
};

let stripe = null;
let card = null;
let current = null; // {booking, payment, offer}
let pollToken = 0;

function loadStripe() {
  if (stripe) return Promise.resolve(stripe);
  return new Promise((resolve, reject) => {
    const ready = () => {
      if (typeof window.Stripe !== 'function') { reject(new Error('Stripe.js absent')); return; }
      stripe = window.Stripe(config.stripePublishableKey, { locale: 'fr' });
      card = stripe.elements({ locale: 'fr' }).create('card', { hidePostalCode: true });
      card.mount('#carte');
      resolve(stripe);
    };
    if (typeof window.Stripe === 'function') { ready(); return; }
    const script = document.createElement('script');
    script.src = config.stripeJsUrl;
    script.onload = ready;
    script.onerror = () => reject(new Error('Stripe.js n’a pas pu être chargé.'));
    document.head.appendChild(script);
  });
}

/** Hold the seat (POST /v1/bookings, payment "card") and open the card form. */
export async function book(offer, choice) {
  if (current) await releaseHold(); // one hold at a time: the previous seat goes back
  const body = { resource_id: offer.resource.resource_id, date: choice.date, unit: choice.unit, payment: 'card' };
  if (choice.unit === 'hour') Object.assign(body, { start: choice.start, end: choice.end });
  const answer = await postJson('/bookings', body, { idempotencyKey: newIdempotencyKey() });
  current = { ...answer, offer };
  $('#paiement').dataset.bookingId = answer.booking.id;
  try {
    await loadStripe();
  } catch (error) {
    await releaseHold();
    throw error;
  }
  const amount = euros(answer.payment.amount);
  $('#paiement-resume').textContent = `${offer.resource.name} — ${offer.relayName}, ` +
    `${formatDate(choice.date)} (${UNITS[choice.unit]}) : ${amount} TTC.`;
  const until = answer.booking.hold_expires_at;
  $('#paiement-delai').textContent = until ? `Poste réservé pour vous jusqu’à ${time(until)}.` : '';
  $('#payer').textContent = `Payer ${amount}`;
  show('#paiement', true);
  show('#confirmation', false);
  $('#paiement-titre').focus();
  announce(`Poste réservé. Saisissez votre carte pour payer ${amount}.`);
}

/** Stripe.js confirms the PaymentIntent; a card error cancels the held booking. */
export async function pay() {
  if (!current) return;
  const { booking, payment } = current;
  const result = await stripe.confirmCardPayment(payment.client_secret, {
    payment_method: { card },
  });
  const paid = ['succeeded', 'processing', 'requires_capture'];
  const error = result.error || (paid.includes(result.paymentIntent && result.paymentIntent.status)
    ? null : { type: 'card_error', code: 'card_declined' });
  if (error) {
    if (error.type === 'validation_error' || /^incomplete|^invalid/.test(error.code || '')) {
      fail('Les informations de la carte sont incomplètes ou invalides : vérifiez-les.');
      return;
    }
    if (error.type !== 'card_error') {
      fail(`Le paiement n’a pas pu aboutir (${error.message || error.type}). Votre poste reste ` +
        'réservé : réessayez dans un instant.');
      return;
    }
    await releaseHold();
    const reason = DECLINES[error.decline_code] || DECLINES[error.code] ||
      'Le paiement par carte a été refusé.';
    fail(`Paiement refusé. ${reason} Aucun montant n’a été débité et la réservation a été ` +
      'annulée. Vous pouvez réessayer avec une autre carte.');
    return;
  }
  show('#paiement', false);
  await followConfirmation(booking.id);
}

/** Cancel the held booking (declined card, or given up): no booking is left held. */
export async function releaseHold() {
  if (!current) return;
  const id = current.booking.id;
  current = null;
  show('#paiement', false);
  try {
    await postJson(`/bookings/${id}/cancel`, undefined);
  } catch (error) {
    if (error.code !== 'invalid_state') throw error; // already expired or cancelled
  }
}

async function followConfirmation(bookingId) {
  const mine = ++pollToken;
  show('#confirmation', true);
  $('#confirmation-titre').focus();
  announce('Paiement accepté. Confirmation de la réservation en cours…');
  const deadline = Date.now() + POLL_FOR_MS;
  let booking = await getJson(`/bookings/${bookingId}`);
  render(booking);
  while (mine === pollToken && Date.now() < deadline &&
         (booking.status === 'held' || (booking.status === 'confirmed' && !booking.invoice_id))) {
    await new Promise((resolve) => setTimeout(resolve, POLL_EVERY_MS));
    const before = booking.status;
    booking = await getJson(`/bookings/${bookingId}`);
    render(booking);
    if (before !== 'confirmed' && booking.status === 'confirmed') {
      announce('Réservation confirmée. Votre facture est disponible.');
    }
  }
  if (booking.status === 'held') {
    fail('Le paiement est accepté mais la confirmation tarde : rechargez la page dans un moment.');
  }
}

function render(booking) {
  const state = $('#reservation-etat');
  state.textContent = STATUSES[booking.status] || booking.status;
  state.dataset.status = booking.status;
  const rows = [
    ['Référence', booking.id],
    ['Date', formatDate(booking.date)],
    ['Horaire', `${clock(booking.start)} – ${clock(booking.end)}`],
    ['Prix', booking.price ? `${euros(booking.price.amount)} TTC` : '—'],
  ];
  const list = $('#reservation-details');
  list.replaceChildren(...rows.flatMap(([term, value]) => {
    const dt = document.createElement('dt');
    dt.textContent = term;
    const dd = document.createElement('dd');
    dd.textContent = value;
    return [dt, dd];
  }));
  const live = ['confirmed', 'checked_in'].includes(booking.status);
  show('#facture', Boolean(booking.invoice_id));
  show('#agenda', live);
  show('#annuler', live);
  show('#annuler-confirmer', false);
  $('#confirmation').dataset.bookingId = booking.id;
  $('#confirmation').dataset.invoiceId = booking.invoice_id || '';
}

export async function downloadInvoice() {
  const id = $('#confirmation').dataset.invoiceId;
  const link = await download(`/invoices/${id}/pdf`, {}, `facture-${id}.pdf`,
    { accept: 'application/pdf' });
  keep(link, 'Facture téléchargée.');
}

export async function downloadCalendar() {
  const id = $('#confirmation').dataset.bookingId;
  const link = await download(`/bookings/${id}/ics`, {}, `relais-${id}.ics`,
    { accept: 'text/calendar' });
  keep(link, 'Événement d’agenda téléchargé : ouvrez-le pour l’ajouter à votre agenda.');
}

export async function cancelBooking() {
  const id = $('#confirmation').dataset.bookingId;
  pollToken += 1;
  const answer = await postJson(`/bookings/${id}/cancel`, undefined);
  render(answer.booking);
  const refund = answer.refund;
  announce(refund && refund.amount
    ? `Réservation annulée. Remboursement de ${euros(refund.amount)} sur votre carte` +
      `${answer.credit_note_id ? ' ; un avoir a été émis.' : '.'}`
    : 'Réservation annulée. Aucun remboursement (annulation hors délai).');
}

function keep(link, message) {
  $('#telechargements').append(link);
  announce(message);
}

function formatDate(iso) {
  const [y, m, d] = iso.split('-').map(Number);
  return new Date(Date.UTC(y, m - 1, d)).toLocaleDateString('fr-FR', {
    weekday: 'long', day: 'numeric', month: 'long', year: 'numeric', timeZone: 'UTC',
  });
}
