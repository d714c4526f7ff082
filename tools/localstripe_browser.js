// Appended to localstripe's mock Stripe.js by tools/localstripe_browser.py (local only).
// confirmCardPayment(clientSecret, {payment_method: {card: cardElement}}) confirms the
// intent with the card typed in the mock Card Element, as real Stripe.js does (publishable
// key + client_secret + payment_method_data), then plays the mock's 3-D Secure dialog
// when the card asks for it.
(function () {
  // The mock's inputs only have placeholders: name them for screen readers.
  const LABELS = {
    number: 'Numéro de carte', exp_month: 'Mois d’expiration (MM)',
    exp_year: 'Année d’expiration (AA)', cvc: 'Cryptogramme (CVC)', postal_code: 'Code postal',
  };
  const mockMount = Element.prototype.mount;
  Element.prototype.mount = function (domElement) {
    mockMount.call(this, domElement);
    Object.entries(this._inputs || {}).forEach(([field, input]) => {
      input.setAttribute('aria-label', LABELS[field] || field);
      input.setAttribute('inputmode', 'numeric');
      input.setAttribute('autocomplete', 'off');
    });
  };

  const mockStripe = Stripe;
  Stripe = (apiKey, options) => {
    const stripe = mockStripe(apiKey, options);
    const mockConfirm = stripe.confirmCardPayment;
    stripe.confirmCardPayment = async (clientSecret, data) => {
      const element = data && data.payment_method && data.payment_method.card;
      if (!element || typeof element.mount !== 'function') {
        return mockConfirm(clientSecret, data);
      }
      const card = (element.value && element.value.card) || {};
      const intentId = String(clientSecret).split('_secret_')[0];
      let response;
      try {
        response = await fetch(
          `${LOCALSTRIPE_BASE_API}/v1/payment_intents/${intentId}/confirm`, {
            // No Content-Type header: a "simple" request, as the mock's own calls (localstripe
            // answers no CORS preflight); it parses the JSON body whatever the type.
            method: 'POST',
            body: JSON.stringify({
              key: apiKey,
              client_secret: clientSecret,
              payment_method_data: {
                type: 'card',
                card: {
                  number: String(card.number || '').replace(/\D/g, ''),
                  exp_month: card.exp_month || '',
                  exp_year: card.exp_year || '',
                  cvc: card.cvc || '',
                },
              },
            }),
          });
      } catch (err) {
        return {error: {type: 'api_connection_error', message: String(err)}};
      }
      const body = await response.json().catch(() => ({}));
      if (response.status !== 200 || body.error) {
        return {error: body.error || {message: `HTTP ${response.status}`}};
      }
      if (body.status === 'requires_action') {
        const result = await mockConfirm(clientSecret, data);
        const intent = result.paymentIntent;
        if (intent && intent.status === 'requires_payment_method') {  // 3-D Secure failed
          return {error: {type: 'card_error', code: 'payment_intent_authentication_failure',
                          message: 'Authentication failed.', payment_intent: intent}};
        }
        return result;
      }
      return {paymentIntent: body};
    };
    return stripe;
  };
})();
