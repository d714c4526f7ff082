// Small DOM helpers: one polite status line, one alert line, busy buttons.

export const $ = (selector) => document.querySelector(selector);

export function show(selector, visible) {
  $(selector).hidden = !visible;
}

/** A polite status message (read by screen readers); clears the alert. */
export function announce(message) {
  $('#alerte').textContent = '';
  $('#statut').textContent = message;
}

/** An error message (role="alert"); clears the status. */
export function fail(message) {
  $('#statut').textContent = '';
  $('#alerte').textContent = message;
}

/** Run `action` with `button` disabled; an error becomes the alert message. */
export async function busy(button, action) {
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  try {
    return await action();
  } catch (error) {
    fail(error.message || String(error));
    return undefined;
  } finally {
    button.disabled = false;
    button.removeAttribute('aria-busy');
  }
}

/** "HH:MM" of an RFC 3339 time as written (the relay's own clock time). */
export function clock(timestamp) {
  return timestamp ? String(timestamp).slice(11, 16) : '';
}

/** "HH:MM" of an instant on the visitor's clock. */
export function time(timestamp) {
  return new Date(timestamp).toLocaleTimeString('fr-FR', { hour: '2-digit', minute: '2-digit' });
}
