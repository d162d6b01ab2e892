"""/helper signs in through a real OpenID provider (oidc-provider-mock, from PyPI), walked in
headless Chromium: the provider's own login page, back to Passby, then a lookup.

The provider runs strictly here: clients must register (Passby gets a client id and secret, and
its one redirect URI), and every authorization request must carry a nonce. Around the walk,
the callback is attacked the ways a stranger would: no sign-in under way, a forged state, a
replayed code, a cancelled sign-in, a wrong client secret. Throughout, the ID token appears in no
URL, no web storage, no cookie and no log line.

Usage: oidc_pages_test.py PATH/TO/passby
"""

import json
import re
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx
from live import PEOPLE, Passby, Report
from oidc_test import ACR, Provider, person_claims
from pages_test import STRINGS, browser, fill, open_page, requests_made, text, visible, wait
from selenium.webdriver.common.by import By

report = Report()
check, equal = report.check, report.equal
JWT = re.compile(r"eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+")


def headless_sign_in(base, sub, cookies=None, deny=False):
    """Signs in through Passby's /web/sign-in without a browser: returns (the client with its
    cookie jar, the callback URL the provider sent back)."""
    client = httpx.Client(cookies=cookies)
    started = client.get(base + "/web/sign-in")
    assert started.status_code == 303, started.text
    authorize = started.headers["location"]
    form = {"action": "deny"} if deny else {"sub": sub}
    answer = client.post(authorize, data=form)
    assert answer.status_code in (302, 303), answer.text
    return client, started, answer.headers["location"]


def main():
    binary = sys.argv[1]
    work = Path(binary).resolve().parent.parent / "test-output" / "oidc-pages"
    work.mkdir(parents=True, exist_ok=True)
    provider = Provider(work, strict=True)
    passby = Passby(binary, start=False)
    driver = None
    try:
        callback = f"{passby.base}/web/sign-in/callback"
        client = httpx.post(f"{provider.base}/oauth2/clients", json={"redirect_uris": [callback]}).json()
        client_id = client["client_id"]
        (work / "client-secret").write_text(client["client_secret"] + "\n")
        (work / "providers.json").write_text(json.dumps([{
            "issuer": provider.metadata["issuer"], "audience": client_id, "allow_http": True,
            "claims": {"id_number": "national_id", "name": "name", "real_name_verified": {"acr": [ACR]}}}]))
        env = {"PASSBY_IDENTITY_PROVIDERS": str(work / "providers.json"), "PASSBY_DEV_IDP": "off",
               "PASSBY_WEB_OIDC_PROVIDER": provider.metadata["issuer"], "PASSBY_WEB_OIDC_CLIENT_ID": client_id,
               "PASSBY_WEB_OIDC_CLIENT_SECRET_FILE": str(work / "client-secret"), "PASSBY_WEB_OIDC_REDIRECT_URI": callback}
        passby.env.update(env)
        passby.start()

        guardian, passerby = PEOPLE["guardian"], PEOPLE["passerby"]
        provider.user("guardian", person_claims(guardian))
        provider.user("passerby", person_claims(passerby))
        elder = passby.subjects["elder"]

        # What /web/sign-in sends to the provider, and the cookie it sets.
        started = httpx.get(passby.base + "/web/sign-in")
        location = urlparse(started.headers.get("location", ""))
        query = {k: v[0] for k, v in parse_qs(location.query).items()}
        equal("/web/sign-in sends the browser to the provider's authorization endpoint (303)",
              (303, provider.metadata["authorization_endpoint"]), (started.status_code, location._replace(query="").geturl()))
        check("with the authorization-code flow, PKCE (S256), state, nonce and Passby's callback",
              query.get("response_type") == "code" and query.get("code_challenge_method") == "S256"
              and len(query.get("code_challenge", "")) == 43 and len(query.get("state", "")) >= 43 and len(query.get("nonce", "")) >= 43
              and query.get("redirect_uri") == callback and query.get("client_id") == client_id and "openid" in query.get("scope", ""), query)
        cookie = started.headers.get("set-cookie", "")
        check("its cookie is HttpOnly, SameSite=Lax, for /web/sign-in only, for 10 minutes",
              all(part in cookie for part in ("HttpOnly", "SameSite=Lax", "Path=/web/sign-in", "Max-Age=600")), cookie)
        check("and holds nothing readable: no state, nonce or verifier in the clear",
              query["state"] not in cookie and query["nonce"] not in cookie, cookie)

        # The guardian's consent, through the API, with a token from Passby's own client.
        guardian_token = provider.id_token("guardian", client_id=client_id, secret=client["client_secret"], redirect_uri=callback)
        status, _ = passby.call("POST", "/v1/family-members", {"id_number": elder, "name": "王秀英", "relationship": "parent"},
                                key=passby.keys["demo-guardian"], assertion=guardian_token)
        passby.confirm_guardian(guardian, elder)
        status, grant = passby.call("POST", "/v1/consents", {"id_number": elder}, key=passby.keys["demo-guardian"], assertion=guardian_token)
        equal("a guardian's consent for the walk (a token of the same provider)", 201, status)

        # Chromium walks /helper: the provider's login page, back to Passby, then a lookup.
        driver = browser()
        open_page(driver, passby.base, "/helper")
        wait(driver, lambda d: visible(d, "provider-signin-button"))
        check("/helper offers the provider's sign-in, and no demo sign-in", not visible(driver, "demo-signin"))
        driver.find_element(By.ID, "provider-signin-button").click()
        wait(driver, lambda d: d.current_url.startswith(provider.base))
        check("the browser is at the provider's own login page", "Authorize" in driver.page_source, driver.current_url)
        field = driver.find_element(By.NAME, "sub")
        field.send_keys("passerby")
        driver.find_element(By.XPATH, "//button[normalize-space()='Authorize']").click()
        try:
            wait(driver, lambda d: d.current_url.startswith(passby.base) and visible(d, "signed-in"))
        except Exception:
            raise SystemExit(f"not signed in at {driver.current_url}: {driver.find_element(By.TAG_NAME, 'body').text[:500]}")
        equal("back at Passby, the passer-by is signed in, the address bar says /helper", passby.base + "/helper", driver.current_url)
        equal("and the page shows the masked ID number", mask(passerby.id_number), text(driver, "me-masked"))
        leftovers = driver.execute_script(
            "return [document.querySelectorAll('meta[name^=passby-]').length, localStorage.length + sessionStorage.length, document.cookie]")
        equal("the token's meta element left the DOM; nothing in web storage; no cookie script can read", [0, 0, ""], leftovers)
        check("and the sign-in cookie is gone from the browser",
              not any(c["name"] == "passby_sign_in" for c in driver.get_cookies()), driver.get_cookies())
        fill(driver, "subject-id", elder)
        fill(driver, "token", grant["token"])
        driver.find_element(By.CSS_SELECTOR, "#lookup-form button[type=submit]").click()
        wait(driver, lambda d: visible(d, "code-qr"))
        check("a lookup with the provider's sign-in shows the code", text(driver, "code-status") != "", text(driver, "code-status"))
        driver.save_screenshot(str(work / "helper-signed-in.png"))
        urls = requests_made(driver)
        check("no URL the browser requested carries a token", not any(JWT.search(u) for u in urls), [u for u in urls if JWT.search(u)])
        check("the browser talked to Passby and the provider only",
              all(u.startswith((passby.base, provider.base, "data:", "blob:", "https://cdn.jsdelivr.net/")) for u in urls),
              [u for u in urls if not u.startswith((passby.base, provider.base))])

        # A cancelled sign-in, seen in the browser.
        driver.get(passby.base + "/helper")
        wait(driver, lambda d: visible(d, "provider-signin-button"))
        driver.find_element(By.ID, "provider-signin-button").click()
        wait(driver, lambda d: d.current_url.startswith(provider.base))
        driver.find_element(By.XPATH, "//button[normalize-space()='Deny']").click()
        wait(driver, lambda d: d.current_url.startswith(passby.base) and visible(d, "message"))
        check("a sign-in cancelled at the provider says so, and nobody is signed in",
              text(driver, "message") == STRINGS["zh-CN"]["reason.sign-in-denied"] and not visible(driver, "signed-in")
              and driver.current_url == passby.base + "/helper", text(driver, "message"))

        # The callback, attacked.
        html = {"Accept": "text/html"}
        answer = httpx.get(callback, params={"code": "x", "state": "y"}, headers=html)
        check("a callback with no sign-in under way: 400 page naming sign-in-expired, no-store",
              answer.status_code == 400 and 'content="sign-in-expired"' in answer.text and answer.headers.get("cache-control") == "no-store",
              answer.status_code)
        answer = httpx.get(callback, params={"code": "x", "state": "y"})
        equal("and for an API client, problem+json", (400, "application/problem+json", "sign-in-expired"),
              (answer.status_code, answer.headers.get("content-type"), answer.json().get("reason")))
        session, _, back = headless_sign_in(passby.base, "passerby")
        forged = urlparse(back)._replace(query="code=" + parse_qs(urlparse(back).query)["code"][0] + "&state=forged").geturl()
        answer = session.get(forged)
        equal("a callback whose state is not this browser's sign-in: 400 sign-in-state-mismatch", (400, "sign-in-state-mismatch"),
              (answer.status_code, answer.json().get("reason")))
        session, started, back = headless_sign_in(passby.base, "passerby")
        kept = started.cookies.get("passby_sign_in")
        answer = session.get(back, headers=html)
        token = re.search(r'name="passby-sign-in" content="([^"]+)"', answer.text)
        check("a headless sign-in gets the page with the ID token", answer.status_code == 200 and token is not None, answer.status_code)
        replay = httpx.get(back, cookies={"passby_sign_in": kept})
        equal("the same callback again, even with the old cookie: the provider refuses the used code (502)",
              (502, "sign-in-provider-failed"), (replay.status_code, replay.json().get("reason")))
        stranger, _, _ = headless_sign_in(passby.base, "passerby")
        answer = stranger.get(back)
        equal("someone else's callback URL in another browser: 400 sign-in-state-mismatch", (400, "sign-in-state-mismatch"),
              (answer.status_code, answer.json().get("reason")))
        session, _, back = headless_sign_in(passby.base, "passerby", deny=True)
        answer = session.get(back)
        equal("a cancelled sign-in: 403 sign-in-denied", (403, "sign-in-denied"), (answer.status_code, answer.json().get("reason")))

        # A wrong client secret: the provider refuses Passby, and the page hears it plainly.
        passby.stop_process()
        (work / "wrong-secret").write_text("not-the-secret\n")
        passby.start(PASSBY_WEB_OIDC_CLIENT_SECRET_FILE=str(work / "wrong-secret"))
        session, _, back = headless_sign_in(passby.base, "passerby")
        answer = session.get(back, headers=html)
        check("with a wrong client secret the sign-in ends in 502 sign-in-provider-failed",
              answer.status_code == 502 and 'content="sign-in-provider-failed"' in answer.text, answer.status_code)

        log = passby.log_text()
        check("no ID token, code or client secret in Passby's log",
              not JWT.search(log) and client["client_secret"] not in log and parse_qs(urlparse(back).query)["code"][0] not in log,
              JWT.findall(log)[:1])
    finally:
        if driver:
            driver.quit()
        passby.stop()
        provider.stop()
    sys.exit(report.summary("oidc-pages"))


def mask(id_number):
    return id_number[:4] + "*" * (len(id_number) - 8) + id_number[-4:]


if __name__ == "__main__":
    main()
