/* futarchy pages: a little plain JavaScript, no libraries.
   - the trade form's live quote as the amount is typed (GET /web/markets/{id}/quote);
   - a proposal's prices refreshed without a reload (GET /web/proposals/{id}/live).
   Everything works without it: the forms post to the server, which answers in HTML. */
(function () {
  "use strict";

  function percent(p) { return (100 * p).toFixed(1) + "%"; }

  function liveQuote() {
    var form = document.getElementById("trade-form");
    if (!form) { return; }
    var out = document.getElementById("quote");
    var timer = null;
    var asked = 0;

    function value(name) {
      var field = form.elements[name];
      if (!field) { return ""; }
      return (field.value || "").trim();
    }

    function show(text, bad) {
      out.textContent = text;
      out.classList.toggle("bad", !!bad);
    }

    function ask() {
      var amount = value("amount");
      if (!amount) { show("Type an amount to see what it costs.", false); return; }
      var side = value("side") || "buy";
      var by = value("by") || "shares";
      var params = new URLSearchParams({ outcome: value("outcome"), side: side });
      params.set(by === "spend" ? "spend" : "shares", amount);
      var limit = value("limit");
      if (limit) { params.set("limit", limit); }
      var ticket = ++asked;
      fetch("/web/markets/" + encodeURIComponent(value("market_id")) + "/quote?" + params.toString(),
            { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (response) {
          return response.json().then(function (body) { return { ok: response.ok, body: body }; });
        })
        .then(function (answer) {
          if (ticket !== asked) { return; }  /* a newer question was asked meanwhile */
          var q = answer.body;
          if (!answer.ok) { show("Not possible: " + (q.detail || "refused"), true); return; }
          var k = q.outcome;
          var verb = q.side === "buy" ? "You pay " : "You receive ";
          show(verb + q.cash + " for " + q.shares + " " + q.outcome_name +
               " (average price " + q.average_price + " a share); its price moves from " +
               percent(q.prices_before[k]) + " to " + percent(q.prices_after[k]) + ".", false);
        })
        .catch(function () { if (ticket === asked) { show("The quote could not be fetched; the order can still be sent.", true); } });
    }

    function later() {
      window.clearTimeout(timer);
      timer = window.setTimeout(ask, 200);
    }
    form.addEventListener("input", later);
    form.addEventListener("change", later);
    if (value("amount")) { ask(); }
  }

  function livePrices() {
    var article = document.getElementById("proposal");
    if (!article || article.getAttribute("data-live") !== "on") { return; }
    var id = article.getAttribute("data-proposal");

    function set(selector, text) {
      var node = document.querySelector(selector);
      if (node && node.textContent !== text) { node.textContent = text; }
    }

    function refresh() {
      if (document.hidden) { return; }
      fetch("/web/proposals/" + encodeURIComponent(id) + "/live",
            { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (p) {
          if (!p) { return; }
          p.markets.forEach(function (m) {
            m.prices.forEach(function (price, k) { set('[data-price="' + m.id + "-" + k + '"]', percent(price)); });
            set('[data-welfare="' + m.id + '"]', m.expected_welfare.toFixed(4));
            set('[data-trades="' + m.id + '"]', String(m.trade_count));
          });
        })
        .catch(function () { /* the next tick tries again */ });
    }
    window.setInterval(refresh, 3000);
  }

  document.addEventListener("DOMContentLoaded", function () {
    liveQuote();
    livePrices();
  });
}());
