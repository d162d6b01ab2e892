// /checkpoint: staff sign in, then scan (camera where BarcodeDetector exists, or a USB scanner
// typing into the focused field, or paste). The verdict fills the screen in its colour, and the
// field is cleared and focused again at once for the next person.
"use strict";

(() => {
  const { t, api, explain, say, busy } = Passby;
  const $ = (id) => document.getElementById(id);
  /** The staff session token, in memory only. */
  let session = null;
  let camera = null;
  let lastScanned = { code: "", at: 0 };

  function ready() {
    $("code").value = "";
    $("code").focus();
  }

  function showVerdict(answer) {
    const verdict = $("verdict");
    const valid = answer.valid === true;
    verdict.className = valid ? `verdict status-${answer.status}` : "verdict invalid";
    verdict.dataset.verdict = answer.verdict;
    $("verdict-word").dataset.i18n = valid ? "checkpoint.verdict.valid" : "checkpoint.verdict.invalid";
    $("verdict-status").hidden = !valid;
    $("verdict-status").dataset.i18n = valid ? `status.${answer.status}` : "";
    $("verdict-reason").hidden = valid;
    $("verdict-reason").dataset.i18n = valid ? "" : `verdict.${answer.verdict}`;
    $("verdict-facts").hidden = !valid;
    $("verdict-name").textContent = valid ? answer.masked_name : "";
    $("verdict-id").textContent = valid ? answer.masked_id : "";
    $("verdict-group").dataset.i18n = valid ? `group.${answer.group}` : "";
    $("verdict-kind").hidden = !valid;
    $("verdict-kind").dataset.i18n = valid ? `checkpoint.verdict.kind.${answer.kind}` : "";
    Passby.apply(verdict);
    verdict.hidden = false;
  }

  async function verify(code) {
    try {
      const answer = await api("POST", "/v1/verifications", { key: session, body: { code } });
      say(null);
      showVerdict(answer);
    } catch (error) {
      $("verdict").hidden = true;
      say(explain(error));
      if (error.status === 401) logout();
    } finally {
      if (session) ready();
    }
  }

  function logout() {
    stopCamera();
    session = null;
    $("verdict").hidden = true;
    $("scan").hidden = true;
    $("login").hidden = false;
    $("login-form").reset();
    $("username").focus();
  }

  async function startCamera() {
    try {
      const stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
      const video = $("camera-view");
      video.srcObject = stream;
      video.hidden = false;
      await video.play();
      const detector = new BarcodeDetector({ formats: ["qr_code"] });
      camera = { stream, timer: setInterval(async () => {
        const found = await detector.detect(video).catch(() => []);
        const code = found[0]?.rawValue;
        // The same card held in view is verified once, not on every frame.
        if (!code || (code === lastScanned.code && Date.now() - lastScanned.at < 3000)) return;
        lastScanned = { code, at: Date.now() };
        verify(code);
      }, 250) };
      $("camera").dataset.i18n = "checkpoint.scan.camera_stop";
      Passby.apply($("scan-form"));
    } catch {
      stopCamera();
      say(t("reason.default"));
    }
  }

  function stopCamera() {
    if (!camera) return;
    clearInterval(camera.timer);
    for (const track of camera.stream.getTracks()) track.stop();
    camera = null;
    $("camera-view").hidden = true;
    $("camera").dataset.i18n = "checkpoint.scan.camera";
    Passby.apply($("scan-form"));
  }

  Passby.ready.then(() => {
    $("camera").hidden = !("BarcodeDetector" in window && navigator.mediaDevices?.getUserMedia);
    $("username").focus();

    $("login-form").addEventListener("submit", (event) => {
      event.preventDefault();
      busy(event.currentTarget, async () => {
        try {
          const created = await api("POST", "/v1/staff/sessions", {
            body: { username: $("username").value.trim(), password: $("password").value },
          });
          session = created.token;
          say(null);
          $("login-form").reset();
          $("login").hidden = true;
          $("scan").hidden = false;
          ready();
        } catch (error) {
          $("password").value = "";
          say(explain(error));
        }
      });
    });

    $("scan-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const code = $("code").value.trim();
      if (code) verify(code);
    });
    $("camera").addEventListener("click", () => (camera ? stopCamera() : startCamera()));
    $("logout").addEventListener("click", logout);
  });
})();
