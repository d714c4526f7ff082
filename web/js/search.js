// Finding a free seat: a station or town by name (the relays' name and city) or a
// position, then GET /v1/availability?near=... and the relays' rates.

import { allPages, getJson } from './api.js';

const POSITION = /^\s*(-?\d{1,2}(?:\.\d+)?)\s*,\s*(-?\d{1,3}(?:\.\d+)?)\s*$/;
const MAX_RELAYS = 6;
let relaysPromise = null;
const details = new Map();

export function relays() {
  if (!relaysPromise) {
    relaysPromise = allPages('/relays').catch((error) => {
      relaysPromise = null;
      throw error;
    });
  }
  return relaysPromise;
}

export function fold(text) {
  return String(text || '').normalize('NFD').replace(/[\u0300-\u036f]/g, '')
    .toLowerCase().replace(/[^a-z0-9]+/g, ' ').trim();
}

/** Names and towns for the search field's suggestions. */
export async function suggestions() {
  const names = new Set();
  for (const relay of await relays()) {
    names.add(relay.name);
    if (relay.address && relay.address.city) names.add(relay.address.city);
  }
  return [...names].sort((a, b) => a.localeCompare(b, 'fr'));
}

/** `{near: "lat,lon", label}` for what the user typed, or null when nothing matches. */
export async function resolvePlace(text) {
  const position = POSITION.exec(text);
  if (position) return { near: `${position[1]},${position[2]}`, label: 'cette position' };
  const wanted = fold(text);
  if (!wanted) return null;
  const scored = (await relays()).map((relay) => {
    const name = fold(relay.name);
    const city = fold(relay.address && relay.address.city);
    let score = 0;
    if (name === wanted || city === wanted) score = 3;
    else if (name.startsWith(wanted) || city.startsWith(wanted)) score = 2;
    else if (name.includes(wanted) || city.includes(wanted)) score = 1;
    return { relay, score };
  }).filter((entry) => entry.score > 0).sort((a, b) => b.score - a.score);
  if (!scored.length) return null;
  const { location, name } = scored[0].relay;
  return { near: `${location.lat},${location.lon}`, label: name };
}

async function relayDetail(relayId) {
  if (!details.has(relayId)) details.set(relayId, getJson(`/relays/${relayId}`, {}, { auth: false }));
  return details.get(relayId);
}

function window_(unit, start, end) {
  if (unit === 'half_day_am') return (slot) => slot.end <= '13:00';
  if (unit === 'half_day_pm') return (slot) => slot.start >= '13:00';
  if (unit === 'hour') return (slot) => slot.start >= start && slot.end <= end;
  return () => true;
}

function hours(start, end) {
  const minutes = (t) => Number(t.slice(0, 2)) * 60 + Number(t.slice(3, 5));
  return (minutes(end) - minutes(start)) / 60;
}

export function price(rates, unit, start, end) {
  const rate = rates && rates[unit.startsWith('half_day') ? 'half_day' : unit];
  if (rate === undefined || rate === null) return null;
  return unit === 'hour' ? Math.round(rate * hours(start, end)) : rate;
}

/** Seats free over the whole unit: the fewest free in its slots (0 when none). */
export function freeSeats(slots, unit, start, end) {
  const inside = slots.filter(window_(unit, start, end));
  if (!inside.length) return 0;
  if (unit === 'hour' && inside.length !== hours(start, end) * 2) return 0;
  // Over by the clock: an hour cannot start in a past slot; a day or half day is bookable
  // while any of it is left.
  if (unit === 'hour' ? inside[0].past : inside.every((slot) => slot.past)) return 0;
  return Math.min(...inside.map((slot) => slot.free));
}

/** The nearest relays with a free resource for that date, kind and unit. */
export async function search({ near, date, kind, unit, start, end }) {
  const answer = await getJson('/availability', { date, near, kind }, { auth: false });
  const found = [];
  for (const relay of answer.relays || []) {
    if (!relay.open || found.length >= MAX_RELAYS) continue;
    const offers = relay.resources
      .map((resource) => ({ resource, free: freeSeats(resource.slots, unit, start, end) }))
      .filter((offer) => offer.free > 0);
    if (offers.length) found.push({ relay, offers });
  }
  await Promise.all(found.map(async (entry) => {
    const detail = await relayDetail(entry.relay.relay_id);
    entry.address = detail.address;
    const rates = new Map((detail.resources || []).map((r) => [r.id, r.rates]));
    entry.offers = entry.offers
      .map((offer) => ({ ...offer, price: price(rates.get(offer.resource.resource_id), unit, start, end) }))
      .filter((offer) => offer.price !== null);
  }));
  return found.filter((entry) => entry.offers.length);
}
