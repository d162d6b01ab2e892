"""The pages in a real headless Chromium (Debian's chromium and chromium-driver, through Selenium).

Starts the real `passby` binary on a throwaway data directory, sets up a guardian's consent, a
second elderly subject and a staff account through the API and the CLI, then walks each page's
main path and one refusal, in Chinese (the default) and in English. Along the way it checks
what every page promises: the code leaves the DOM when it expires, every control has a label,
text meets WCAG AA contrast, nothing personal reaches the URL or web storage, the pages fit a
360 px screen, and no request leaves passby. Screenshots go to the output directory.

Usage: pages_test.py PATH/TO/passby OUTPUT_DIR
"""

import json
import re
import shutil
import sys
import time
import urllib.request
from pathlib import Path

from live import PEOPLE, Passby, Report
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

HERE = Path(__file__).resolve().parent
STRINGS = {
    lang: json.loads((HERE.parent / "Sources/LookupAPI/Web/assets/i18n" / f"{lang}.json").read_text())
    for lang in ("zh-CN", "en")
}
GUARDIAN = PEOPLE["guardian"]
PASSERBY = PEOPLE["passerby"]
SECOND_ELDER = PEOPLE["other_elder"]

report = Report()
check = report.check


def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-default-apps", "--metrics-recording-only", "--force-device-scale-factor=1"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    service = Service(executable_path=shutil.which("chromedriver") or "/usr/bin/chromedriver")
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_window_size(360, 800)
    return driver


def wait(driver, predicate, timeout=10):
    return WebDriverWait(driver, timeout, poll_frequency=0.05).until(lambda d: predicate(d))


def visible(driver, element_id):
    elements = driver.find_elements(By.ID, element_id)
    return bool(elements) and elements[0].is_displayed()


def text(driver, element_id):
    return driver.find_element(By.ID, element_id).text.strip()


def open_page(driver, base, path):
    driver.get(base + path)
    wait(driver, lambda d: d.execute_script("return document.body.dataset.ready === 'true'"))


def fill(driver, element_id, value):
    field = driver.find_element(By.ID, element_id)
    field.clear()
    field.send_keys(value)


def screenshot(driver, out, name, width):
    height = driver.get_window_size()["height"]
    driver.set_window_size(width, max(height, 800))
    full = driver.execute_script("return Math.max(document.body.scrollHeight, 800)")
    driver.set_window_size(width, min(full + 120, 3000))
    driver.save_screenshot(str(out / f"{name}-{width}.png"))


# Run in the page: every visible control named, text contrast, width, storage.
AUDIT = r"""
const luminance = (rgb) => {
  const [r, g, b] = rgb.map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
};
const parse = (color) => (color.match(/[\d.]+/g) || []).map(Number);
const background = (node) => {
  for (let n = node; n; n = n.parentElement) {
    const c = parse(getComputedStyle(n).backgroundColor);
    if (c.length === 3 || (c.length === 4 && c[3] > 0.5)) return c.slice(0, 3);
  }
  return [255, 255, 255];
};
const shown = (n) => n.offsetParent !== null || getComputedStyle(n).position === "fixed";
const unlabelled = [...document.querySelectorAll("input, textarea, select, button, video")].filter(shown).filter((n) => {
  const name = (n.getAttribute("aria-label") || "").trim() || [...(n.labels || [])].map((l) => l.textContent.trim()).join("")
    || (n.tagName === "BUTTON" ? n.textContent.trim() : "") || (n.getAttribute("aria-labelledby") ? "x" : "");
  return !name;
}).map((n) => n.id || n.outerHTML.slice(0, 60));
const images = [...document.querySelectorAll("img")].filter((n) => !n.alt.trim()).map((n) => n.id);
const lowContrast = [];
for (const n of document.querySelectorAll("body *")) {
  if (!shown(n) || ![...n.childNodes].some((c) => c.nodeType === 3 && c.textContent.trim())) continue;
  const style = getComputedStyle(n);
  const fg = parse(style.color).slice(0, 3), bg = background(n);
  const [a, b] = [luminance(fg), luminance(bg)].sort((x, y) => y - x);
  const ratio = (a + 0.05) / (b + 0.05);
  const size = parseFloat(style.fontSize), bold = Number(style.fontWeight) >= 700;
  const needed = size >= 24 || (bold && size >= 18.66) ? 3 : 4.5;
  if (ratio < needed) lowContrast.push(`${n.tagName}#${n.id} ${ratio.toFixed(2)}`);
}
return { unlabelled, images, lowContrast, overflow: document.documentElement.scrollWidth - window.innerWidth,
         storage: localStorage.length + sessionStorage.length, url: location.href };
"""


def audit(driver, where, secrets):
    result = driver.execute_script(AUDIT)
    check(f"{where}: every visible control has a label", not result["unlabelled"], result["unlabelled"])
    check(f"{where}: every image has alternative text", not result["images"], result["images"])
    check(f"{where}: text contrast meets WCAG AA", not result["lowContrast"], result["lowContrast"])
    width = driver.execute_script("return window.innerWidth")
    check(f"{where}: no sideways scrolling at {width} px", result["overflow"] <= 0, result["overflow"])
    check(f"{where}: nothing in localStorage or sessionStorage", result["storage"] == 0)
    check(f"{where}: no personal data in the URL", not any(s in result["url"] for s in secrets), result["url"])


def helper_walk(driver, passby, out, token, secrets):
    zh, en = STRINGS["zh-CN"], STRINGS["en"]
    elder = passby.subjects["elder"]
    open_page(driver, passby.base, "/helper")
    check("/helper is Simplified Chinese by default", driver.execute_script("return document.documentElement.lang") == "zh-CN"
          and text(driver, "signin-heading") == zh["helper.signin.heading"])
    audit(driver, "/helper sign-in", secrets)
    screenshot(driver, out, "helper-signin", 360)
    driver.set_window_size(360, 800)

    fill(driver, "me-name", PASSERBY.name)
    fill(driver, "me-id", PASSERBY.id_number)
    driver.find_element(By.CSS_SELECTOR, "#demo-signin button").click()
    wait(driver, lambda d: visible(d, "lookup"))
    check("/helper: the demo sign-in shows the passer-by masked", text(driver, "me-masked") == "4403**********0514")

    fill(driver, "subject-id", elder)
    fill(driver, "token", token)
    driver.find_element(By.CSS_SELECTOR, "#lookup-form button").click()
    wait(driver, lambda d: d.execute_script("const q = document.getElementById('code-qr'); return q && q.complete && q.naturalWidth > 0"))
    appeared = time.monotonic()
    check("/helper shows the status in its colour and as a word", text(driver, "code-status") == zh["status.green"]
          and "status-green" in driver.find_element(By.ID, "code-status").get_attribute("class"))
    check("/helper shows the masked name and ID", "*" in text(driver, "code-name") and text(driver, "code-id").startswith(elder[:4])
          and elder not in driver.page_source)
    check("/helper shows a countdown", re.fullmatch(r"剩余 (10|9|8) 秒", text(driver, "countdown")) is not None, text(driver, "countdown"))
    audit(driver, "/helper with a code", secrets)
    screenshot(driver, out, "helper-code", 360)
    screenshot(driver, out, "helper-code", 1280)
    driver.set_window_size(360, 800)

    wait(driver, lambda d: not d.find_elements(By.ID, "code-view"), timeout=15)
    gone = time.monotonic() - appeared
    check(f"/helper removes the code from the DOM when it expires ({gone:.1f} s after it appeared)", 8.5 <= gone <= 11.5)
    source = driver.page_source
    check("/helper leaves no QR, masked ID or blob behind", "code-qr" not in source and "blob:" not in source
          and text(driver, "message") == zh["helper.code.gone"])

    # Refusal: the same single-use token again.
    fill(driver, "subject-id", elder)
    fill(driver, "token", token)
    driver.find_element(By.CSS_SELECTOR, "#lookup-form button").click()
    wait(driver, lambda d: text(d, "message") == zh["reason.consent-used"])
    check("/helper explains a used token in plain words", not driver.find_elements(By.ID, "code-view"))

    # On-the-spot consent: shown with its text; a child is refused, an elderly person is served.
    driver.find_element(By.CSS_SELECTOR, "#attest summary").click()
    check("/helper shows the attestation text", text(driver, "attest-statement") == zh["helper.attest.statement"])
    fill(driver, "attest-id", passby.subjects["child"])
    driver.find_element(By.CSS_SELECTOR, "#attest-form button").click()
    wait(driver, lambda d: text(d, "message") == zh["reason.guardian-consent-required"])
    check("/helper: a child needs a guardian's consent", True)
    fill(driver, "attest-id", elder)
    driver.find_element(By.CSS_SELECTOR, "#attest-form button").click()
    wait(driver, lambda d: text(d, "message") == zh["helper.attest.made"])
    driver.find_element(By.CSS_SELECTOR, "#lookup-form button").click()
    wait(driver, lambda d: d.find_elements(By.ID, "code-qr"))
    check("/helper: an attested one-time token shows the code", text(driver, "code-status") == zh["status.green"])

    # English, behind the switch.
    driver.find_element(By.ID, "lang").click()
    wait(driver, lambda d: text(d, "lookup-heading") == en["helper.lookup.heading"])
    check("/helper switches to English, the code view included", text(driver, "code-status") == en["status.green"]
          and driver.execute_script("return document.documentElement.lang") == "en")
    screenshot(driver, out, "helper-code-en", 360)
    driver.set_window_size(360, 800)


def checkpoint_walk(driver, passby, out, current, replaced, secrets):
    zh = STRINGS["zh-CN"]
    open_page(driver, passby.base, "/checkpoint")
    audit(driver, "/checkpoint sign-in", secrets)
    screenshot(driver, out, "checkpoint-login", 360)
    driver.set_window_size(360, 800)
    fill(driver, "username", "gate-1")
    fill(driver, "password", "wrong password")
    driver.find_element(By.CSS_SELECTOR, "#login-form button").click()
    wait(driver, lambda d: text(d, "message") == zh["reason.invalid-login"])
    check("/checkpoint refuses a wrong password in plain words", visible(driver, "login"))
    fill(driver, "username", "gate-1")
    fill(driver, "password", "checkpoint-password")
    driver.find_element(By.CSS_SELECTOR, "#login-form button").click()
    wait(driver, lambda d: visible(d, "scan"))
    check("/checkpoint signs staff in and focuses the scan field", driver.switch_to.active_element.get_attribute("id") == "code")

    # As a USB scanner does: the code typed into the focused field, then Enter.
    driver.switch_to.active_element.send_keys(current + Keys.ENTER)
    wait(driver, lambda d: d.find_element(By.ID, "verdict").get_attribute("data-verdict") == "valid")
    started = time.monotonic()
    wait(driver, lambda d: d.switch_to.active_element.get_attribute("id") == "code"
         and d.switch_to.active_element.get_attribute("value") == "", timeout=1)
    check("/checkpoint is ready for the next scan within a second", time.monotonic() - started < 1.0)
    check("/checkpoint shows a valid verdict with status word, masked name, ID and group",
          text(driver, "verdict-word") == zh["checkpoint.verdict.valid"] and text(driver, "verdict-status") == zh["status.green"]
          and "*" in text(driver, "verdict-name") and "*" in text(driver, "verdict-id")
          and text(driver, "verdict-group") == zh["group.elder"])
    audit(driver, "/checkpoint valid verdict", secrets)
    screenshot(driver, out, "checkpoint-valid", 360)
    screenshot(driver, out, "checkpoint-valid", 1280)
    driver.set_window_size(360, 800)

    driver.switch_to.active_element.send_keys(replaced + Keys.ENTER)
    wait(driver, lambda d: d.find_element(By.ID, "verdict").get_attribute("data-verdict") == "replaced")
    check("/checkpoint refuses a replaced card, with the reason in words",
          text(driver, "verdict-word") == zh["checkpoint.verdict.invalid"] and text(driver, "verdict-reason") == zh["verdict.replaced"]
          and not visible(driver, "verdict-name"))
    audit(driver, "/checkpoint refused verdict", secrets)
    screenshot(driver, out, "checkpoint-replaced", 360)
    screenshot(driver, out, "checkpoint-replaced", 1280)
    driver.set_window_size(360, 800)


def terminal_walk(driver, passby, out, secrets):
    zh = STRINGS["zh-CN"]
    open_page(driver, passby.base, "/terminal")
    audit(driver, "/terminal set-up", secrets)
    fill(driver, "terminal-key", passby.keys["demo-terminal"])
    driver.find_element(By.CSS_SELECTOR, "#setup-form button").click()
    wait(driver, lambda d: visible(d, "login"))
    audit(driver, "/terminal sign-in", secrets)
    screenshot(driver, out, "terminal-login", 360)
    screenshot(driver, out, "terminal-login", 1280)
    driver.set_window_size(360, 800)

    # Refusal: the card's name does not match the record.
    fill(driver, "card-id", SECOND_ELDER.id_number)
    fill(driver, "card-name", "张三")
    driver.find_element(By.CSS_SELECTOR, "#card-form button").click()
    wait(driver, lambda d: text(d, "message") == zh["reason.unknown-subject"])
    check("/terminal refuses a name that does not match, as it does an unknown person, in plain words", visible(driver, "login"))

    def sign_in():
        fill(driver, "card-id", SECOND_ELDER.id_number)
        fill(driver, "card-name", SECOND_ELDER.name)
        driver.find_element(By.CSS_SELECTOR, "#card-form button").click()
        wait(driver, lambda d: visible(d, "confirm"))

    sign_in()
    check("/terminal confirms with masked name, ID and group, and no code yet",
          "*" in text(driver, "confirm-name") and text(driver, "confirm-id").endswith("1235")
          and text(driver, "confirm-group") == zh["group.elder"] and text(driver, "confirm-code") == zh["terminal.confirm.no_code"]
          and not visible(driver, "replace"))
    audit(driver, "/terminal confirmation", secrets)
    screenshot(driver, out, "terminal-confirm", 360)
    driver.set_window_size(360, 800)
    driver.find_element(By.ID, "apply").click()
    wait(driver, lambda d: d.execute_script("const i = document.getElementById('card-image'); return i && i.complete && i.naturalWidth > 0"))
    check("/terminal applies: the printable card of version 1 is shown",
          driver.find_element(By.ID, "card-generation").get_attribute("data-generation") == "1")
    driver.execute_script("window.print = () => { window.printed = true; };")
    driver.find_element(By.ID, "print").click()
    check("/terminal's print button calls the browser's print", driver.execute_script("return window.printed === true"))
    audit(driver, "/terminal card", secrets)
    screenshot(driver, out, "terminal-card", 360)
    screenshot(driver, out, "terminal-card", 1280)
    driver.set_window_size(360, 800)
    driver.find_element(By.ID, "done-card").click()
    wait(driver, lambda d: visible(d, "login"))
    check("/terminal forgets the person when done", driver.find_element(By.ID, "card-id").get_attribute("value") == ""
          and not driver.find_elements(By.ID, "card-image"))

    sign_in()
    check("/terminal now says a code exists", text(driver, "confirm-code") == zh["terminal.confirm.has_code"].replace("{n}", "1"))
    driver.find_element(By.ID, "replace").click()
    wait(driver, lambda d: visible(d, "replace-warning"))
    check("/terminal warns that the old card stops working", text(driver, "replace-warning-text") == zh["terminal.replace.warning"])
    screenshot(driver, out, "terminal-replace-warning", 360)
    driver.set_window_size(360, 800)
    driver.find_element(By.ID, "replace-confirm").click()
    wait(driver, lambda d: visible(d, "card") and d.find_element(By.ID, "card-generation").get_attribute("data-generation") == "2")
    check("/terminal replaces: version 2", True)

    # The elder sees what was consented in their name and withdraws what still acts.
    driver.find_element(By.ID, "done-card").click()
    wait(driver, lambda d: visible(d, "login"))
    fill(driver, "card-id", passby.subjects["elder"])
    fill(driver, "card-name", "王秀英")
    driver.find_element(By.CSS_SELECTOR, "#card-form button").click()
    wait(driver, lambda d: visible(d, "confirm"))
    driver.find_element(By.ID, "show-records").click()
    wait(driver, lambda d: visible(d, "records") and d.find_elements(By.CSS_SELECTOR, "#grants-list li"))
    grants = driver.find_elements(By.CSS_SELECTOR, "#grants-list li")
    withdraw = driver.find_elements(By.CSS_SELECTOR, "#grants-list li button")
    # The guardian's two grants (one used by the helper walk) and the helper's attested one.
    check("/terminal lists the elder's three grants, one still in force with a withdraw button",
          len(grants) == 3 and len(withdraw) == 1 and withdraw[0].text == zh["terminal.records.withdraw"], [g.text for g in grants])
    masked = GUARDIAN.id_number[:4] + "**********" + GUARDIAN.id_number[-4:]
    check("/terminal names the guardian who gave two of them, masked", sum(masked in g.text for g in grants) == 2, [g.text for g in grants])
    guardians = driver.find_elements(By.CSS_SELECTOR, "#guardians-list li")
    check("/terminal lists the confirmed guardian with a remove button", len(guardians) == 1
          and guardians[0].find_element(By.TAG_NAME, "button").text == zh["terminal.records.remove"], [g.text for g in guardians])
    audit(driver, "/terminal consents and guardians", secrets)
    screenshot(driver, out, "terminal-records", 360)
    screenshot(driver, out, "terminal-records", 1280)
    driver.set_window_size(360, 800)
    withdraw[0].click()
    wait(driver, lambda d: text(d, "message") == zh["terminal.records.done"])
    wait(driver, lambda d: not d.find_elements(By.CSS_SELECTOR, "#grants-list li button"))
    check("/terminal withdraws it: no grant is left in force",
          zh["terminal.records.status.withdrawn"] in text(driver, "grants-list"), text(driver, "grants-list"))
    driver.find_element(By.ID, "done-records").click()
    wait(driver, lambda d: visible(d, "login"))
    check("/terminal forgets the lists when done", not driver.find_elements(By.CSS_SELECTOR, "#grants-list li"))


def requests_made(driver):
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def main():
    binary, out = sys.argv[1], Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.png"):
        old.unlink()
    passby = Passby(binary)
    driver = None
    try:
        # Set-up through the API and the CLI: a guardian's consent for the elder, a second
        # elderly person for the terminal, a staff account, and an offline code replaced once.
        guardian = passby.assertion(GUARDIAN)
        elder = passby.subjects["elder"]
        status, _ = passby.call("POST", "/v1/family-members", {"id_number": elder, "name": "王秀英", "relationship": "parent"},
                                key=passby.keys["demo-guardian"], assertion=guardian)
        assert status == 202, status
        passby.confirm_guardian(GUARDIAN, elder)
        status, grant = passby.call("POST", "/v1/consents", {"id_number": elder}, key=passby.keys["demo-guardian"], assertion=guardian)
        assert status == 201, grant
        status, _ = passby.call("POST", "/v1/consents", {"id_number": elder}, key=passby.keys["demo-guardian"], assertion=guardian)
        assert status == 201, status
        status, _ = passby.call("PUT", "/v1/health-statuses", [{"id_number": SECOND_ELDER.id_number, "name": SECOND_ELDER.name,
                                "status": "green", "as_of": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}],
                                key=passby.keys["demo-gateway"])
        assert status == 200, status
        passby.cli("staff", "add", "--username", "gate-1", stdin="checkpoint-password\n")
        card = {"method": "id-card", "id_number": elder, "name": "王秀英"}
        _, first = passby.call("POST", "/v1/offline-codes", card, key=passby.keys["demo-terminal"])
        _, second = passby.call("POST", "/v1/offline-codes/replace", card, key=passby.keys["demo-terminal"])
        secrets = [elder, SECOND_ELDER.id_number, PASSERBY.id_number, GUARDIAN.id_number, passby.subjects["child"], "王秀英", SECOND_ELDER.name]

        driver = browser()
        helper_walk(driver, passby, out, grant["token"], secrets)
        checkpoint_walk(driver, passby, out, second["code"], first["code"], secrets)
        terminal_walk(driver, passby, out, secrets)

        urls = requests_made(driver)
        outside = [u for u in urls if not (u.startswith(passby.base + "/") or u.startswith("blob:") or u.startswith("data:"))]
        check(f"no request leaves passby ({len(urls)} requests seen)", urls and not outside, outside[:5])
        check("no request URL carries personal data", not [u for u in urls if any(s in u for s in secrets)])
        problems = [e["message"] for e in driver.get_log("browser")
                    if "Content Security Policy" in e["message"] or "Uncaught" in e["message"]]
        check("no script error and no Content-Security-Policy violation in the console", not problems, problems[:3])
        headers = urllib.request.urlopen(passby.base + "/helper").headers
        check("pages forbid inline scripts and other origins",
              "script-src 'self'" in headers["Content-Security-Policy"] and "unsafe-inline" not in headers["Content-Security-Policy"])
    finally:
        if driver:
            driver.quit()
        passby.stop()
    print(f"screenshots in {out}")
    sys.exit(report.summary("pages"))


if __name__ == "__main__":
    main()
