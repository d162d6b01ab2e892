// /helper: a passer-by shows the health code of someone without a smartphone. The code is shown
// for its lifetime (10 s) with a countdown, then removed from the DOM with everything about it.
"use strict";

(() => {
  const { t, api, explain, say, svgImage, mask, busy, Refusal } = Passby;
  const $ = (id) => document.getElementById(id);
  /** The passer-by's real-name assertion, in memory only. */
  let assertion = null;
  let helperKey = null;
  /** The code on screen, if any: its timer and the means to remove it. */
  let shown = null;

  function signedIn(token, maskedID) {
    assertion = token;
    $("me-masked").textContent = maskedID;
    $("signin").hidden = true;
    $("signed-in").hidden = false;
    $("lookup").hidden = false;
    $("subject-id").focus();
  }

  function signOut() {
    clearCode();
    assertion = null;
    for (const form of document.querySelectorAll("form")) form.reset();
    $("signin").hidden = false;
    $("signed-in").hidden = true;
    $("lookup").hidden = true;
    say(null);
  }

  /** Removes the code and its details from the page and the DOM. */
  function clearCode() {
    if (!shown) return;
    clearInterval(shown.timer);
    shown.view.remove();
    shown.release();
    shown = null;
  }

  function showCode(answer) {
    clearCode();
    const lifetime = Math.max(1, Math.round((Date.parse(answer.expires_at) - Date.parse(answer.issued_at)) / 1000));
    const deadline = performance.now() + lifetime * 1000;
    const view = document.createElement("article");
    view.id = "code-view";
    view.className = `code-view tone-${answer.status}`;
    view.setAttribute("aria-labelledby", "code-heading");
    const heading = document.createElement("h2");
    heading.id = "code-heading";
    heading.dataset.i18n = "helper.code.heading";
    const status = document.createElement("p");
    status.className = `status status-${answer.status}`;
    status.id = "code-status";
    status.dataset.i18n = `status.${answer.status}`;
    const { img, release } = svgImage(answer.rendering.data, "helper.code.qr");
    img.className = "qr";
    img.id = "code-qr";
    const facts = document.createElement("dl");
    facts.className = "facts";
    for (const [label, value, id] of [["common.masked_name", answer.masked_name, "code-name"],
                                      ["common.masked_id", answer.masked_id, "code-id"],
                                      ["common.group", null, "code-group"]]) {
      const term = document.createElement("dt");
      term.dataset.i18n = label;
      const detail = document.createElement("dd");
      detail.id = id;
      if (value === null) detail.dataset.i18n = `group.${answer.group}`; else detail.textContent = value;
      facts.append(term, detail);
    }
    const countdown = document.createElement("p");
    countdown.className = "countdown";
    countdown.id = "countdown";
    const label = document.createElement("span");
    const bar = document.createElement("progress");
    bar.max = lifetime;
    bar.setAttribute("aria-hidden", "true");
    countdown.append(label, bar);
    view.append(heading, status, img, facts, countdown);
    Passby.apply(view);
    $("code-slot").append(view);

    const tick = () => {
      const left = Math.max(0, Math.ceil((deadline - performance.now()) / 1000));
      label.textContent = t("helper.code.countdown", { n: left });
      bar.value = left;
      if (left > 0) return;
      clearCode();
      $("subject-id").value = "";
      say(t("helper.code.gone"), "info");
    };
    shown = { view, release, timer: setInterval(tick, 200) };
    tick();
    view.scrollIntoView({ block: "start" });
  }

  Passby.onLanguage(() => {
    // Built text follows the language too; the countdown label refreshes on its next tick.
    if (!$("message").hidden && $("message").dataset.tone === "info") say(t("helper.code.gone"), "info");
  });

  /**
   * Back from the identity provider: the callback answered with this page and the ID token (or
   * the reason it failed) in a meta element. The token moves into memory, the element leaves the
   * DOM, and the callback's URL (code and state) leaves the address bar and the history entry.
   */
  function takeSignIn() {
    const handed = document.querySelector('meta[name="passby-sign-in"]');
    const masked = document.querySelector('meta[name="passby-masked-id"]');
    const failed = document.querySelector('meta[name="passby-sign-in-error"]');
    const token = handed?.content ?? null;
    const maskedID = masked?.content ?? "";
    const reason = failed?.content ?? null;
    for (const element of [handed, masked, failed]) element?.remove();
    if (location.pathname !== "/helper") history.replaceState(null, "", "/helper");
    if (token) signedIn(token, maskedID);
    else if (reason) say(explain(new Refusal(0, { reason })));
  }

  Passby.ready.then(async () => {
    try {
      const config = await api("GET", "/web/helper.json");
      helperKey = config.client_key;
      $("demo-signin").hidden = !config.development_identity_provider;
      $("provider-signin").hidden = !config.provider_sign_in;
    } catch (error) {
      say(explain(error));
    }
    takeSignIn();

    // A plain navigation: the page's policy allows no form to leave it.
    $("provider-signin-button").addEventListener("click", () => location.assign("/web/sign-in"));

    $("demo-signin").addEventListener("submit", (event) => {
      event.preventDefault();
      const form = event.currentTarget;
      busy(form, async () => {
        try {
          const minted = await api("POST", "/web/dev-idp/assertions", { body: { name: $("me-name").value, id_number: $("me-id").value } });
          say(null);
          signedIn(minted.assertion, mask($("me-id").value));
          form.reset();
        } catch (error) { say(explain(error)); }
      });
    });

    $("paste-signin").addEventListener("submit", (event) => {
      event.preventDefault();
      const token = $("assertion").value.trim();
      let masked = "";
      try {
        // Shown to the passer-by only; Passby verifies the assertion on every request.
        const claims = JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
        masked = mask(String(claims.idn ?? ""));
      } catch { say(t("reason.assertion")); return; }
      say(null);
      signedIn(token, masked);
      event.currentTarget.reset();
    });

    $("signout").addEventListener("click", signOut);

    $("lookup-form").addEventListener("submit", (event) => {
      event.preventDefault();
      busy(event.currentTarget, async () => {
        clearCode();
        try {
          const answer = await api("POST", "/v1/lookups", {
            key: helperKey, assertion,
            body: { id_number: $("subject-id").value.trim(), consent_token: $("token").value.trim(), format: "svg" },
          });
          say(null);
          $("token").value = "";
          showCode(answer);
        } catch (error) {
          // An assertion that no longer holds sends the passer-by back to sign in.
          if (error.reason.startsWith("assertion-")) signOut();
          say(explain(error));
        }
      });
    });

    $("attest-form").addEventListener("submit", (event) => {
      event.preventDefault();
      busy(event.currentTarget, async () => {
        try {
          const grant = await api("POST", "/v1/consents/attested", {
            key: helperKey, assertion,
            body: { id_number: $("attest-id").value.trim(), statement: t("helper.attest.statement") },
          });
          $("subject-id").value = $("attest-id").value.trim();
          $("token").value = grant.token;
          $("attest-id").value = "";
          $("attest").open = false;
          say(t("helper.attest.made"), "info");
          $("token").focus();
        } catch (error) { say(explain(error)); }
      });
    });
  });
})();
