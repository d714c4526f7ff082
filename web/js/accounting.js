// The accountant's view: the FEC of a year, the VAT report of a month and the invoices
// CSV of a period, for one operator (accountant or admin token).

import { download, euros, getJson, saveBlob } from './api.js';
import { $, announce, fail } from './ui.js';

export async function loadOperators() {
  const select = $('#operateur');
  const operators = [];
  let cursor = null;
  do {
    const page = await getJson('/operators', { limit: 100, cursor });
    operators.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor);
  select.replaceChildren(...operators.map((operator) => {
    const option = document.createElement('option');
    option.value = operator.id;
    option.textContent = `${operator.name} (SIREN ${operator.siren})`;
    return option;
  }));
  if (!operators.length) fail('Aucun opérateur n’est enregistré.');
}

export function setDefaults(today = new Date()) {
  const month = String(today.getMonth() + 1).padStart(2, '0');
  $('#annee').value ||= String(today.getFullYear());
  $('#mois').value ||= `${today.getFullYear()}-${month}`;
  $('#du').value ||= `${today.getFullYear()}-${month}-01`;
  $('#au').value ||= `${today.getFullYear()}-${month}-${String(today.getDate()).padStart(2, '0')}`;
}

function operator() {
  const id = $('#operateur').value;
  if (!id) throw new Error('Choisissez un opérateur (connectez-vous avec un compte comptable).');
  return id;
}

function required(selector, pattern, message) {
  const value = $(selector).value.trim();
  if (!pattern.test(value)) {
    $(selector).setAttribute('aria-invalid', 'true');
    $(selector).focus();
    throw new Error(message);
  }
  $(selector).removeAttribute('aria-invalid');
  return value;
}

export async function downloadFec() {
  const year = required('#annee', /^\d{4}$/, 'Indiquez l’exercice sur quatre chiffres (ex. 2026).');
  const link = await download('/accounting/fec', { operator_id: operator(), year },
    `FEC${year}1231.txt`);
  keep(link, `FEC ${year} téléchargé.`);
}

export async function downloadVat() {
  const month = required('#mois', /^\d{4}-\d{2}$/, 'Indiquez le mois au format AAAA-MM.');
  const report = await getJson('/accounting/vat', { operator_id: operator(), month });
  renderVat(report);
  const blob = new Blob([JSON.stringify(report, null, 2)], { type: 'application/json' });
  keep(saveBlob(blob, `tva-${month}.json`), `Rapport de TVA de ${month} téléchargé.`);
}

export async function downloadInvoicesCsv() {
  const from = required('#du', /^\d{4}-\d{2}-\d{2}$/, 'Indiquez la date de début.');
  const to = required('#au', /^\d{4}-\d{2}-\d{2}$/, 'Indiquez la date de fin.');
  const link = await download('/accounting/invoices.csv',
    { operator_id: operator(), from, to, dialect: 'excel-fr' }, `factures-${from}-${to}.csv`);
  keep(link, `Factures du ${from} au ${to} téléchargées.`);
}

function renderVat(report) {
  const table = document.createElement('table');
  const caption = table.createCaption();
  caption.textContent = `TVA collectée — ${report.month}`;
  const head = table.createTHead().insertRow();
  for (const [label, numeric] of [['Taux', false], ['Base HT', true], ['TVA', true]]) {
    const th = document.createElement('th');
    th.scope = 'col';
    th.textContent = label;
    if (numeric) th.className = 'montant';
    head.append(th);
  }
  const body = table.createTBody();
  for (const line of report.lines || []) {
    const row = body.insertRow();
    row.insertCell().textContent = `${String(line.rate).replace('.', ',')} %`;
    Object.assign(row.insertCell(), { textContent: euros(line.base), className: 'montant' });
    Object.assign(row.insertCell(), { textContent: euros(line.vat), className: 'montant' });
  }
  const total = table.createTFoot().insertRow();
  total.insertCell().textContent = 'Total';
  total.insertCell();
  Object.assign(total.insertCell(), { textContent: euros(report.total_vat), className: 'montant' });
  $('#tva-tableau').replaceChildren(table);
}

function keep(link, message) {
  $('#comptable-fichiers').append(link);
  announce(message);
}
