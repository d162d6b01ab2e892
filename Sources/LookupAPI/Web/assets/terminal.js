// /terminal: the self-service offline code. Staff enable the terminal with its key; a person
// signs in by ID card (these fields stand in for the reader) or app code, confirms it is them,
// applies or replaces, and prints the card, or sees and withdraws the consents and guardians
// registered in their name. "Done" forgets everything about them.
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

  const sections = ["setup", "login", "confirm", "card", "records"];
  /** The grants and guardianships last listed, for re-rendering on a language switch. */
  let records = null;
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

  /** One list item: its text, and buttons as [label key, action]. */
  function recordItem(text, buttons) {
    const item = document.createElement("li");
    const line = document.createElement("p");
    line.textContent = text;
    item.append(line);
    if (buttons.length) {
      const actions = document.createElement("div");
      actions.className = "actions";
      for (const [key, className, action] of buttons) {
        const button = document.createElement("button");
        button.type = "button";
        button.className = className;
        button.textContent = t(key);
        button.addEventListener("click", () => act(action));
        actions.append(button);
      }
      item.append(actions);
    }
    return item;
  }

  function renderRecords() {
    const date = (value) => new Date(value).toLocaleDateString(Passby.language);
    const grants = records.grants.map((grant) => recordItem(
      t("terminal.records.grant", {
        who: grant.guardian_masked_id ? t("terminal.records.by.guardian", { id: grant.guardian_masked_id })
          : t(grant.relation === "guardian" ? "terminal.records.by.former_guardian" : `terminal.records.by.${grant.relation}`),
        until: date(grant.valid_until), uses: grant.uses, max: grant.max_uses, status: t(`terminal.records.status.${grant.status}`),
      }),
      grant.status === "active" ? [["terminal.records.withdraw", "danger", `/v1/terminal/grants/${grant.id}/withdrawal`]] : []));
    $("grants-list").replaceChildren(...grants);
    $("grants-none").hidden = grants.length > 0;
    const guardians = records.guardians.map((guardian) => recordItem(
      t("terminal.records.guardian", { id: guardian.guardian_masked_id, status: t(`terminal.records.status.${guardian.status}`) }),
      [
        ...(guardian.status === "pending" ? [["terminal.records.confirm", "", `/v1/terminal/guardianships/${guardian.id}/confirmation`]] : []),
        ["terminal.records.remove", "danger", `/v1/terminal/guardianships/${guardian.id}/removal`],
      ]));
    $("guardians-list").replaceChildren(...guardians);
    $("guardians-none").hidden = guardians.length > 0;
  }

  async function showRecords() {
    try {
      const [grants, guardians] = await Promise.all([call("/v1/terminal/grants"), call("/v1/terminal/guardianships")]);
      records = { grants: grants.grants, guardians: guardians.guardians };
      renderRecords();
      if ($("records").hidden) showOnly("records");
    } catch (error) {
      say(explain(error));
    }
  }

  /** Withdraws, confirms or removes, then lists again. */
  async function act(path) {
    try {
      await call(path);
      say(t("terminal.records.done"), "info");
      await showRecords();
    } catch (error) {
      say(explain(error));
    }
  }

  function done() {
    forgetCard();
    person = null;
    view = null;
    records = null;
    $("grants-list").replaceChildren();
    $("guardians-list").replaceChildren();
    for (const form of document.querySelectorAll("#login form")) form.reset();
    $("card-generation").textContent = "";
    say(null);
    showOnly("login");
  }

  Passby.onLanguage(() => {
    if (view && !$("confirm").hidden) renderConfirm();
    if (records && !$("records").hidden) renderRecords();
  });

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
    $("show-records").addEventListener("click", showRecords);
    $("records-back").addEventListener("click", () => { say(null); renderConfirm(); showOnly("confirm"); });
    $("done-records").addEventListener("click", done);
  });
})();
