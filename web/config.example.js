// Copy to config.js next to index.html and fill in for your deployment. `make run`
// generates its own config.js (tools/web_server.py); never commit a config.js.
window.RELAIS_CONFIG = {
  // The API's base URL, stage path and /v1 included (API Gateway or a custom domain).
  apiBaseUrl: 'https://api.example.org/v1',
  // Stripe's publishable key (pk_live_... or pk_test_...), never the secret key.
  stripePublishableKey: 'pk_test_replace_me',
  // Stripe.js v3, always loaded from Stripe itself in production.
  stripeJsUrl: 'https://js.stripe.com/v3/',
  // Local mode only: shows the demo token buttons. Leave false on a real site.
  local: false,
};
