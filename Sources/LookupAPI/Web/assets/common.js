// Shared by every Passby page: strings, the language switch, API calls and plain-words errors.
// Nothing personal is ever written to the URL, localStorage or sessionStorage; pages keep what
// they need in memory and drop it when a task is done.
"use strict";

const Passby = (() => {
  const languages = ["zh-CN", "en"];
  let strings = {};
  let language = languages[0];
  const listeners = [];

  /** The string for `key`, with `{name}` placeholders filled from `values`. */
  function t(key, values = {}) {
    const text = strings[key] ?? key;
    return text.replace(/\{(\w+)\}/g, (_, name) => String(values[name] ?? ""));
  }

  /** Fills every `data-i18n*` attribute under `root` in the current language. */
  function apply(root = document) {
    for (const node of root.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
    for (const node of root.querySelectorAll("[data-i18n-label]")) node.setAttribute("aria-label", t(node.dataset.i18nLabel));
    for (const node of root.querySelectorAll("[data-i18n-alt]")) node.setAttribute("alt", t(node.dataset.i18nAlt));
  }

  async function use(next) {
    const response = await fetch(`/assets/i18n/${next}.json`, { cache: "no-cache" });
    strings = await response.json();
    language = next;
    document.documentElement.lang = next;
    apply();
    for (const listener of listeners) listener(next);
  }

  /** Runs `listener` after every language change (for text a page builds itself). */
  function onLanguage(listener) { listeners.push(listener); }

  /** A problem from the API, or a network failure, as an Error with a stable `reason`. */
  class Refusal extends Error {
    constructor(status, problem) {
      super(problem?.reason ?? "default");
      this.status = status;
      this.reason = problem?.reason ?? "default";
      this.field = problem?.field;
    }
  }

  /** Calls the API. Resolves with the parsed JSON body; rejects with a `Refusal`. */
  async function api(method, path, { body, key, assertion } = {}) {
    const headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (key) headers.Authorization = `Bearer ${key}`;
    if (assertion) headers["Passby-Assertion"] = assertion;
    let response;
    try {
      response = await fetch(path, {
        method, headers, body: body === undefined ? undefined : JSON.stringify(body),
        cache: "no-store", credentials: "omit", referrerPolicy: "no-referrer",
      });
    } catch {
      throw new Refusal(0, { reason: "network" });
    }
    const type = response.headers.get("Content-Type") ?? "";
    const data = type.includes("json") ? await response.json().catch(() => null) : null;
    if (!response.ok) throw new Refusal(response.status, data);
    return data;
  }

  const idNumberReasons = new Set(["length", "character", "region", "date", "future-date", "checksum"]);

  /** Plain words for a refusal: never the raw reason, status or body. */
  function explain(error) {
    const reason = error instanceof Refusal ? error.reason : "default";
    if (reason.startsWith("assertion-")) return t("reason.assertion");
    if (idNumberReasons.has(reason) || error.field === "id_number") return t("reason.id-number");
    if (strings[`reason.${reason}`]) return t(`reason.${reason}`);
    if (error.status === 503) return t("reason.service-unavailable");
    return t("reason.default");
  }

  /** Shows `text` in the page's message area (or hides it when empty). */
  function say(text, tone = "error") {
    const box = document.getElementById("message");
    box.textContent = text ?? "";
    box.dataset.tone = tone;
    box.hidden = !text;
  }

  /** An <img> showing SVG markup through a blob: URL; `release()` frees it. */
  function svgImage(svg, altKey) {
    const url = URL.createObjectURL(new Blob([svg], { type: "image/svg+xml" }));
    const img = document.createElement("img");
    img.src = url;
    img.dataset.i18nAlt = altKey;
    img.alt = t(altKey);
    return { img, release: () => URL.revokeObjectURL(url) };
  }

  /** `1101**********002X`-style masking, for showing the person who signed in. */
  function mask(idNumber) {
    const id = idNumber.replace(/\s/g, "").toUpperCase();
    return id.length > 8 ? id.slice(0, 4) + "*".repeat(id.length - 8) + id.slice(-4) : "*".repeat(id.length);
  }

  /** Disables a form's controls while `work` runs, so a double tap sends one request. */
  async function busy(form, work) {
    const controls = [...form.querySelectorAll("button, input, textarea")];
    for (const control of controls) control.disabled = true;
    form.setAttribute("aria-busy", "true");
    try { return await work(); } finally {
      for (const control of controls) control.disabled = false;
      form.removeAttribute("aria-busy");
    }
  }

  /** Resolves once the first language's strings are in place. */
  const ready = new Promise((resolve) => {
    document.addEventListener("DOMContentLoaded", async () => {
      const requested = new URLSearchParams(location.search).get("lang");
      await use(languages.includes(requested) ? requested : languages[0]);
      document.getElementById("lang").addEventListener("click", () => use(language === "en" ? "zh-CN" : "en"));
      document.body.dataset.ready = "true";
      resolve();
    });
  });

  return { ready, t, apply, api, explain, say, svgImage, mask, busy, onLanguage, Refusal, get language() { return language; } };
})();
