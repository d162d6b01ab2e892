// /terminal: the self-service offline code. Staff enable the terminal with its key; a person
// signs in by ID card (these fields stand in for the reader) or app code, confirms it is them,
// applies or replaces, and prints the card. "Done" forgets everything about them.
"use strict";

(() => {
  const { t, api, explain, say, svgImage, busy } = Passby;
  const $ = (id) => document.getElementById(id);
  /** The terminal's client key, in memory only. */
  let terminalKey = null;
  /** How the current person signed in: the request body and the app code, in memory only. */
  let person = null;
  let view = null;
  let card = null;

  const sections = ["setup", "login", "confirm", "card"];
  function showOnly(name) {
    for (const section of sections) $(section).hidden = section !== name;
    const heading = $(name).querySelector("h1");
    heading?.setAttribute("tabindex", "-1");
    heading?.focus();
  }

  function call(path) {
    return api("POST", path, { key: terminalKey, assertion: person.assertion, body: person.body });
  }

  function renderConfirm() {
    $("confirm-name").textContent = view.masked_name;
    $("confirm-id").textContent = view.masked_id;
    $("confirm-group").textContent = t(`group.${view.group}`);
    $("confirm-code").textContent = view.has_code ? t("terminal.confirm.has_code", { n: view.generation }) : t("terminal.confirm.no_code");
    $("apply").textContent = t(view.has_code ? "terminal.apply.existing" : "terminal.apply");
    $("replace").hidden = !view.has_code;
  }

  async function signIn(body, assertion) {
    person = { body, assertion };
    try {
      view = await call("/v1/terminal/identify");
      say(null);
      renderConfirm();
      $("replace-warning").hidden = true;
      showOnly("confirm");
    } catch (error) {
      person = null;
      say(explain(error));
      if (error.status === 401 && !assertion) showOnly("setup");
    }
  }

  function forgetCard() {
    if (!card) return;
    card.release();
    card.img.remove();
    card = null;
  }

  async function issue(path) {
    try {
      const answer = await call(path);
      // The printable card is the server's, fetched with the terminal key and shown from memory.
      const response = await fetch(answer.print_url, {
        headers: { Authorization: `Bearer ${terminalKey}`, Accept: "image/svg+xml" }, cache: "no-store", credentials: "omit",
      });
      if (!response.ok) throw new Passby.Refusal(response.status, null);
      forgetCard();
      card = svgImage(await response.text(), "terminal.card.image");
      card.img.className = "card-image";
      card.img.id = "card-image";
      $("card-slot").append(card.img);
      const date = new Date(answer.expires_at).toLocaleDateString(Passby.language);
      $("card-generation").textContent = t("terminal.card.generation", { n: answer.generation, date });
      $("card-generation").dataset.generation = answer.generation;
      say(null);
      showOnly("card");
    } catch (error) {
      say(explain(error));
    }
  }

  function done() {
    forgetCard();
    person = null;
    view = null;
    for (const form of document.querySelectorAll("#login form")) form.reset();
    $("card-generation").textContent = "";
    say(null);
    showOnly("login");
  }

  Passby.onLanguage(() => { if (view && !$("confirm").hidden) renderConfirm(); });

  Passby.ready.then(() => {
    $("terminal-key").focus();
    $("setup-form").addEventListener("submit", (event) => {
      event.preventDefault();
      terminalKey = $("terminal-key").value.trim();
      event.currentTarget.reset();
      say(null);
      showOnly("login");
    });
    $("card-form").addEventListener("submit", (event) => {
      event.preventDefault();
      busy(event.currentTarget, () => signIn({ method: "id-card", id_number: $("card-id").value.trim(), name: $("card-name").value.trim() }));
    });
    $("app-form").addEventListener("submit", (event) => {
      event.preventDefault();
      busy(event.currentTarget, () => signIn({ method: "app-code" }, $("app-code").value.trim()));
    });
    $("apply").addEventListener("click", () => issue("/v1/offline-codes"));
    $("replace").addEventListener("click", () => {
      $("replace-warning").hidden = false;
      $("replace-cancel").focus();
    });
    $("replace-cancel").addEventListener("click", () => { $("replace-warning").hidden = true; $("replace").focus(); });
    $("replace-confirm").addEventListener("click", () => { $("replace-warning").hidden = true; issue("/v1/offline-codes/replace"); });
    $("print").addEventListener("click", () => window.print());
    $("done-confirm").addEventListener("click", done);
    $("done-card").addEventListener("click", done);
  });
})();
