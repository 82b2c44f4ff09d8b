#!/usr/bin/env python3
"""The web pages in real headless Chromium, against the real `gatehouse serve` process.

Organizer flow (create an event, import holders from CSV, print a sheet whose PDF decodes back
to the issued codes, search, revoke, re-issue, pair a device), staff flow (pair a phone-sized
window, wedge-scanner input, Confirm, used/revoked/unknown codes, a double tap, a lost
connection, a revoked phone, the camera with Chromium's fake camera), reload and back after
every form, a cross-site form, and screenshots of each page at 390×844 and 1280×900 with a check
that no page is wider than its window. Screenshots go to $BROWSER_ARTIFACTS.
"""
import base64
import http.client
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.request
import re
from http.server import BaseHTTPRequestHandler, HTTPServer, ThreadingHTTPServer

import segno
from selenium import webdriver
from selenium.webdriver.chrome.service import Service as DriverService
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException, WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.common.print_page_options import PrintOptions
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

BINARY = os.environ.get("GATEHOUSE_BIN", ".build/debug/gatehouse")
# The gate's own reader (zbar and zxing-cpp with the kiosk's retries), built beside the service.
KIOSK_BINARY = os.path.join(os.path.dirname(BINARY), "gate-kiosk")
ARTIFACTS = os.environ.get("BROWSER_ARTIFACTS", "browser-artifacts")
ADMIN_TOKEN = "browser-test-admin-" + base64.b32encode(os.urandom(10)).decode().lower()
SIZES = {"phone": (390, 844), "laptop": (1280, 900)}


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Gatehouse:
    """The real service process on SQLite in a temporary folder, and its admin API."""

    def __init__(self, extra=()):
        self.folder = tempfile.mkdtemp(prefix="gatehouse-browser-")
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        environment = dict(os.environ, GATEHOUSE_ADMIN_TOKEN=ADMIN_TOKEN)
        self.log = open(os.path.join(self.folder, "service.log"), "w")
        self.process = subprocess.Popen(
            [BINARY, "serve", "--port", str(self.port), "--db", os.path.join(self.folder, "g.sqlite"), "--time-zone", "Europe/Berlin",
             *[argument.replace("{port}", str(self.port)) for argument in extra]],
            env=environment, stdout=self.log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(self.base + "/healthz", timeout=1)
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("gatehouse serve did not start")

    def api(self, method, path, body=None, token=ADMIN_TOKEN, expect=None):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("Authorization", "Bearer " + token)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                status, text = response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            status, text = error.code, error.read().decode()
        if expect is not None and status != expect:
            raise AssertionError(f"{method} {path}: {status} {text[:300]}")
        return json.loads(text) if text else {}

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=30)
        self.log.close()
        shutil.rmtree(self.folder, ignore_errors=True)


class LossyLink:
    """A proxy between the browser and the service that loses answers the way a venue's network
    does: each request matching a rule is forwarded at once (the service acts on it), then its
    answer is passed on, held back for a while, or dropped with the connection. Rules are
    (method, path pattern, [actions]); a matching request takes the next action of the first
    rule with actions left ("pass", "drop", or seconds to hold the answer), and "pass" when none
    has. Everything it
    forwards and what became of it is in `seen`."""

    def __init__(self, service):
        self.upstream = service.port
        self.rules = []
        self.seen = []
        self.lock = threading.Lock()
        link = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def relay(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                action = link.action(self.command, self.path)
                headers = {name: value for name, value in self.headers.items() if name.lower() not in ("connection", "keep-alive")}
                upstream = http.client.HTTPConnection("127.0.0.1", link.upstream, timeout=60)
                try:
                    upstream.request(self.command, self.path, body=body, headers=headers)
                    answer = upstream.getresponse()
                    content = answer.read()
                finally:
                    upstream.close()
                with link.lock:
                    link.seen.append((self.command, self.path, answer.status, action))
                if action == "drop":
                    # The service acted; its answer never reaches the browser.
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if isinstance(action, (int, float)):
                    time.sleep(action)
                self.send_response_only(answer.status, answer.reason)
                for name, value in answer.getheaders():
                    if name.lower() not in ("connection", "keep-alive", "transfer-encoding", "content-length"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                try:
                    self.wfile.write(content)
                except (BrokenPipeError, ConnectionResetError):
                    # The browser gave up waiting: an answer lost on its side.
                    self.close_connection = True

            do_GET = do_POST = do_PUT = do_DELETE = relay

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def on(self, method, pattern, actions):
        with self.lock:
            self.rules.append((method, re.compile(pattern), list(actions)))

    def clear(self):
        with self.lock:
            self.rules.clear()

    def action(self, method, path):
        with self.lock:
            for rule_method, pattern, actions in self.rules:
                if rule_method == method and pattern.search(path) and actions:
                    return actions.pop(0)
        return "pass"

    def outcomes(self, method, pattern):
        with self.lock:
            return [(status, action) for m, path, status, action in self.seen if m == method and re.search(pattern, path)]

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def browser(size, camera_file=None, admin=True):
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", f"--window-size={size[0]},{size[1]}",
                     "--lang=en-GB", "--disable-features=Translate"):
        options.add_argument(argument)
    if camera_file:
        options.add_argument("--use-fake-device-for-media-stream")
        options.add_argument("--use-fake-ui-for-media-stream")
        options.add_argument(f"--use-file-for-fake-video-capture={camera_file}")
    driver = webdriver.Chrome(options=options, service=DriverService(shutil.which("chromedriver") or "/usr/bin/chromedriver"))
    # The window's inner size is what a phone shows; --window-size sets the outer one.
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {"width": size[0], "height": size[1], "deviceScaleFactor": 1, "mobile": size[0] < 500})
    if admin:
        # The browser's own Basic sign-in, with the admin token as the password, on every request.
        driver.execute_cdp_cmd("Network.enable", {})
        credential = base64.b64encode(f"organizer:{ADMIN_TOKEN}".encode()).decode()
        driver.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": {"Authorization": "Basic " + credential}})
    driver.set_page_load_timeout(30)
    return driver


# What chromedriver says, besides "stale element", when the page a command read was replaced
# mid-command (a form's answer arriving, a reload).
PAGE_SWAPPED = ("does not belong to the document", "target frame detached")


def replaced_while_read(error):
    return isinstance(error, StaleElementReferenceException) or any(words in (error.msg or "") for words in PAGE_SWAPPED)


def wait(driver, condition, timeout=15):
    # A condition that read the page while it was being replaced is asked again, not failed;
    # any other error still fails the test at once.
    def asked_again_if_replaced(d):
        try:
            return condition(d)
        except WebDriverException as error:
            if replaced_while_read(error):
                return False
            raise

    return WebDriverWait(driver, timeout).until(asked_again_if_replaced)


def text(driver, css):
    return driver.find_element(By.CSS_SELECTOR, css).text


def body_text(driver):
    """The whole page's words, read again if the page was swapped while they were read."""
    return wait(driver, lambda d: [d.find_element(By.TAG_NAME, "body").text])[0]


class BrowserTestCase(unittest.TestCase):
    shots = []

    @classmethod
    def setUpClass(cls):
        cls.service = Gatehouse()
        os.makedirs(ARTIFACTS, exist_ok=True)

    @classmethod
    def tearDownClass(cls):
        cls.service.stop()

    def issued(self, event):
        return self.service.api("GET", f"/api/events/{event}", expect=200)["issued"]

    def shoot(self, driver, name):
        """A screenshot for the artefacts, and the check that the page is no wider than its window."""
        width, inner = driver.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
        driver.save_screenshot(os.path.join(ARTIFACTS, f"{name}.png"))
        self.assertLessEqual(width, inner, f"{name}: the page is {width} px wide in a {inner} px window")

    def submit(self, driver, form_css):
        driver.find_element(By.CSS_SELECTOR, form_css + " button").click()


class OrganizerFlow(BrowserTestCase):
    def test_an_organizer_runs_an_event_from_the_pages(self):
        driver = browser(SIZES["laptop"])
        try:
            base = self.service.base
            driver.get(base + "/admin")
            driver.find_element(By.NAME, "name").send_keys("Winter Gala")
            # Typed as the browser's date picker would fill it: in the organizer's (Berlin) time.
            driver.execute_script("arguments[0].value = '2026-12-31T20:00'", driver.find_element(By.NAME, "startsAt"))
            self.submit(driver, "form[action='/admin/events']")
            wait(driver, EC.title_contains("Winter Gala"))
            event = driver.current_url.rsplit("/", 1)[-1]
            self.assertIn("20:00", driver.page_source)
            self.assertIn("(19:00 UTC)", driver.page_source, "Berlin time, UTC beside")
            # Reload and back after the form: nothing is created twice.
            driver.refresh()
            driver.back()
            driver.forward()
            self.assertEqual(len([e for e in self.service.api("GET", "/api/events", expect=200)["events"] if e["name"] == "Winter Gala"]), 1)

            # CSV import: 20 holders, one with a bad e-mail first (refused, nothing issued), then fixed.
            folder = tempfile.mkdtemp()
            bad = os.path.join(folder, "bad.csv")
            with open(bad, "w") as handle:
                handle.write("Holder name,E-mail\nAda Lovelace,ada@example.org\nBob,not-an-address\n")
            driver.find_element(By.NAME, "holders").send_keys(bad)
            self.submit(driver, "form[action$='/import']")
            wait(driver, EC.title_contains("Import refused"))
            self.assertIn("not-an-address", driver.page_source)
            self.assertEqual(self.issued(event), 0)
            good = os.path.join(folder, "holders.csv")
            with open(good, "w") as handle:
                handle.write("Holder name,E-mail,Ticket type\n" + "\n".join(
                    f"Holder {n}{' Lovelace' if n == 7 else ''},h{n}@example.org,{'VIP' if n % 5 == 0 else 'Standard'}" for n in range(1, 21)) + "\n")
            driver.get(f"{base}/admin/events/{event}")
            driver.find_element(By.NAME, "holders").send_keys(good)
            self.submit(driver, "form[action$='/import']")
            wait(driver, EC.presence_of_element_located((By.LINK_TEXT, "Print the codes")), 30)
            self.assertIn("20 of 20 tickets issued", driver.page_source)
            driver.refresh()
            self.assertEqual(self.issued(event), 20, "reloading the import page imports nothing again")
            driver.find_element(By.LINK_TEXT, "Print the codes").click()
            wait(driver, EC.presence_of_element_located((By.ID, "print-sheet")))
            codes = [element.text for element in driver.find_elements(By.CSS_SELECTOR, ".ticket-card .code")]
            self.assertEqual(len(codes), 20)
            self.assertTrue(all("Winter Gala" in card.text for card in driver.find_elements(By.CSS_SELECTOR, ".ticket-card")))
            self.check_printed_sheet(driver, codes)
            driver.refresh()
            self.assertEqual(self.issued(event), 20)

            # Search, revoke, re-issue.
            driver.get(f"{base}/admin/events/{event}/tickets")
            search = driver.find_element(By.NAME, "q")
            search.send_keys("lovelace" + Keys.ENTER)
            wait(driver, EC.url_contains("q=lovelace"))
            rows = driver.find_elements(By.CSS_SELECTOR, "table tbody tr")
            self.assertEqual(len(rows), 1)
            rows[0].find_element(By.CSS_SELECTOR, "a").click()
            wait(driver, EC.title_contains("Ticket #7"))
            ticket = driver.current_url.rsplit("/", 1)[-1]
            driver.find_element(By.LINK_TEXT, "Revoke…").click()
            wait(driver, EC.title_contains("Revoke ticket #7?"))
            driver.find_element(By.CSS_SELECTOR, "form button.danger").click()
            wait(driver, EC.text_to_be_present_in_element((By.CSS_SELECTOR, ".notice"), "Ticket revoked"))
            driver.refresh()
            driver.back()
            self.assertEqual(self.service.api("GET", f"/api/tickets/{ticket}", expect=200)["status"], "revoked")
            driver.get(f"{base}/admin/tickets/{ticket}")
            driver.find_element(By.LINK_TEXT, "Re-issue…").click()
            driver.find_element(By.CSS_SELECTOR, "form[action$='/reissue'] button").click()
            wait(driver, EC.presence_of_element_located((By.CSS_SELECTOR, ".ticket-card .code")))
            new_code = text(driver, ".ticket-card .code")
            self.assertNotIn(new_code, codes)
            driver.refresh()
            self.assertEqual(text(driver, ".ticket-card .code"), new_code, "reload shows the same new code, no third one")
            self.assertEqual(self.service.api("GET", f"/api/tickets/{ticket}", expect=200)["status"], "unused")

            # Pair a device: the code as text and as a QR that decodes to the scanner's link.
            driver.get(f"{base}/admin/events/{event}/devices")
            driver.find_element(By.NAME, "gateId").send_keys("north-1")
            driver.find_element(By.NAME, "name").send_keys("North phone")
            self.submit(driver, "form[action$='/pairings']")
            wait(driver, EC.presence_of_element_located((By.ID, "pairing-code")))
            pairing = text(driver, "#pairing-code")
            image = os.path.join(folder, "pairing.png")
            driver.find_element(By.CSS_SELECTOR, "img.pairing-qr").screenshot(image)
            decoded = subprocess.run(["zbarimg", "--raw", "-q", image], capture_output=True, text=True).stdout.strip()
            self.assertEqual(decoded, f"{base}/scanner#pair={pairing}")
            driver.refresh()
            self.assertEqual(text(driver, "#pairing-code"), pairing, "reload shows the same code, makes no new one")
            enrolled = json.loads(urllib.request.urlopen(urllib.request.Request(
                base + "/api/enroll", data=json.dumps({"code": pairing}).encode(), headers={"Content-Type": "application/json"}), timeout=10).read())
            self.assertEqual(enrolled["gateId"], "north-1")
            driver.get(f"{base}/admin/events/{event}/devices")
            self.assertIn("North phone", driver.page_source)
            # Revoke it behind its confirmation; reload and back revoke nothing else.
            driver.find_element(By.LINK_TEXT, "Revoke…").click()
            driver.find_element(By.CSS_SELECTOR, "form button.danger").click()
            wait(driver, EC.text_to_be_present_in_element((By.CSS_SELECTOR, ".notice"), "Device revoked"))
            driver.refresh()
            driver.back()
            self.assertEqual(self.service.api("GET", "/api/scanner/session", token=enrolled["token"])["detail"][:7], "unknown")

            # Edit the event: a refusal keeps what was typed, then a save.
            driver.get(f"{base}/admin/events/{event}/edit")
            name = driver.find_element(By.NAME, "name")
            name.clear()
            name.send_keys("Winter Gala 2026")
            driver.execute_script("arguments[0].value = '2026-12-31T19:00'", driver.find_element(By.NAME, "endsAt"))
            self.submit(driver, "form[action='/admin/events/" + event + "']")
            wait(driver, EC.presence_of_element_located((By.CSS_SELECTOR, ".error")))
            self.assertIn("Ends must not be before Starts", text(driver, ".error"))
            self.assertEqual(driver.find_element(By.NAME, "name").get_attribute("value"), "Winter Gala 2026")
            driver.execute_script("arguments[0].value = '2027-01-01T02:00'", driver.find_element(By.NAME, "endsAt"))
            self.submit(driver, "form[action='/admin/events/" + event + "']")
            wait(driver, EC.title_contains("Winter Gala 2026"))
            driver.refresh()
            driver.back()
            self.assertEqual(self.service.api("GET", f"/api/events/{event}", expect=200)["endsAt"], "2027-01-01T01:00:00.000Z")
            shutil.rmtree(folder, ignore_errors=True)
        finally:
            driver.quit()

    def check_printed_sheet(self, driver, codes):
        """Chromium prints the sheet to PDF (A4); each page is rasterised at 150 dpi and every code
        decoded by the kiosk's reader, what reads the cards at the gate. (zbarimg alone, reading a
        whole page of a dozen codes in one pass, missed one random code in twenty now and then at
        150, 200 and 300 dpi alike; the kiosk reads every one.)"""
        options = PrintOptions()
        options.page_width, options.page_height = 21.0, 29.7
        pdf = base64.b64decode(driver.print_page(options))
        folder = tempfile.mkdtemp()
        path = os.path.join(folder, "sheet.pdf")
        with open(path, "wb") as handle:
            handle.write(pdf)
        shutil.copy(path, os.path.join(ARTIFACTS, "sheet.pdf"))
        subprocess.run(["pdftoppm", "-r", "150", "-gray", path, os.path.join(folder, "page")], check=True)
        pages = sorted(name for name in os.listdir(folder) if name.startswith("page"))
        read = set()
        per_page = []
        for page in pages:
            found = subprocess.run([KIOSK_BINARY, "decode", os.path.join(folder, page)], capture_output=True, text=True).stdout.split()
            per_page.append(len(found))
            read.update(found)
        shutil.rmtree(folder, ignore_errors=True)
        self.assertEqual(read, set(codes), f"decoded {len(read)} of {len(codes)} codes from {len(pages)} pages ({per_page})")
        self.assertGreaterEqual(min(per_page[:-1] or per_page), 9, f"several codes on each A4 page: {per_page}")

    def test_a_form_from_another_site_is_refused(self):
        event = self.service.api("POST", "/api/events", {"name": "Target"}, expect=201)["id"]
        evil_port = free_port()
        target = f"{self.service.base}/admin/events/{event}/tickets"

        class Evil(BaseHTTPRequestHandler):
            def do_GET(self):
                page = (f"<form id=f method=post action='{target}'><input name=count value=5></form>"
                        "<script>document.getElementById('f').submit()</script>").encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.end_headers()
                self.wfile.write(page)

            def log_message(self, *arguments):
                pass

        server = HTTPServer(("127.0.0.1", evil_port), Evil)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        driver = browser(SIZES["laptop"])
        try:
            driver.get(f"http://127.0.0.1:{evil_port}/")
            wait(driver, EC.title_contains("Refused"))
            self.assertIn("not sent from Gatehouse", driver.page_source)
            self.assertEqual(self.issued(event), 0)
        finally:
            driver.quit()
            server.shutdown()
            server.server_close()


class ListsPage(BrowserTestCase):
    def test_a_list_is_made_on_its_page_and_its_count_goes_live(self):
        event = self.service.api("POST", "/api/events", {"name": "Hall night"}, expect=201)["id"]
        tickets = self.service.api("POST", f"/api/events/{event}/tickets", {"quantity": 2}, expect=201)["tickets"]
        device = self.service.api("POST", "/api/devices", {"name": "Hall kiosk", "gateId": "hall-a", "eventId": event}, expect=201)

        def scan(ticket, direction="entry"):
            return self.service.api("POST", "/api/checkin", {"qrData": ticket["qrData"], "deviceId": device["deviceId"], "gateId": "hall-a",
                                                            "direction": direction}, token=device["token"])["result"]

        driver = browser(SIZES["laptop"])
        try:
            driver.get(f"{self.service.base}/admin/events/{event}/lists")
            self.assertIn("every gate admits every ticket type, once", driver.page_source)
            driver.find_element(By.NAME, "name").send_keys("Main hall")
            driver.find_element(By.NAME, "gates").send_keys("hall-a")
            driver.find_element(By.NAME, "capacity").send_keys("1")
            driver.find_element(By.NAME, "attention").send_keys("Child, Student")
            driver.find_element(By.CSS_SELECTOR, "select[name=entry] option[value=reentry]").click()
            self.submit(driver, "form[action$='/lists']")
            wait(driver, EC.text_to_be_present_in_element((By.CSS_SELECTOR, ".notice"), "List made."))
            self.assertIn("look: Child, Student", text(driver, "#lists"))
            made = self.service.api("GET", f"/api/events/{event}/lists", expect=200)["lists"][0]
            self.assertEqual(made["attention"], ["Child", "Student"])
            self.assertEqual(text(driver, "#lists .inside"), "0")

            # Counted in and out while the page stays open; full shows at the capacity.
            self.assertEqual(scan(tickets[0]), "valid")
            wait(driver, EC.text_to_be_present_in_element((By.CSS_SELECTOR, "#lists .inside"), "1"), 10)
            wait(driver, EC.visibility_of_element_located((By.CSS_SELECTOR, "#lists .full")), 10)
            self.assertEqual(text(driver, "#inside-total"), "1")
            self.assertEqual(scan(tickets[1]), "full")
            self.shoot(driver, "lists-full-laptop")
            self.assertEqual(scan(tickets[0], "exit"), "exit")
            wait(driver, EC.text_to_be_present_in_element((By.CSS_SELECTOR, "#lists .inside"), "0"), 10)
            wait(driver, EC.invisibility_of_element_located((By.CSS_SELECTOR, "#lists .full")), 10)

            # A lost service is said, never shown as current.
            driver.set_network_conditions(offline=True, latency=0, download_throughput=0, upload_throughput=0)
            wait(driver, EC.text_to_be_present_in_element((By.ID, "live-state"), "not updating"), 10)
        finally:
            driver.quit()


    def test_the_count_through_slow_and_flapping_connections_is_current_or_called_old(self):
        """Samples the page while the connection is slow, then flapping, with people counted in
        meanwhile: whenever it says "updates by itself", its number was the true one at some
        moment of the last 8 s the page allows (plus a second of its own check and a second of
        sampling); otherwise it says it is not updating."""
        event = self.service.api("POST", "/api/events", {"name": "Flapping hall"}, expect=201)["id"]
        tickets = self.service.api("POST", f"/api/events/{event}/tickets", {"quantity": 12}, expect=201)["tickets"]
        device = self.service.api("POST", "/api/devices", {"name": "Flap kiosk", "gateId": "hall-f", "eventId": event}, expect=201)
        self.service.api("POST", f"/api/events/{event}/lists", {"name": "Hall", "gates": ["hall-f"]}, expect=201)
        truth = [(time.monotonic(), 0)]
        samples = []

        def count_in():
            ticket = tickets[truth[-1][1]]
            before = time.monotonic()
            answer = self.service.api("POST", "/api/checkin", {"qrData": ticket["qrData"], "deviceId": device["deviceId"], "gateId": "hall-f"},
                                      token=device["token"])
            self.assertEqual(answer["result"], "valid")
            # Counted somewhere between the question and the answer: the new number from the question on.
            truth.append((before, truth[-1][1] + 1))

        def sample_for(seconds):
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                samples.append((time.monotonic(), text(driver, "#inside-total"), text(driver, "#live-state")))
                time.sleep(0.1)

        driver = browser(SIZES["laptop"])
        try:
            driver.get(f"{self.service.base}/admin/events/{event}/lists")
            wait(driver, EC.text_to_be_present_in_element((By.ID, "live-state"), "updates by itself"))
            # Slow: 6 s each way, so no call fails but none answers within its deadline.
            driver.set_network_conditions(offline=False, latency=6000, download_throughput=-1, upload_throughput=-1)
            count_in()
            started = time.monotonic()
            while "not updating" not in text(driver, "#live-state"):
                self.assertLess(time.monotonic() - started, 15, "a stalled count is called old")
                sample_for(0.2)
            self.assertIn("these are the numbers of", text(driver, "#live-state"))
            sample_for(4)
            # Flapping: up 1.2 s with 700 ms latency, down 0.8 s; counted in every few seconds.
            for cycle in range(12):
                driver.set_network_conditions(offline=False, latency=700, download_throughput=-1, upload_throughput=-1)
                sample_for(1.2)
                driver.set_network_conditions(offline=True, latency=0, download_throughput=0, upload_throughput=0)
                if cycle % 3 == 0:
                    count_in()
                sample_for(0.8)
            driver.set_network_conditions(offline=False, latency=0, download_throughput=-1, upload_throughput=-1)
            final = str(truth[-1][1])
            wait(driver, lambda d: text(d, "#inside-total") == final and "updates by itself" in text(d, "#live-state"), 15)
        finally:
            driver.quit()

        def true_between(earliest, latest):
            values = {value for at, value in truth if earliest <= at <= latest}
            values.add(next(value for at, value in reversed(truth) if at <= earliest) if truth[0][0] <= earliest else 0)
            return {str(v) for v in values}

        live = [(at, shown) for at, shown, state in samples if "updates by itself" in state]
        self.assertTrue(any("not updating" in state for _, _, state in samples))
        self.assertGreater(len(live), 20, "the page was live in the up phases too")
        for at, shown in live:
            self.assertIn(shown, true_between(at - 10, at), f"shown {shown} as current at {at - truth[0][0]:.1f} s; counted in at "
                          f"{[round(t - truth[0][0], 1) for t, _ in truth]}")


class GatesPage(BrowserTestCase):
    def test_each_device_s_light_follows_its_heartbeats_live(self):
        event = self.service.api("POST", "/api/events", {"name": "Fleet night"}, expect=201)["id"]
        kiosk = self.service.api("POST", "/api/devices", {"name": "East kiosk", "gateId": "east-1", "eventId": event}, expect=201)
        self.service.api("POST", "/api/devices", {"name": "West kiosk", "gateId": "west-1", "eventId": event}, expect=201)

        def beat(**figures):
            body = {"deviceId": kiosk["deviceId"], "gateId": "east-1", "version": "2026.12.1", "camera": "ok", "framesPerSecond": 15.0,
                    "online": True, "snapshotTickets": 10, "snapshotAgeSeconds": 1, "backlog": 0}
            body.update(figures)
            self.service.api("POST", f"/api/devices/{kiosk['deviceId']}/heartbeat", body, token=kiosk["token"], expect=204)

        beat()
        driver = browser(SIZES["laptop"])
        try:
            driver.get(f"{self.service.base}/admin/events/{event}/gates")
            row = f"tr[data-device='{kiosk['deviceId']}']"
            self.assertEqual(text(driver, row + " .state"), "ok")
            self.assertIn("1 ok, 0 to look at, 1 not working", text(driver, "#fleet-summary"), "the other kiosk never spoke: silent")
            # The camera goes: the row turns red without a reload.
            beat(camera="offline", cameraDetail="no frames for 2 s", events=[
                {"at": "2026-12-04T20:14:03.000Z", "kind": "camera_offline", "detail": "no frames for 2 s"}])
            wait(driver, EC.text_to_be_present_in_element((By.CSS_SELECTOR, row + " .state"), "camera offline"), 10)
            self.assertIn("bad", driver.find_element(By.CSS_SELECTOR, row + " .state").get_attribute("class"))
            self.assertIn("no frames for 2 s", text(driver, row + " .camera"))
            self.shoot(driver, "gates-laptop")
            driver.find_element(By.LINK_TEXT, "East kiosk").click()
            wait(driver, EC.text_to_be_present_in_element((By.CSS_SELECTOR, "main"), "Reported"))
            self.assertIn("camera offline", text(driver, "main"))
            driver.back()
            driver.set_network_conditions(offline=True, latency=0, download_throughput=0, upload_throughput=0)
            wait(driver, EC.text_to_be_present_in_element((By.ID, "live-state"), "not updating"), 12)
        finally:
            driver.quit()


    def test_the_lights_through_slow_and_flapping_connections_are_current_or_called_old(self):
        """Samples the gates page while its connection is slow, then flapping, with the kiosk's
        camera going and coming back meanwhile: whenever the page says "updates by itself", the
        light it shows was the kiosk's true state at some moment of the last 8 s the page allows
        (plus a second of its own check and a second of sampling); otherwise it says it is not
        updating."""
        event = self.service.api("POST", "/api/events", {"name": "Flapping fleet"}, expect=201)["id"]
        kiosk = self.service.api("POST", "/api/devices", {"name": "Flap kiosk", "gateId": "flap-1", "eventId": event}, expect=201)
        row = f"tr[data-device='{kiosk['deviceId']}'] .state"
        truth = [(time.monotonic(), "ok")]
        samples = []

        def beat(camera):
            before = time.monotonic()
            body = {"deviceId": kiosk["deviceId"], "gateId": "flap-1", "version": "2026.12.1", "camera": camera, "framesPerSecond": 15.0,
                    "online": True, "snapshotTickets": 10, "snapshotAgeSeconds": 1, "backlog": 0}
            self.service.api("POST", f"/api/devices/{kiosk['deviceId']}/heartbeat", body, token=kiosk["token"], expect=204)
            shown = "ok" if camera == "ok" else "camera offline"
            if truth[-1][1] != shown:
                truth.append((before, shown))

        def flip():
            beat("offline" if truth[-1][1] == "ok" else "ok")

        def sample_for(seconds):
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                samples.append((time.monotonic(), text(driver, row), text(driver, "#live-state")))
                time.sleep(0.1)

        beat("ok")
        driver = browser(SIZES["laptop"])
        try:
            driver.get(f"{self.service.base}/admin/events/{event}/gates")
            wait(driver, EC.text_to_be_present_in_element((By.ID, "live-state"), "updates by itself"))
            # Slow: 6 s each way, so no call fails but none answers within its deadline.
            driver.set_network_conditions(offline=False, latency=6000, download_throughput=-1, upload_throughput=-1)
            flip()
            started = time.monotonic()
            while "not updating" not in text(driver, "#live-state"):
                self.assertLess(time.monotonic() - started, 15, "stalled lights are called old")
                sample_for(0.2)
            self.assertIn("of ", text(driver, "#live-state"))
            sample_for(4)
            # Flapping: up 1.2 s with 700 ms latency, down 0.8 s; the camera flips every few seconds
            # and the kiosk keeps beating (never silent).
            for cycle in range(12):
                driver.set_network_conditions(offline=False, latency=700, download_throughput=-1, upload_throughput=-1)
                sample_for(1.2)
                driver.set_network_conditions(offline=True, latency=0, download_throughput=0, upload_throughput=0)
                if cycle % 3 == 0:
                    flip()
                else:
                    beat("ok" if truth[-1][1] == "ok" else "offline")
                sample_for(0.8)
            driver.set_network_conditions(offline=False, latency=0, download_throughput=-1, upload_throughput=-1)
            final = truth[-1][1]
            wait(driver, lambda d: text(d, row) == final and "updates by itself" in text(d, "#live-state"), 15)
        finally:
            driver.quit()

        def true_between(earliest, latest):
            values = {value for at, value in truth if earliest <= at <= latest}
            values.add(next((value for at, value in reversed(truth) if at <= earliest), truth[0][1]))
            return values

        live = [(at, shown) for at, shown, state in samples if "updates by itself" in state]
        self.assertTrue(any("not updating" in state for _, _, state in samples))
        self.assertGreater(len(live), 20, "the page was live in the up phases too")
        for at, shown in live:
            self.assertIn(shown, true_between(at - 10, at), f"shown {shown!r} as current at {at - truth[0][0]:.1f} s; the light changed at "
                          f"{[(round(t - truth[0][0], 1), v) for t, v in truth]}")

class DevicesPage(BrowserTestCase):
    def test_a_lane_mode_is_set_from_the_devices_page_and_the_lanes_report_shows(self):
        event = self.service.api("POST", "/api/events", {"name": "Gates night"}, expect=201)["id"]
        kiosk = self.service.api("POST", "/api/devices", {"name": "North kiosk", "gateId": "north-1", "eventId": event}, expect=201)
        driver = browser(SIZES["phone"])
        try:
            driver.get(f"{self.service.base}/admin/events/{event}/devices")
            self.assertIn("normal (no report yet)", driver.page_source)
            driver.find_element(By.CSS_SELECTOR, "form[action$='/lane-mode'] select[name=mode] option[value=locked]").click()
            self.submit(driver, "form[action$='/lane-mode']")
            wait(driver, EC.text_to_be_present_in_element((By.CSS_SELECTOR, ".notice"), "Lane mode sent"))
            self.assertIn("asked: locked (not applied yet)", driver.page_source)
            # The kiosk applies it and reports back; its key switch then puts the lane in free passage.
            report = {"deviceId": kiosk["deviceId"], "gateId": "north-1", "mode": "locked", "source": "organizer"}
            self.service.api("POST", f"/api/devices/{kiosk['deviceId']}/lane", report, token=kiosk["token"], expect=204)
            driver.refresh()
            self.assertIn("locked (set by you)", driver.page_source)
            self.service.api("POST", f"/api/devices/{kiosk['deviceId']}/lane", dict(report, mode="free", source="key_switch"),
                             token=kiosk["token"], expect=204)
            driver.refresh()
            self.assertIn("free (set by the key switch); asked: locked", driver.page_source)
            self.assertNotIn("not applied yet", driver.page_source)
            self.shoot(driver, "devices-lane-phone")
        finally:
            driver.quit()


class Accounts(BrowserTestCase):
    """People with accounts: signing in and out, a session that ends, and what each role may open."""

    PASSWORD = "a long enough password"

    def account(self, email, role, events=()):
        return self.service.api("POST", "/api/accounts", {"email": email, "role": role, "eventIds": list(events), "password": self.PASSWORD},
                                expect=201)["account"]

    def sign_in(self, driver, email):
        wait(driver, EC.visibility_of_element_located((By.CSS_SELECTOR, "form[action='/signin'] input[name=email]")))
        driver.find_element(By.CSS_SELECTOR, "input[name=email]").send_keys(email)
        driver.find_element(By.CSS_SELECTOR, "input[name=password]").send_keys(self.PASSWORD + Keys.ENTER)

    def test_an_organizer_signs_in_and_out_and_an_idle_session_ends(self):
        event = self.service.api("POST", "/api/events", {"name": "Signed-in gala"}, expect=201)["id"]
        self.account("olga@example.org", "organizer")
        driver = browser(SIZES["laptop"], admin=False)
        try:
            # A page asked for without a session: the sign-in page, then that page.
            driver.get(f"{self.service.base}/admin/events/{event}")
            wait(driver, EC.url_contains("/signin?next="))
            self.shoot(driver, "signin-laptop")
            self.sign_in(driver, "Olga@Example.org")
            wait(driver, EC.url_to_be(f"{self.service.base}/admin/events/{event}"))
            self.assertIn("Signed-in gala", driver.page_source)
            cookie = driver.get_cookie("gatehouse_session")
            self.assertTrue(cookie["httpOnly"] and cookie["sameSite"] == "Lax", cookie)
            # Sign out from the menu: back at the sign-in page, and the pages are closed again.
            driver.find_element(By.CSS_SELECTOR, "form.signout button").click()
            wait(driver, EC.url_to_be(f"{self.service.base}/signin"))
            driver.get(f"{self.service.base}/admin")
            wait(driver, EC.url_contains("/signin?next=/admin"))
            # Signed in again, then idle past two hours (the clock moved in the database): it ends.
            self.sign_in(driver, "olga@example.org")
            wait(driver, EC.url_to_be(f"{self.service.base}/admin"))
            with sqlite3.connect(os.path.join(self.service.folder, "g.sqlite")) as db:
                db.execute("UPDATE sessions SET seen_at = seen_at - 3 * 3600 * 1000")
            driver.get(f"{self.service.base}/admin/events/{event}/checkins")
            wait(driver, EC.url_contains("/signin?next=/admin/events/"))
            self.assertIsNotNone(driver.find_element(By.CSS_SELECTOR, "input[type=password]"))
        finally:
            driver.quit()

    def test_a_steward_pairs_the_scanner_signed_in_and_opens_no_organizer_page(self):
        event = self.service.api("POST", "/api/events", {"name": "Steward night"}, expect=201)["id"]
        self.account("stan@example.org", "steward", [event])
        driver = browser((390, 844), admin=False)
        try:
            driver.get(f"{self.service.base}/signin")
            self.sign_in(driver, "stan@example.org")
            wait(driver, EC.url_to_be(f"{self.service.base}/scanner"))
            wait(driver, EC.visibility_of_element_located((By.ID, "staff-pair")))
            self.assertIn("Signed in as stan@example.org (steward)", text(driver, "#staff-who"))
            driver.find_element(By.ID, "staff-gate").send_keys("door-7")
            self.submit(driver, "#staff-pair")
            wait(driver, EC.text_to_be_present_in_element((By.ID, "whoami"), "stan@example.org"))
            self.assertIn("door-7", text(driver, "#whoami"))
            self.shoot(driver, "scanner-signed-in-phone")
            driver.get(f"{self.service.base}/admin/events/{event}")
            self.assertIn("Not allowed", driver.page_source)
            self.assertIn("the steward role may not do this", driver.page_source)
        finally:
            driver.quit()

    def test_the_box_office_reissues_a_ticket_but_cannot_revoke_a_device(self):
        event = self.service.api("POST", "/api/events", {"name": "Box office day"}, expect=201)["id"]
        ticket = self.service.api("POST", f"/api/events/{event}/tickets", {"quantity": 1, "holderName": "Ada"}, expect=201)["tickets"][0]
        device = self.service.api("POST", "/api/devices", {"name": "North", "gateId": "north-1", "eventId": event}, expect=201)["deviceId"]
        self.account("bea@example.org", "boxoffice", [event])
        driver = browser(SIZES["phone"], admin=False)
        try:
            driver.get(f"{self.service.base}/admin/tickets/{ticket['id']}/reissue")
            self.sign_in(driver, "bea@example.org")
            wait(driver, EC.url_contains(f"/admin/tickets/{ticket['id']}/reissue"))
            self.submit(driver, f"form[action='/admin/tickets/{ticket['id']}/reissue']")
            wait(driver, EC.url_contains("/sheets/"))
            self.assertNotEqual(ticket["qrData"], "", "a sheet with the new code")
            self.assertNotIn(ticket["qrData"], driver.page_source, "the old code is not the new one")
            driver.get(f"{self.service.base}/admin/devices/{device}/revoke")
            self.assertIn("Not allowed", driver.page_source)
            self.assertIn("box office role may not do this", driver.page_source)
            trail = self.service.api("GET", f"/api/events/{event}/audit", expect=200)["entries"]
            self.assertTrue(any(e["actor"] == "bea@example.org" and e["action"] == "ticket re-issued" for e in trail), trail)
        finally:
            driver.quit()


    def through_a_lossy_link(self, size=SIZES["phone"]):
        link = LossyLink(self.service)
        self.addCleanup(link.stop)
        driver = browser(size, admin=False)
        self.addCleanup(driver.quit)
        return link, driver

    def test_a_hand_check_in_through_slow_lost_and_flapping_connections_says_what_happened(self):
        """The box office's button through a slow answer, a lost one (then a reload, which sends
        the same form again), and answers lost twice in a row: each ticket is checked in once
        and every page that answers says so; none says it was not."""
        event = self.service.api("POST", "/api/events", {"name": "Lossy box office"}, expect=201)["id"]
        tickets = self.service.api("POST", f"/api/events/{event}/tickets", {"quantity": 3, "holderName": "Lin"}, expect=201)["tickets"]
        self.account("lin@example.org", "boxoffice", [event])
        link, driver = self.through_a_lossy_link()
        driver.get(f"{link.base}/signin")
        self.sign_in(driver, "lin@example.org")
        wait(driver, EC.url_contains("/admin"))
        button = "form[action$='/checkin'] button"

        def click_check_in(ticket):
            driver.get(f"{link.base}/admin/tickets/{ticket['id']}")
            driver.find_element(By.CSS_SELECTOR, button).click()

        def answered(d):
            heading = d.find_elements(By.CSS_SELECTOR, "h1")
            return heading and heading[0].text in ("Checked in", "Already checked in", "Not checked in")

        def committed(ticket):
            log = self.service.api("GET", f"/api/events/{event}/checkins", expect=200)["checkins"]
            return len([c for c in log if c["result"] == "valid" and c.get("ticketNumber") == ticket["number"]])

        # Slow: the answer held 8 s; the page waits for it and says what the service did.
        link.on("POST", r"/checkin$", [8])
        started = time.monotonic()
        click_check_in(tickets[0])
        wait(driver, answered, 30)
        self.assertGreater(time.monotonic() - started, 7.5)
        self.assertEqual(text(driver, "h1"), "Checked in")
        self.assertEqual(committed(tickets[0]), 1)

        def until_answered(ticket):
            """What staff do when the browser shows its own error instead of an answer: reload,
            which sends the same form again. (Chromium itself sends a form again when a kept-alive
            connection closes without an answer; that resend must be the same check-in too.)"""
            for _ in range(5):
                try:
                    wait(driver, answered, 4)
                    return
                except TimeoutException:
                    self.assertNotIn("checked in", body_text(driver).lower(),
                                     "while no answer came, the browser's own error, no word of ours")
                    driver.refresh()
            wait(driver, answered, 30)

        # Lost: the service checked the ticket in, the browser got nothing; the form sent again
        # is answered with the first decision.
        link.on("POST", r"/checkin$", ["drop"])
        click_check_in(tickets[1])
        until_answered(tickets[1])
        self.assertEqual(text(driver, "h1"), "Checked in", body_text(driver))
        sent = link.outcomes("POST", f"{tickets[1]['id']}/checkin$")
        self.assertEqual(sent, [(200, "drop"), (200, "pass")], "the service acted on the lost request, then answered the same form again")
        self.assertEqual(committed(tickets[1]), 1, "the form sent again is the same check-in")
        # Back on the ticket's page (loaded again): it says where the holder went in, and offers
        # no second check-in.
        driver.get(f"{link.base}/admin/tickets/{tickets[1]['id']}")
        self.assertIn("at box-office", text(driver, "main"))
        self.assertEqual(driver.find_elements(By.CSS_SELECTOR, button), [])

        # Flapping: two answers lost in a row, then one that arrives.
        link.on("POST", r"/checkin$", ["drop", "drop"])
        click_check_in(tickets[2])
        until_answered(tickets[2])
        self.assertEqual(text(driver, "h1"), "Checked in")
        self.assertEqual(link.outcomes("POST", f"{tickets[2]['id']}/checkin$"), [(200, "drop"), (200, "drop"), (200, "pass")])
        self.assertEqual(committed(tickets[2]), 1)
        log = self.service.api("GET", f"/api/events/{event}/checkins", expect=200)["checkins"]
        self.assertEqual(len(log), 3, f"one row per ticket, none for a form sent again: {log}")

    def test_pair_as_me_through_slow_lost_and_flapping_connections_pairs_one_phone(self):
        """Pair as me whose answers come too late, are lost every time, or are lost once: the
        phone ends paired with the one device the service made for it, or says it does not know
        and, asked again, gets that same device."""
        event = self.service.api("POST", "/api/events", {"name": "Lossy stewards"}, expect=201)["id"]
        self.account("sam@example.org", "steward", [event])

        def devices(gate):
            found = self.service.api("GET", f"/api/events/{event}/devices", expect=200)["devices"]
            return [d["deviceId"] for d in found if d["gateId"] == gate and not d.get("revoked")]

        def pair_as_me(driver, link, gate):
            driver.get(f"{link.base}/scanner")
            wait(driver, EC.visibility_of_element_located((By.ID, "staff-pair")))
            field = driver.find_element(By.ID, "staff-gate")
            field.clear()
            field.send_keys(gate)
            self.submit(driver, "#staff-pair")

        def paired(driver, gate):
            wait(driver, EC.text_to_be_present_in_element((By.ID, "whoami"), gate), 40)

        link, driver = self.through_a_lossy_link()
        driver.get(f"{link.base}/signin")
        self.sign_in(driver, "sam@example.org")
        wait(driver, EC.url_to_be(f"{link.base}/scanner"))

        # Slow: the first answer comes after the page's 6 s deadline; it asks again for the same
        # pairing and gets the device the first ask made.
        link.on("POST", r"^/api/scanner/pair$", [9])
        pair_as_me(driver, link, "slow-gate")
        paired(driver, "slow-gate")
        self.assertEqual(len(devices("slow-gate")), 1, "one device, however many asks")
        self.assertEqual([status for status, _ in link.outcomes("POST", "/api/scanner/pair$")], [201, 200])

        # Lost every time: the phone says it does not know, never that it was not paired; the
        # press that follows gets the device the lost asks made.
        driver.execute_script("localStorage.clear()")
        # (Chromium itself sends a request again when a kept-alive connection closes without an
        # answer, so one ask may meet two drops.)
        link.on("POST", r"^/api/scanner/pair$", ["drop"] * 12)
        pair_as_me(driver, link, "lost-gate")
        try:
            wait(driver, EC.text_to_be_present_in_element((By.ID, "pair-error"), "Not known whether this phone was paired"), 60)
        except TimeoutException:
            self.fail(f"status {text(driver, '#staff-status')!r}, error {text(driver, '#pair-error')!r}, link {link.seen[-8:]}")
        link.clear()
        lost = link.outcomes("POST", "/api/scanner/pair$")[2:]
        self.assertGreaterEqual(len(lost), 4, "asked four times")
        self.assertEqual(lost, [(201, "drop")] + [(200, "drop")] * (len(lost) - 1), "one device made, its answer lost each time")
        made = devices("lost-gate")
        self.assertEqual(len(made), 1, "the lost asks made one device")
        self.submit(driver, "#staff-pair")
        paired(driver, "lost-gate")
        self.assertEqual(devices("lost-gate"), made, "and the phone holds that one")
        token = driver.execute_script("return JSON.parse(localStorage.getItem('gatehouse.scanner')).token")
        self.service.api("GET", "/api/scanner/session", token=token, expect=200)

        # Flapping: one answer lost, the next passed.
        driver.execute_script("localStorage.clear()")
        link.on("POST", r"^/api/scanner/pair$", ["drop", "pass"])
        pair_as_me(driver, link, "flap-gate")
        paired(driver, "flap-gate")
        self.assertEqual(len(devices("flap-gate")), 1)
        trail = self.service.api("GET", f"/api/events/{event}/audit", expect=200)["entries"]
        self.assertEqual(len([e for e in trail if e["action"] == "scanner paired by a signed-in steward"]), 3, "each phone's pairing audited once")

class ScannerCase(BrowserTestCase):
    """A paired phone's helpers: an event with tickets, pairing, a wedge scanner, the status."""

    def setUp(self):
        self.event = self.service.api("POST", "/api/events", {"name": "Door test"}, expect=201)["id"]
        made = self.service.api("POST", f"/api/events/{self.event}/tickets",
                                {"quantity": 1, "holderName": "Grace Hopper", "email": "grace@example.org", "ticketType": "VIP"}, expect=201)
        self.ticket = made["tickets"][0]
        self.others = self.service.api("POST", f"/api/events/{self.event}/tickets", {"quantity": 3}, expect=201)["tickets"]

    def pair(self, driver, gate="door-1"):
        code = self.service.api("POST", "/api/pairings", {"eventId": self.event, "gateId": gate}, expect=201)["code"]
        driver.get(self.service.base + "/scanner")
        field = wait(driver, EC.visibility_of_element_located((By.ID, "pair-code")))
        field.send_keys(code + Keys.ENTER)
        wait(driver, EC.visibility_of_element_located((By.ID, "code")))
        wait(driver, EC.text_to_be_present_in_element((By.ID, "whoami"), "Door test"))

    def wedge(self, driver, code):
        """A keyboard-wedge scanner: the code's characters and Enter, into whatever has the focus."""
        driver.switch_to.active_element.send_keys(code + Keys.ENTER)

    def status(self, driver, words, timeout=15):
        try:
            wait(driver, EC.text_to_be_present_in_element((By.ID, "status"), words), timeout)
        except TimeoutException:
            self.fail(f"the status never said '{words}'; it says: {text(driver, '#status')!r}")
        return text(driver, "#status")


class StaffFlow(ScannerCase):
    def test_staff_check_in_at_a_phone(self):
        driver = browser((360, 740), admin=False)
        try:
            self.pair(driver)
            self.shoot(driver, "scanner-ready-360")
            self.wedge(driver, self.ticket["qrData"])
            shown = self.status(driver, "Valid")
            self.assertIn("Grace Hopper", shown)
            self.assertIn("#1", shown)
            self.assertTrue(driver.find_element(By.ID, "confirm").is_displayed())
            self.assertEqual(self.service.api("GET", f"/api/tickets/{self.ticket['id']}", expect=200)["status"], "unused", "validate only")
            driver.find_element(By.ID, "details").click()
            wait(driver, EC.text_to_be_present_in_element((By.ID, "detail-box"), "grace@example.org"))
            self.shoot(driver, "scanner-valid-360")
            # A double tap on Confirm admits once.
            confirm = driver.find_element(By.ID, "confirm")
            driver.execute_script("arguments[0].click(); arguments[0].click();", confirm)
            self.status(driver, "Checked in")
            log = self.service.api("GET", f"/api/events/{self.event}/checkins", expect=200)["checkins"]
            self.assertEqual(len([c for c in log if c["mode"] == "commit" and c["result"] == "valid"]), 1)
            self.assertEqual(self.service.api("GET", f"/api/tickets/{self.ticket['id']}", expect=200)["status"], "used")

            driver.find_element(By.ID, "next").click()
            self.wedge(driver, self.ticket["qrData"])
            used = self.status(driver, "Already used at door-1")
            self.assertFalse(driver.find_element(By.ID, "confirm").is_displayed())
            self.shoot(driver, "scanner-used-360")
            self.assertIn("Grace Hopper", used)

            self.service.api("POST", f"/api/tickets/{self.others[0]['id']}/revoke", expect=200)
            self.wedge(driver, self.others[0]["qrData"])
            self.status(driver, "Revoked")
            self.assertFalse(driver.find_element(By.ID, "confirm").is_displayed())
            self.wedge(driver, f"GH:{self.event}:AAAAAAAAAAAAAAAAAAAAAAAAAA")
            self.status(driver, "Unknown ticket")
            self.wedge(driver, "https://example.org/not-a-ticket")
            self.status(driver, "Not a ticket")

            # A lost connection: said plainly, and the last green is gone from the screen.
            self.wedge(driver, self.others[1]["qrData"])
            self.status(driver, "Valid")
            driver.set_network_conditions(offline=True, latency=0, download_throughput=0, upload_throughput=0)
            self.wedge(driver, self.others[2]["qrData"])
            wait(driver, EC.visibility_of_element_located((By.ID, "offline")))
            self.status(driver, "No connection")
            self.assertNotIn("Valid", text(driver, "#status"))
            self.assertFalse(driver.find_element(By.ID, "confirm").is_displayed())
            self.shoot(driver, "scanner-offline-360")
            driver.set_network_conditions(offline=False, latency=0, download_throughput=-1, upload_throughput=-1)
            self.wedge(driver, self.others[2]["qrData"])
            self.status(driver, "Valid")
            self.assertFalse(driver.find_element(By.ID, "offline").is_displayed())

            # Revoking the phone signs it out.
            session = json.loads(driver.execute_script("return localStorage.getItem('gatehouse.scanner')"))
            self.service.api("POST", f"/api/devices/{session['deviceId']}/revoke", expect=200)
            self.wedge(driver, self.others[2]["qrData"])
            wait(driver, EC.visibility_of_element_located((By.ID, "pair-error")))
            self.assertIn("signed out", text(driver, "#pair-error"))
            self.assertIsNone(driver.execute_script("return localStorage.getItem('gatehouse.scanner')"))
        finally:
            driver.quit()

    def test_the_camera_reads_a_ticket(self):
        folder = tempfile.mkdtemp()
        video = os.path.join(folder, "ticket.y4m")
        write_y4m(video, self.ticket["qrData"])
        driver = browser((390, 844), camera_file=video, admin=False)
        try:
            self.pair(driver, gate="camera-gate")
            driver.find_element(By.ID, "camera").click()
            shown = self.status(driver, "Valid", timeout=40)
            self.assertIn("Grace Hopper", shown)
            self.shoot(driver, "scanner-camera-390")
            driver.find_element(By.ID, "confirm").click()
            self.status(driver, "Checked in")
        finally:
            driver.quit()
            shutil.rmtree(folder, ignore_errors=True)


class WhatTheDoorSaw(ScannerCase):
    """Issue #24: what the staff scanner says when answers are slow, lost or never come, bursts
    from a wedge scanner, signing out, the service worker, and the cards of a printed sheet."""

    def slow(self, driver, latency_ms):
        driver.set_network_conditions(offline=False, latency=latency_ms, download_throughput=-1, upload_throughput=-1)

    def normal(self, driver):
        driver.set_network_conditions(offline=False, latency=0, download_throughput=-1, upload_throughput=-1)

    def confirm_and_watch(self, driver, until, timeout, button="confirm"):
        """Clicks Confirm (or `button`) and collects every text the status shows until `until` is in it."""
        seen = []
        driver.find_element(By.ID, button).click()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            shown = text(driver, "#status")
            if not seen or seen[-1] != shown:
                seen.append(shown)
            if until in shown:
                return seen
            time.sleep(0.1)
        self.fail(f"never '{until}'; the status said: {seen}")

    def test_a_confirm_whose_answer_is_lost_is_asked_again_never_called_nothing(self):
        driver = browser((360, 740), admin=False)
        try:
            self.pair(driver)
            self.wedge(driver, self.ticket["qrData"])
            self.status(driver, "Valid")
            # 7 s each way: the first commit's 6 s deadline passes, its answer is lost; the page
            # asks again with the same scanId and learns the first decision.
            self.slow(driver, 7000)
            seen = self.confirm_and_watch(driver, "Checked in", 45)
            self.assertTrue(any("Checking" in s for s in seen), f"'checking' meanwhile: {seen}")
            self.assertFalse(any("nothing was checked in" in s.lower() for s in seen), f"never 'nothing was checked in': {seen}")
            log = self.service.api("GET", f"/api/events/{self.event}/checkins", expect=200)["checkins"]
            self.assertEqual(len([c for c in log if c["mode"] == "commit" and c["result"] == "valid"]), 1, "committed once")
            self.normal(driver)
            # No connection at all during Confirm: said exactly that it is not known.
            driver.find_element(By.ID, "next").click()
            self.wedge(driver, self.others[0]["qrData"])
            self.status(driver, "Valid")
            # The check-in calls fail from here on (the service itself still answers its health).
            driver.execute_cdp_cmd("Network.enable", {})
            driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["*/api/checkin"]})
            seen = self.confirm_and_watch(driver, "Not known whether #2", 40)
            self.assertIn("a second scan will say", seen[-1])
            self.assertFalse(any("nothing was checked in" in s.lower() for s in seen), f"{seen}")
            driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": []})
            # The second scan says.
            self.wedge(driver, self.others[0]["qrData"])
            shown = self.status(driver, "#2")
            self.assertTrue("Valid" in shown or "Already used" in shown, shown)
        finally:
            driver.quit()

    def flap(self, driver, button, up, down, latency_ms, cycles, cut, endings):
        """Presses `button` while the connection goes up and down (`cut`: the phone's network, or
        only the check-in and undo calls, which leaves the page thinking it is online), then
        waits for one of `endings`; returns every text the status showed."""
        seen = []

        def note():
            shown = text(driver, "#status")
            if not seen or seen[-1] != shown:
                seen.append(shown)

        def offline():
            if cut == "network":
                driver.set_network_conditions(offline=True, latency=0, download_throughput=0, upload_throughput=0)
            else:
                driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["*/api/checkin*"]})

        def online():
            self.slow(driver, latency_ms)
            if cut != "network":
                driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": []})

        driver.execute_cdp_cmd("Network.enable", {})
        # The phone offline at the click would clear the screen first (and hide the button):
        # those drops begin with the call on its way; blocked calls fail from the click.
        online()
        if cut != "network":
            offline()
        driver.find_element(By.ID, button).click()
        # Each cycle begins in the state the click left: up for the network, blocked for calls.
        phases = ((True, up), (False, down)) if cut == "network" else ((False, down), (True, up))
        for _ in range(cycles):
            for connected, seconds in phases:
                online() if connected else offline()
                deadline = time.monotonic() + seconds
                while time.monotonic() < deadline:
                    note()
                    time.sleep(0.05)
        online()
        self.normal(driver)
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline and not any(words in seen[-1] for words in endings):
            note()
            time.sleep(0.1)
        return seen

    def assert_told_once(self, seen, says_done):
        """Once the status said it was done, it never says "not known" after."""
        told = next((i for i, s in enumerate(seen) if says_done(s)), None)
        if told is not None:
            self.assertFalse(any("Not known" in s for s in seen[told:]), f"a done is not taken back: {seen}")

    def flapping_confirm(self, driver, ticket, number, up, down, latency_ms, cycles, cut="network"):
        """Confirms `ticket` through a flapping connection; checks that the page ends in one of
        the two truthful answers and that the log agrees with it."""
        self.wedge(driver, ticket["qrData"])
        self.status(driver, "Valid")
        seen = self.flap(driver, "confirm", up, down, latency_ms, cycles, cut, ("Checked in", "was checked in", "Not known whether"))
        final = seen[-1]
        print(f"\n  flapping Confirm of #{number}, the status said: {seen}", file=sys.stderr)
        log = self.service.api("GET", f"/api/events/{self.event}/checkins", expect=200)["checkins"]
        committed = len([c for c in log if c["mode"] == "commit" and c["result"] == "valid" and c.get("ticketNumber") == number])
        self.assertLessEqual(committed, 1, f"committed {committed} times")
        self.assertFalse(any("nothing was checked in" in s.lower() or "was not checked in" in s.lower() for s in seen),
                         f"the Confirm was sent, so never 'not checked in': {seen}")

        def says_checked_in(shown):
            # "Not known whether #2 was checked in" names the words too, and says the opposite.
            return ("Checked in" in shown or "was checked in" in shown) and "Not known" not in shown

        self.assert_told_once(seen, says_checked_in)
        if says_checked_in(final):
            self.assertEqual(committed, 1, f"'{final}' shown with {committed} commits in the log")
        else:
            self.assertIn("Not known whether", final, f"one of the two truthful endings: {seen}")
            # The second scan says which (the 'Not known' text names the ticket too: wait for
            # the answer itself).
            self.wedge(driver, ticket["qrData"])
            wait(driver, lambda d: any(words in text(d, "#status") for words in ("Valid", "Already used")), 15)
            shown = text(driver, "#status")
            self.assertIn("Already used" if committed else "Valid", shown)
            self.assertIn(f"#{number}", shown)
        done = driver.find_element(By.ID, "next")
        if done.is_displayed():
            done.click()

    def test_a_confirm_through_a_flapping_connection_ends_in_one_truthful_answer(self):
        driver = browser((360, 740), admin=False)
        try:
            self.pair(driver)
            # The phone's network going up and down from just after the click; then the check-in
            # calls failing and passing in short windows, the page's retries landing in and out
            # of them.
            self.flapping_confirm(driver, self.ticket, 1, up=1.0, down=0.6, latency_ms=700, cycles=8)
            self.flapping_confirm(driver, self.others[0], 2, up=0.3, down=0.9, latency_ms=0, cycles=10, cut="calls")
        finally:
            self.normal(driver)
            driver.quit()

    def test_a_shown_check_in_is_not_unsaid_when_the_connection_drops(self):
        driver = browser((360, 740), admin=False)
        try:
            self.pair(driver)
            self.wedge(driver, self.ticket["qrData"])
            self.status(driver, "Valid")
            driver.find_element(By.ID, "confirm").click()
            self.status(driver, "Checked in")
            driver.set_network_conditions(offline=True, latency=0, download_throughput=0, upload_throughput=0)
            shown = self.status(driver, "was checked in", timeout=8)
            self.assertNotIn("nothing was checked in", shown.lower())
            self.assertNotIn("valid", driver.find_element(By.ID, "status").get_attribute("class"), "the green is cleared")
            self.normal(driver)
        finally:
            driver.quit()

    def test_a_lost_service_clears_a_valid_while_the_phones_network_is_up(self):
        driver = browser((360, 740), admin=False)
        try:
            self.pair(driver)
            self.wedge(driver, self.ticket["qrData"])
            self.status(driver, "Valid")
            driver.execute_cdp_cmd("Network.enable", {})
            driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["*/healthz", "*/api/*"]})
            self.assertTrue(driver.execute_script("return navigator.onLine"))
            started = time.monotonic()
            shown = self.status(driver, "was not checked in", timeout=8)
            figures = time.monotonic() - started
            self.assertLess(figures, 6, f"the stale Valid stayed {figures:.1f} s")
            self.assertFalse(driver.find_element(By.ID, "confirm").is_displayed())
            self.assertIn("#1", shown)
            driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": []})
        finally:
            driver.quit()

    def test_wedge_bursts_are_judged_code_by_code(self):
        driver = browser((360, 740), admin=False)
        try:
            self.pair(driver)
            self.slow(driver, 300)
            # A, then B a tenth of a second later: both looked up, B shown, A named as not checked in.
            self.wedge(driver, self.others[0]["qrData"])
            time.sleep(0.1)
            self.wedge(driver, self.others[1]["qrData"])
            shown = self.status(driver, "#3", timeout=15)
            self.assertIn("Valid", shown)
            self.assertIn("#2 was not checked in", shown)
            # A⏎B⏎ in one burst: each a whole code, neither merged nor "Not a ticket".
            driver.find_element(By.ID, "next").click()
            driver.switch_to.active_element.send_keys(self.ticket["qrData"] + Keys.ENTER + self.others[2]["qrData"] + Keys.ENTER)
            shown = self.status(driver, "#4", timeout=15)
            self.assertNotIn("Not a ticket", shown)
            self.assertIn("#1", shown, "the first of the burst was looked up and is named")
            log = self.service.api("GET", f"/api/events/{self.event}/checkins", expect=200)["checkins"]
            self.assertEqual(sorted(c["ticketNumber"] for c in log if c["mode"] == "validate")[-4:], [1, 2, 3, 4])
            self.assertFalse(any(c["result"] == "invalid" for c in log), "no code was cut")
            self.normal(driver)
        finally:
            driver.quit()

    def test_undo_takes_a_check_in_back_and_never_claims_it_when_the_answer_is_lost(self):
        driver = browser((360, 740), admin=False)
        try:
            self.pair(driver)
            self.wedge(driver, self.ticket["qrData"])
            self.status(driver, "Valid")
            driver.find_element(By.ID, "confirm").click()
            self.status(driver, "Checked in")
            self.assertEqual(self.service.api("GET", f"/api/tickets/{self.ticket['id']}", expect=200)["status"], "used")
            # The guest did not go through after all: Undo, and the ticket may be scanned again.
            undo = wait(driver, EC.visibility_of_element_located((By.ID, "undo")))
            undo.click()
            shown = self.status(driver, "Taken back")
            self.assertIn("can be scanned again", shown)
            self.assertFalse(driver.find_element(By.ID, "undo").is_displayed())
            self.assertEqual(self.service.api("GET", f"/api/tickets/{self.ticket['id']}", expect=200)["status"], "unused")
            log = self.service.api("GET", f"/api/events/{self.event}/checkins", expect=200)["checkins"]
            self.assertEqual(len([c for c in log if c["result"] == "annulled"]), 1)
            self.shoot(driver, "scanner-undone-360")
            self.wedge(driver, self.ticket["qrData"])
            self.status(driver, "Valid")
            driver.find_element(By.ID, "confirm").click()
            self.status(driver, "Checked in")

            # An Undo whose answer never comes is not called done, nor not done.
            undo = driver.find_element(By.ID, "undo")
            driver.set_network_conditions(offline=True, latency=0, download_throughput=0, upload_throughput=0)
            # Pressed as the connection drops (the page may already have noticed and hidden it).
            driver.execute_script("arguments[0].click()", undo)
            unknown = self.status(driver, "Not known whether the check-in of #1", timeout=30)
            self.assertNotIn("Taken back", unknown)
            self.assertEqual(self.service.api("GET", f"/api/tickets/{self.ticket['id']}", expect=200)["status"], "used")
            driver.set_network_conditions(offline=False, latency=0, download_throughput=-1, upload_throughput=-1)
            self.wedge(driver, self.ticket["qrData"])
            self.status(driver, "Already used at door-1")
        finally:
            driver.quit()

    def test_an_exit_phone_counts_people_out_and_never_says_checked_in(self):
        driver = browser((360, 740), admin=False)
        try:
            self.pair(driver)
            self.wedge(driver, self.ticket["qrData"])
            self.status(driver, "Valid")
            driver.find_element(By.ID, "confirm").click()
            self.status(driver, "Checked in")
            self.assertEqual(self.service.api("GET", f"/api/events/{self.event}/presence", expect=200)["inside"], 1)

            # Switched to Exit: the same ticket is let out, and only Confirm counts it out.
            driver.find_element(By.CSS_SELECTOR, "input[name=direction][value=exit]").click()
            self.wedge(driver, self.ticket["qrData"])
            shown = self.status(driver, "May leave")
            self.assertNotIn("checked in", shown.lower())
            self.assertIn("Confirm exit", driver.find_element(By.ID, "confirm").text)
            self.assertEqual(self.service.api("GET", f"/api/events/{self.event}/presence", expect=200)["inside"], 1, "validate only")
            driver.find_element(By.ID, "confirm").click()
            self.status(driver, "Counted out")
            self.assertEqual(self.service.api("GET", f"/api/events/{self.event}/presence", expect=200)["inside"], 0)
            log = self.service.api("GET", f"/api/events/{self.event}/checkins", expect=200)["checkins"]
            self.assertEqual(len([c for c in log if c["mode"] == "commit" and c["result"] == "exit"]), 1)
            self.shoot(driver, "scanner-exit-360")

            # The choice is the phone's: a reload keeps it, and a Valid asked as an entry is
            # cleared when the phone switches, never confirmed the other way.
            driver.refresh()
            wait(driver, EC.visibility_of_element_located((By.ID, "code")))
            self.assertTrue(driver.find_element(By.CSS_SELECTOR, "input[name=direction][value=exit]").is_selected())
            driver.find_element(By.CSS_SELECTOR, "input[name=direction][value=entry]").click()
            self.wedge(driver, self.others[0]["qrData"])
            self.status(driver, "Valid")
            driver.find_element(By.CSS_SELECTOR, "input[name=direction][value=exit]").click()
            self.status(driver, "scan the ticket again")
            self.assertFalse(driver.find_element(By.ID, "confirm").is_displayed())
            self.assertEqual(self.service.api("GET", f"/api/tickets/{self.others[0]['id']}", expect=200)["status"], "unused")
        finally:
            driver.quit()

    def check_in(self, driver, ticket):
        self.wedge(driver, ticket["qrData"])
        self.status(driver, "Valid")
        driver.find_element(By.ID, "confirm").click()
        self.status(driver, "Checked in")

    def ticket_state(self, ticket):
        """The ticket's status and how many of its check-ins were taken back, from the service."""
        status = self.service.api("GET", f"/api/tickets/{ticket['id']}", expect=200)["status"]
        log = self.service.api("GET", f"/api/events/{self.event}/checkins", expect=200)["checkins"]
        return status, len([c for c in log if c["result"] == "annulled" and c.get("ticketNumber") == ticket["number"]])

    def test_undo_through_slow_and_flapping_connections_says_only_what_the_service_did(self):
        driver = browser((360, 740), admin=False)
        try:
            self.pair(driver)
            # 7 s each way: the first ask's deadline passes and its answer is lost; asked again
            # with the same scanId, the service answers as it did the first time.
            self.check_in(driver, self.ticket)
            self.slow(driver, 7000)
            seen = self.confirm_and_watch(driver, "Taken back", 45, button="undo")
            self.normal(driver)
            self.assertTrue(any("Taking back" in s for s in seen), f"'taking back' meanwhile: {seen}")
            self.assertFalse(any("Not known" in s for s in seen), f"{seen}")
            self.assertEqual(self.ticket_state(self.ticket), ("unused", 1))

            def says_taken_back(shown):
                return "Taken back" in shown or "any more" in shown

            # The phone's network up and down from just after the press; then the undo calls
            # failing and passing in short windows.
            for ticket, cut, up, down, latency_ms, cycles in ((self.others[0], "network", 1.0, 0.6, 700, 8),
                                                              (self.others[1], "calls", 0.3, 0.9, 0, 10)):
                self.check_in(driver, ticket)
                seen = self.flap(driver, "undo", up, down, latency_ms, cycles, cut, ("Taken back", "any more", "Not known whether the check-in"))
                print(f"\n  flapping Undo of #{ticket['number']} ({cut}), the status said: {seen}", file=sys.stderr)
                status, annulled = self.ticket_state(ticket)
                self.assertLessEqual(annulled, 1, "taken back once at most")
                self.assert_told_once(seen, says_taken_back)
                if says_taken_back(seen[-1]):
                    self.assertEqual((status, annulled), ("unused", 1), f"'{seen[-1]}' shown")
                else:
                    self.assertIn(f"Not known whether the check-in of #{ticket['number']}", seen[-1], f"one of the two truthful endings: {seen}")
                    # Undo again, connected now: the same scanId, taken back once whatever the first did.
                    wait(driver, EC.visibility_of_element_located((By.ID, "undo"))).click()
                    self.status(driver, "Taken back")
                    self.assertEqual(self.ticket_state(ticket), ("unused", 1))

            # Every undo call failing: said not known, and the Undo stays to be pressed again.
            self.check_in(driver, self.others[2])
            driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["*/annul"]})
            driver.find_element(By.ID, "undo").click()
            unknown = self.status(driver, "Not known whether the check-in of #4", timeout=30)
            self.assertIn("press Undo again", unknown)
            self.assertEqual(self.ticket_state(self.others[2]), ("used", 0))
            driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": []})
            wait(driver, EC.visibility_of_element_located((By.ID, "undo"))).click()
            self.status(driver, "Taken back")
            self.assertEqual(self.ticket_state(self.others[2]), ("unused", 1))
        finally:
            self.normal(driver)
            driver.quit()

    def test_an_exit_through_flapping_connections_is_counted_out_once(self):
        driver = browser((360, 740), admin=False)
        try:
            self.pair(driver)

            def inside():
                return self.service.api("GET", f"/api/events/{self.event}/presence", expect=200)["inside"]

            def says_counted_out(shown):
                return ("Counted out" in shown or "was counted out" in shown) and "Not known" not in shown

            for ticket, cut, up, down, latency_ms, cycles in ((self.ticket, "network", 1.0, 0.6, 700, 8),
                                                              (self.others[0], "calls", 0.3, 0.9, 0, 10)):
                driver.find_element(By.CSS_SELECTOR, "input[name=direction][value=entry]").click()
                self.check_in(driver, ticket)
                self.assertEqual(inside(), 1)
                driver.find_element(By.CSS_SELECTOR, "input[name=direction][value=exit]").click()
                self.wedge(driver, ticket["qrData"])
                self.status(driver, "May leave")
                seen = self.flap(driver, "confirm", up, down, latency_ms, cycles, cut, ("Counted out", "was counted out", "Not known whether"))
                print(f"\n  flapping exit of #{ticket['number']} ({cut}), the status said: {seen}", file=sys.stderr)
                self.assertFalse(any("checked in" in s.lower() for s in seen), f"an exit is never a check-in: {seen}")
                self.assertFalse(any("not counted out" in s.lower() for s in seen), f"the exit was sent: {seen}")
                self.assert_told_once(seen, says_counted_out)
                if says_counted_out(seen[-1]):
                    self.assertEqual(inside(), 0, f"'{seen[-1]}' shown")
                else:
                    self.assertIn(f"Not known whether #{ticket['number']} was counted out", seen[-1], f"{seen}")
                    self.assertIn("confirm the exit", seen[-1])
                    # What the screen asks for: scan again and confirm; counted out once, never below zero.
                    self.wedge(driver, ticket["qrData"])
                    self.status(driver, "May leave")
                    driver.find_element(By.ID, "confirm").click()
                    self.status(driver, "Counted out")
                    self.assertEqual(inside(), 0)
                done = driver.find_element(By.ID, "next")
                if done.is_displayed():
                    done.click()

            # Every exit call failing: not known, and what the screen asks for (scan again,
            # confirm) counts the person out once.
            driver.find_element(By.CSS_SELECTOR, "input[name=direction][value=entry]").click()
            self.check_in(driver, self.others[1])
            driver.find_element(By.CSS_SELECTOR, "input[name=direction][value=exit]").click()
            self.wedge(driver, self.others[1]["qrData"])
            self.status(driver, "May leave")
            driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["*/api/checkin"]})
            driver.find_element(By.ID, "confirm").click()
            unknown = self.status(driver, "Not known whether #3 was counted out", timeout=30)
            self.assertIn("confirm the exit", unknown)
            self.assertEqual(inside(), 1)
            driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": []})
            self.wedge(driver, self.others[1]["qrData"])
            self.status(driver, "May leave")
            driver.find_element(By.ID, "confirm").click()
            self.status(driver, "Counted out")
            self.assertEqual(inside(), 0)
        finally:
            self.normal(driver)
            driver.quit()

    def test_a_ticket_that_needs_a_look_says_so_before_and_after_confirm(self):
        self.service.api("POST", f"/api/events/{self.event}/lists", {"name": "Door", "gates": ["door-1"], "attention": ["VIP"]}, expect=201)
        driver = browser((360, 740), admin=False)
        try:
            self.pair(driver)
            self.wedge(driver, self.ticket["qrData"])
            shown = self.status(driver, "Valid")
            self.assertIn("Look first: VIP ticket", shown)
            driver.find_element(By.ID, "confirm").click()
            self.assertIn("Look first", self.status(driver, "Checked in"))
            self.shoot(driver, "scanner-attention-360")
            # A ticket of another type shows no such line.
            driver.find_element(By.ID, "next").click()
            self.wedge(driver, self.others[0]["qrData"])
            self.assertNotIn("Look first", self.status(driver, "Valid"))
        finally:
            driver.quit()

    def test_valid_and_checked_in_look_nothing_alike_and_a_long_name_keeps_confirm_in_view(self):
        long_name = "Maximiliane Theodora Konstanze von und zu Mustermann-Schmidt-Wittgenstein der Jüngere"
        ticket = self.service.api("POST", f"/api/events/{self.event}/tickets", {"quantity": 1, "holderName": long_name}, expect=201)["tickets"][0]
        driver = browser((360, 640), admin=False)
        try:
            self.pair(driver)
            self.wedge(driver, ticket["qrData"])
            self.status(driver, "Valid")
            valid = driver.execute_script(
                "const s = getComputedStyle(document.getElementById('status')); return [s.backgroundColor, s.borderStyle, document.getElementById('status').className]")
            confirm = driver.find_element(By.ID, "confirm")
            bottom = driver.execute_script("return arguments[0].getBoundingClientRect().bottom", confirm)
            self.assertLessEqual(bottom, 640, "Confirm stays on a phone's screen with an 85-character name")
            self.shoot(driver, "scanner-long-name-360")
            confirm.click()
            self.status(driver, "Checked in")
            done = driver.execute_script(
                "const s = getComputedStyle(document.getElementById('status')); return [s.backgroundColor, s.borderStyle, document.getElementById('status').className]")
            self.assertNotEqual(valid[0], done[0], "different colours")
            self.assertNotEqual(valid[1], done[1], "different borders")
            self.shoot(driver, "scanner-checked-in-360")
        finally:
            driver.quit()

    def test_sign_out_asks_first_and_the_token_stops_working(self):
        driver = browser((360, 740), admin=False)
        try:
            self.pair(driver)
            session = json.loads(driver.execute_script("return localStorage.getItem('gatehouse.scanner')"))
            driver.find_element(By.ID, "signout").click()
            wait(driver, EC.visibility_of_element_located((By.ID, "signout-confirm")))
            self.assertTrue(driver.find_element(By.ID, "code").is_displayed(), "one tap signs nothing out")
            driver.find_element(By.ID, "signout-yes").click()
            wait(driver, EC.visibility_of_element_located((By.ID, "pair-code")))
            answer = self.service.api("GET", "/api/scanner/session", token=session["token"])
            self.assertTrue(answer.get("detail", "").startswith("unknown or revoked"), f"the dropped token no longer works: {answer}")
        finally:
            driver.quit()

    def test_the_service_worker_registers_and_a_pairing_link_opens_in_an_open_tab(self):
        driver = browser((360, 740), admin=False)
        try:
            driver.get(self.service.base + "/scanner")
            wait(driver, EC.visibility_of_element_located((By.ID, "pair-code")))
            scope = driver.execute_async_script(
                "const done = arguments[0]; navigator.serviceWorker.ready.then((r) => done(r.scope)).catch((e) => done('error ' + e));")
            self.assertEqual(scope, self.service.base + "/scanner")
            code = self.service.api("POST", "/api/pairings", {"eventId": self.event, "gateId": "door-9"}, expect=201)["code"]
            driver.execute_script("location.hash = 'pair=' + arguments[0]", code)
            wait(driver, EC.text_to_be_present_in_element((By.ID, "whoami"), "door-9"))
        finally:
            driver.quit()

    def test_printed_cards_hold_their_whole_content(self):
        event = self.service.api("POST", "/api/events", {"name": "Twenty-eight characters long", "startsAt": "2026-12-31T20:00:00Z", "signedCodes": True}, expect=201)["id"]
        driver = browser(SIZES["laptop"])
        try:
            driver.get(f"{self.service.base}/admin/events/{event}")
            count = driver.find_element(By.NAME, "count")
            count.clear()
            count.send_keys("14")
            driver.find_element(By.NAME, "holderName").send_keys("Maximiliane Theodora Konstanze von und zu Mustermann-Schmidt")
            driver.find_element(By.CSS_SELECTOR, "form[action$='/tickets'] button").click()
            wait(driver, EC.presence_of_element_located((By.ID, "print-sheet")))
            driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
            spill = driver.execute_script("""
                const out = [];
                for (const card of document.querySelectorAll('.ticket-card')) {
                  const box = card.getBoundingClientRect();
                  for (const part of card.querySelectorAll('*')) {
                    const r = part.getBoundingClientRect();
                    if (r.width === 0 && r.height === 0) continue;
                    if (r.left < box.left - 0.5 || r.right > box.right + 0.5 || r.top < box.top - 0.5 || r.bottom > box.bottom + 0.5)
                      out.push(part.className + ' of a card: ' + JSON.stringify([r.top, r.bottom, box.top, box.bottom]));
                  }
                  const code = card.querySelector('.code');
                  if (code.scrollHeight > code.clientHeight + 1 || code.scrollWidth > code.clientWidth + 1) out.push('the code text is cut');
                }
                return out;""")
            self.assertEqual(spill, [], "every part of every card inside it, in print")
            driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})
        finally:
            driver.quit()


def write_y4m(path, payload, width=640, height=480, frames=20):
    """A short YUV4MPEG2 video of a ticket's QR code, as Chromium's fake camera plays it (looped)."""
    qr = segno.make(payload, error="m", micro=False)
    matrix = [list(row) for row in qr.matrix]
    scale = min(width, height) * 3 // 4 // (len(matrix) + 8)
    luma = bytearray([215]) * (width * height)
    left = (width - len(matrix) * scale) // 2
    top = (height - len(matrix) * scale) // 2
    for y, row in enumerate(matrix):
        for x, dark in enumerate(row):
            if dark:
                for dy in range(scale):
                    start = (top + y * scale + dy) * width + left + x * scale
                    luma[start:start + scale] = bytes([25]) * scale
    chroma = bytes([128]) * (width * height // 4)
    with open(path, "wb") as handle:
        handle.write(f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            handle.write(b"FRAME\n" + bytes(luma) + chroma + chroma)


def zbar(path):
    """The codes zbar's own reader finds in an image file."""
    run = subprocess.run(["zbarimg", "--quiet", "--raw", "-Sdisable", "-Sqrcode.enable", path], capture_output=True, text=True)
    return [line for line in run.stdout.splitlines() if line]


class RegistrationFlow(unittest.TestCase):
    """A person registers on a phone, with no help: the mail a real SMTP server (Debian's
    aiosmtpd) receives carries the code as an inline PNG and a PDF, and its link opens the
    holder's page showing the same code, which a gate then admits once."""

    @classmethod
    def setUpClass(cls):
        cls.smtp_port = free_port()
        # aiosmtpd makes the maildir (and its tmp/, new/, cur/) only where nothing is yet.
        cls.maildir = os.path.join(tempfile.mkdtemp(prefix="gatehouse-mail-"), "maildir")
        cls.smtp = subprocess.Popen(
            ["/usr/bin/python3", "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{cls.smtp_port}", "-c", "aiosmtpd.handlers.Mailbox", cls.maildir],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        cls.service = Gatehouse(extra=(
            "--smtp-url", f"smtp://127.0.0.1:{cls.smtp_port}?tls=none", "--mail-from", "Harbour Lights <tickets@example.org>",
            "--public-url", "http://127.0.0.1:{port}",
        ))
        os.makedirs(ARTIFACTS, exist_ok=True)

    @classmethod
    def tearDownClass(cls):
        cls.service.stop()
        cls.smtp.kill()
        cls.smtp.wait()
        shutil.rmtree(os.path.dirname(cls.maildir), ignore_errors=True)

    def shoot(self, driver, name):
        width, inner = driver.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
        driver.save_screenshot(os.path.join(ARTIFACTS, f"{name}.png"))
        self.assertLessEqual(width, inner, f"{name}: the page is {width} px wide in a {inner} px window")

    def received(self, timeout=20):
        import email
        import email.policy
        folder = os.path.join(self.maildir, "new")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            names = os.listdir(folder) if os.path.isdir(folder) else []
            if names:
                with open(os.path.join(folder, names[0]), "rb") as handle:
                    return email.message_from_binary_file(handle, policy=email.policy.default)
            time.sleep(0.2)
        with open(os.path.join(self.service.folder, "service.log")) as log:
            self.fail("no mail arrived; the service's log:\n" + log.read()[-3000:])

    def test_a_person_registers_on_a_phone_and_gets_a_ticket_that_works(self):
        event = self.service.api("POST", "/api/events", {
            "name": "Harbour Lights", "startsAt": "2027-06-12T17:00:00Z", "place": "Pier 4, Hamburg",
            "registration": {"open": True, "capacity": 120},
        }, expect=201)["id"]
        driver = browser(SIZES["phone"], admin=False)
        try:
            driver.get(self.service.base + f"/register/{event}")
            wait(driver, EC.presence_of_element_located((By.NAME, "name")))
            self.assertIn("Pier 4, Hamburg", driver.page_source)
            self.assertIn("Saturday 12 June 2027, 19:00", driver.page_source)
            self.shoot(driver, "register-phone")
            # The bot trap is off screen: a person never sees it.
            trap = driver.find_element(By.NAME, "website")
            self.assertFalse(trap.is_displayed() and trap.rect["x"] >= 0)
            driver.find_element(By.NAME, "name").send_keys("Zoë Ødegård")
            driver.find_element(By.NAME, "email").send_keys("zoe@example.org")
            driver.find_element(By.CSS_SELECTOR, "form button").click()
            wait(driver, EC.url_contains("/sent"))
            self.assertIn("on its way", driver.page_source)
            self.shoot(driver, "registered-phone")
            # Reload sends nothing again (post/redirect/get).
            driver.refresh()
            message = self.received()
            self.assertEqual(message["To"], "zoe@example.org")
            folder = tempfile.mkdtemp()
            text, html, png, pdf = "", "", None, None
            for part in message.walk():
                kind = part.get_content_type()
                if kind == "text/plain":
                    text = part.get_content()
                elif kind == "text/html":
                    html = part.get_content()
                elif kind == "image/png":
                    png = part.get_content()
                elif kind == "application/pdf":
                    pdf = part.get_content()
            with open(os.path.join(folder, "qr.png"), "wb") as handle:
                handle.write(png)
            with open(os.path.join(folder, "ticket.pdf"), "wb") as handle:
                handle.write(pdf)
            codes = zbar(os.path.join(folder, "qr.png"))
            self.assertEqual(len(codes), 1)
            code = codes[0]
            subprocess.run(["pdftoppm", "-r", "150", "-png", "-singlefile", os.path.join(folder, "ticket.pdf"), os.path.join(folder, "page")], check=True)
            self.assertEqual(zbar(os.path.join(folder, "page.png")), [code])
            # The mail as a phone's mail app shows it, the inline image in place.
            with open(os.path.join(folder, "mail.html"), "w") as handle:
                handle.write(html.replace("cid:qr", "data:image/png;base64," + base64.b64encode(png).decode()))
            driver.get("file://" + os.path.join(folder, "mail.html"))
            self.shoot(driver, "ticket-mail-phone")
            # The link in the mail: the holder's page, whose code a phone held up to a gate shows.
            link = next(line.strip() for line in text.splitlines() if "/t/" in line)
            driver.get(link)
            wait(driver, EC.presence_of_element_located((By.CSS_SELECTOR, ".qr img")))
            self.assertEqual(driver.find_elements(By.TAG_NAME, "script"), [])
            self.shoot(driver, "my-ticket-phone")
            self.assertEqual(zbar(os.path.join(ARTIFACTS, "my-ticket-phone.png")), [code])
            device = self.service.api("POST", "/api/devices", {"name": "Pier gate", "gateId": "pier-1", "eventId": event}, expect=201)
            first = self.service.api("POST", "/api/checkin", {"qrData": code, "deviceId": device["deviceId"], "gateId": "pier-1", "scanId": "a"}, token=device["token"])
            second = self.service.api("POST", "/api/checkin", {"qrData": code, "deviceId": device["deviceId"], "gateId": "pier-1", "scanId": "b"}, token=device["token"])
            self.assertEqual((first["result"], second["result"]), ("valid", "already_used"))
            self.assertEqual(self.service.api("GET", f"/api/events/{event}", expect=200)["registration"]["registered"], 1)
            time.sleep(1)
            self.assertEqual(len(os.listdir(os.path.join(self.maildir, "new"))), 1, "one registration, one mail")
        finally:
            driver.quit()


class PagesAtTwoSizes(BrowserTestCase):
    def test_every_page_fits_a_phone_and_a_laptop(self):
        event = self.service.api("POST", "/api/events", {"name": "A rather long event name for a small screen: Winter Gala & Ball 2026"}, expect=201)["id"]
        tickets = self.service.api("POST", f"/api/events/{event}/tickets", {"quantity": 3, "holderName": "Maximiliane Mustermann-Schmidt"}, expect=201)["tickets"]
        device = self.service.api("POST", "/api/devices", {"name": "North kiosk", "gateId": "north-1", "eventId": event}, expect=201)
        self.service.api("POST", "/api/checkin", {"qrData": tickets[0]["qrData"], "deviceId": device["deviceId"], "gateId": "north-1"}, token=device["token"])
        self.service.api("POST", f"/api/devices/{device['deviceId']}/heartbeat", {
            "deviceId": device["deviceId"], "gateId": "north-1", "version": "2026.12.1", "camera": "offline",
            "cameraDetail": "/dev/gate-camera: no such device (unplugged, or the udev rule did not match)", "online": True,
            "snapshotTickets": 3, "snapshotAgeSeconds": 1, "backlog": 0, "diskFreeBytes": 7_500_000_000, "cpuTemperatureCelsius": 48.5,
            "events": [{"at": "2026-12-04T20:14:03.000Z", "kind": "camera_offline", "detail": "/dev/gate-camera: no such device"}]},
            token=device["token"], expect=204)
        vip = self.service.api("POST", f"/api/events/{event}/lists", {"name": "VIP door", "gates": ["vip-1", "vip-2"], "ticketTypes": ["VIP"],
                                                                       "entry": "reentry", "capacity": 200}, expect=201)["id"]
        pages = {
            "events": "/admin", "event": f"/admin/events/{event}", "edit": f"/admin/events/{event}/edit", "tickets": f"/admin/events/{event}/tickets",
            "ticket": f"/admin/tickets/{tickets[0]['id']}", "checkins": f"/admin/events/{event}/checkins", "devices": f"/admin/events/{event}/devices",
            "scanner": "/scanner", "revoke-ticket": f"/admin/tickets/{tickets[1]['id']}/revoke",
            "reissue-ticket": f"/admin/tickets/{tickets[1]['id']}/reissue",
            "revoke-device": f"/admin/devices/{device['deviceId']}/revoke?event={event}", "not-found": f"/admin/events/{event}/nothing",
            "registration": f"/admin/events/{event}/registration", "send-ticket": f"/admin/tickets/{tickets[2]['id']}/send",
            "lists": f"/admin/events/{event}/lists", "list-edit": f"/admin/lists/{vip}/edit", "register-closed": f"/register/{event}", "register-unknown": "/register/ENOSUCH1",
            "gates": f"/admin/events/{event}/gates", "gate-device": f"/admin/devices/{device['deviceId']}",
        }
        folder = tempfile.mkdtemp()
        bad, good = os.path.join(folder, "bad.csv"), os.path.join(folder, "good.csv")
        with open(bad, "w") as handle:
            handle.write("Holder name,E-mail\nAda,ada@example.org\nBob,not-an-address\nCy,cy@\n")
        with open(good, "w") as handle:
            handle.write("Holder name\n" + "\n".join(f"Guest {n}" for n in range(1, 6)) + "\n")
        for size_name, size in SIZES.items():
            driver = browser(size)
            try:
                for name, path in pages.items():
                    driver.get(self.service.base + path)
                    wait(driver, EC.presence_of_element_located((By.TAG_NAME, "h1")))
                    time.sleep(0.2)
                    self.shoot(driver, f"{name}-{size_name}")
                # Pages that answer forms: a pairing code, a refused import, an import's progress page.
                driver.get(self.service.base + f"/admin/events/{event}/devices")
                driver.find_element(By.NAME, "gateId").send_keys("south-2")
                self.submit(driver, "form[action$='/pairings']")
                wait(driver, EC.presence_of_element_located((By.ID, "pairing-code")))
                self.shoot(driver, f"pairing-{size_name}")
                for name, path in (("import-refused", bad), ("import-done", good)):
                    driver.get(self.service.base + f"/admin/events/{event}")
                    driver.find_element(By.NAME, "holders").send_keys(path)
                    self.submit(driver, "form[action$='/import']")
                    wait(driver, EC.title_contains("Import"))
                    if name == "import-done":
                        wait(driver, EC.presence_of_element_located((By.LINK_TEXT, "Print the codes")), 30)
                    self.shoot(driver, f"{name}-{size_name}")
                # The sheet (issued through the page) and the live log picking up a new check-in.
                driver.get(self.service.base + f"/admin/events/{event}")
                count = driver.find_element(By.NAME, "count")
                count.clear()
                count.send_keys("4")
                driver.find_element(By.CSS_SELECTOR, "form[action$='/tickets'] button").click()
                wait(driver, EC.presence_of_element_located((By.ID, "print-sheet")))
                self.shoot(driver, f"sheet-{size_name}")
                driver.get(self.service.base + f"/admin/events/{event}/checkins")
                before = len(driver.find_elements(By.CSS_SELECTOR, "#log tbody tr"))
                fresh = self.service.api("POST", f"/api/events/{event}/tickets", {"quantity": 1}, expect=201)["tickets"][0]
                self.service.api("POST", "/api/checkin", {"qrData": fresh["qrData"], "deviceId": device["deviceId"], "gateId": "north-1"}, token=device["token"])
                wait(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#log tbody tr")) == before + 1, 10)
            finally:
                driver.quit()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    result = unittest.main(verbosity=2, exit=False).result
    sys.exit(0 if result.wasSuccessful() else 1)
