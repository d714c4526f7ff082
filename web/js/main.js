// Wiring of the page: views, sign-in, search form, results, payment, confirmation.

import { claims, config, euros, getToken, setToken } from './api.js';
import * as accounting from './accounting.js';
import * as booking from './booking.js';
import { resolvePlace, search, suggestions } from './search.js';
import { $, announce, busy, fail, show } from './ui.js';

const KINDS = {
  hot_desk: 'Poste en open space', dedicated_desk: 'Poste dédié', meeting_room: 'Salle de réunion',
  office: 'Bureau fermé', phone_booth: 'Cabine téléphonique',
};
let choice = null;

function nextWeekday(from = new Date()) {
  const day = new Date(from);
  do { day.setDate(day.getDate() + 1); } while (day.getDay() === 0 || day.getDay() === 6);
  return localDate(day);
}

function localDate(day) {
  const pad = (n) => String(n).padStart(2, '0');
  return `${day.getFullYear()}-${pad(day.getMonth() + 1)}-${pad(day.getDate())}`;
}

function fillHours() {
  const times = [];
  for (let minutes = 7 * 60; minutes <= 21 * 60; minutes += 30) {
    times.push(`${String(Math.floor(minutes / 60)).padStart(2, '0')}:${minutes % 60 ? '30' : '00'}`);
  }
  for (const [selector, chosen] of [['#debut', '09:00'], ['#fin', '11:00']]) {
    $(selector).replaceChildren(...times.map((t) => new Option(t.replace(':', ' h '), t, false, t === chosen)));
  }
}

function route() {
  const view = window.location.hash === '#comptable' ? 'comptable' : 'reserver';
  for (const panel of document.querySelectorAll('[data-vue-panneau]')) {
    panel.hidden = panel.dataset.vuePanneau !== view;
  }
  for (const link of document.querySelectorAll('[data-vue]')) {
    if (link.dataset.vue === view) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  if (view === 'comptable') {
    accounting.setDefaults();
    if (isAccountant()) accounting.loadOperators().catch((error) => fail(error.message));
  }
}

function isAccountant() {
  const groups = (claims() || {})['cognito:groups'] || [];
  return groups.includes('accountant') || groups.includes('admin');
}

function refreshIdentity() {
  const token = getToken();
  const who = claims();
  const expired = who && who.exp && who.exp * 1000 < Date.now();
  $('#identite').textContent = !token ? 'Non connecté.'
    : !who ? 'Ce jeton n’est pas un JWT lisible.'
      : expired ? 'Ce jeton a expiré : reconnectez-vous.'
        : `Connecté : ${who.name || who.email || who.sub}${who.email ? ` (${who.email})` : ''}.`;
  $('#jeton').value = token;
  show('#deconnexion', Boolean(token));
  show('#form-connexion', !token || !who || Boolean(expired));
}

function signIn(token) {
  setToken(token);
  refreshIdentity();
  announce(getToken() ? $('#identite').textContent : 'Déconnecté.');
  route();
}

async function runSearch() {
  const form = $('#form-recherche');
  const unit = form.elements.unite.value;
  const wanted = {
    date: $('#date').value, kind: $('#type').value, unit, start: $('#debut').value, end: $('#fin').value,
  };
  if (!/^\d{4}-\d{2}-\d{2}$/.test(wanted.date)) throw new Error('Choisissez une date.');
  if (unit === 'hour' && wanted.start >= wanted.end) throw new Error('L’heure de fin doit suivre l’heure de début.');
  const place = await resolvePlace($('#lieu').value);
  if (!place) {
    $('#lieu').setAttribute('aria-invalid', 'true');
    $('#lieu').focus();
    throw new Error(`Aucun relais ne correspond à « ${$('#lieu').value} ».`);
  }
  $('#lieu').removeAttribute('aria-invalid');
  choice = wanted;
  const found = await search({ ...wanted, near: place.near });
  renderResults(found, place);
}

function renderResults(found, place) {
  show('#resultats', true);
  const count = found.length;
  $('#resultats-resume').textContent = count
    ? `${count} relais avec de la place près de ${place.label}, du plus proche au plus lointain.`
    : `Aucune place libre près de ${place.label} pour ce choix : essayez une autre date ou durée.`;
  $('#liste-relais').replaceChildren(...found.map(relayItem));
  announce($('#resultats-resume').textContent);
  $('#resultats-titre').focus();
}

function relayItem({ relay, offers, address }) {
  const item = document.createElement('li');
  const title = document.createElement('h3');
  title.textContent = relay.name;
  if (relay.distance_km !== undefined) {
    const distance = document.createElement('span');
    distance.className = 'distance';
    distance.textContent = ` — ${relay.distance_km.toLocaleString('fr-FR')} km`;
    title.append(distance);
  }
  const where = document.createElement('p');
  where.className = 'aide';
  where.textContent = address ? `${address.line1}, ${address.postcode} ${address.city}` : '';
  const list = document.createElement('ul');
  list.append(...offers.map((offer) => offerItem({ ...offer, relayName: relay.name })));
  item.append(title, where, list);
  return item;
}

function offerItem(offer) {
  const item = document.createElement('li');
  item.className = 'ressource';
  const text = document.createElement('span');
  const seats = offer.free > 1 ? `${offer.free} places libres` : '1 place libre';
  text.textContent = `${offer.resource.name} (${KINDS[offer.resource.kind] || offer.resource.kind}) · ` +
    `${seats} · ${euros(offer.price)} TTC`;
  const button = document.createElement('button');
  button.type = 'button';
  button.textContent = 'Réserver';
  button.setAttribute('aria-label',
    `Réserver ${offer.resource.name} à ${offer.relayName} pour ${euros(offer.price)}`);
  button.addEventListener('click', () => busy(button, async () => {
    if (!getToken()) {
      $('#jeton').focus();
      throw new Error('Connectez-vous d’abord (jeton d’accès), puis réservez.');
    }
    await booking.book(offer, choice);
  }));
  item.append(text, button);
  return item;
}

function locate(button) {
  if (!navigator.geolocation) { fail('La géolocalisation n’est pas disponible ici.'); return; }
  button.disabled = true;
  navigator.geolocation.getCurrentPosition((position) => {
    button.disabled = false;
    const { latitude, longitude } = position.coords;
    $('#lieu').value = `${latitude.toFixed(4)},${longitude.toFixed(4)}`;
    announce('Position trouvée : lancez la recherche.');
  }, () => {
    button.disabled = false;
    fail('Position indisponible : saisissez une gare ou une ville.');
  }, { timeout: 10000 });
}

function on(selector, event, handler) {
  $(selector).addEventListener(event, handler);
}

function wire() {
  on('#form-connexion', 'submit', (event) => { event.preventDefault(); signIn($('#jeton').value); });
  on('#deconnexion', 'click', () => signIn(''));
  for (const button of document.querySelectorAll('[data-demo]')) {
    button.addEventListener('click', () => signIn((config.demoTokens || {})[button.dataset.demo]));
  }
  on('#form-recherche', 'change', () => show('#horaires', $('#form-recherche').elements.unite.value === 'hour'));
  on('#form-recherche', 'submit', (event) => {
    event.preventDefault();
    busy(event.submitter || $('#form-recherche button[type=submit]'), runSearch);
  });
  on('#me-localiser', 'click', (event) => locate(event.currentTarget));
  on('#form-paiement', 'submit', (event) => { event.preventDefault(); busy($('#payer'), booking.pay); });
  on('#abandonner', 'click', (event) => busy(event.currentTarget, async () => {
    await booking.releaseHold();
    announce('Réservation abandonnée : le poste est libéré.');
  }));
  on('#facture', 'click', (event) => busy(event.currentTarget, booking.downloadInvoice));
  on('#agenda', 'click', (event) => busy(event.currentTarget, booking.downloadCalendar));
  on('#annuler', 'click', () => {
    show('#annuler-confirmer', true);
    $('#annuler-confirmer').focus();
    announce('Confirmez l’annulation avec le bouton « Confirmer l’annulation ».');
  });
  on('#annuler-confirmer', 'click', (event) => busy(event.currentTarget, booking.cancelBooking));
  on('#nouvelle', 'click', () => { show('#confirmation', false); $('#lieu').focus(); });
  on('#telecharger-fec', 'click', (event) => busy(event.currentTarget, accounting.downloadFec));
  on('#telecharger-tva', 'click', (event) => busy(event.currentTarget, accounting.downloadVat));
  on('#telecharger-csv', 'click', (event) => busy(event.currentTarget, accounting.downloadInvoicesCsv));
  window.addEventListener('hashchange', route);
}

async function start() {
  if (!config.apiBaseUrl) {
    fail('Configuration absente : config.js doit définir window.RELAIS_CONFIG.apiBaseUrl.');
    return;
  }
  show('#jetons-demo', Boolean(config.local && config.demoTokens));
  $('#date').value = nextWeekday();
  $('#date').min = localDate(new Date());
  fillHours();
  wire();
  refreshIdentity();
  route();
  document.body.dataset.pret = 'oui';
  try {
    const names = await suggestions();
    $('#lieux').replaceChildren(...names.map((name) => new Option(name)));
  } catch (error) {
    fail(error.message);
  }
}

start();
